
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Stand-ins for the few parts of the nginx core that the request parser
 * (src/ngx_http_upbot_parse.c, src/ngx_http_upbot_json.c) uses, so that
 * the fuzz targets build without nginx's objects: the pool is malloc()
 * with every block remembered (a fuzz target checks that strings point
 * into the input or into a block), and the printf family knows the
 * formats the parser writes.  The state file's reader uses nginx's CRC-32
 * (ngx_crc32.h's inline functions on ngx_crc32_table256, which is data of
 * nginx's binary, not of its headers): the table is made here from the
 * polynomial, and checked against CRC-32's known answer.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_stubs.h"


#define FUZZ_MAX_BLOCKS  65536


uint32_t  ngx_crc32_table256[256];


/* CRC-32 (IEEE 802.3, reflected: 0xedb88320), a byte at a time */

__attribute__((constructor)) static void
fuzz_crc32_table(void)
{
    uint32_t    c;
    ngx_uint_t  i, k;

    for (i = 0; i < 256; i++) {
        c = (uint32_t) i;

        for (k = 0; k < 8; k++) {
            c = (c & 1) ? 0xedb88320 ^ (c >> 1) : c >> 1;
        }

        ngx_crc32_table256[i] = c;
    }

    if (ngx_crc32_long((u_char *) "123456789", 9) != 0xcbf43926) {
        fprintf(stderr, "ngx_stubs: CRC-32 is not CRC-32\n");
        abort();
    }
}


static void       *fuzz_blocks[FUZZ_MAX_BLOCKS];
static size_t      fuzz_sizes[FUZZ_MAX_BLOCKS];
static ngx_uint_t  fuzz_nblocks;


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    if (fuzz_nblocks == FUZZ_MAX_BLOCKS) {
        return NULL;
    }

    p = malloc(size ? size : 1);

    fuzz_blocks[fuzz_nblocks] = p;
    fuzz_sizes[fuzz_nblocks++] = size;

    return p;
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_palloc(pool, size);

    if (p) {
        memset(p, 0, size);
    }

    return p;
}


ngx_array_t *
ngx_array_create(ngx_pool_t *p, ngx_uint_t n, size_t size)
{
    ngx_array_t  *a;

    a = ngx_palloc(p, sizeof(ngx_array_t));
    if (a == NULL) {
        return NULL;
    }

    a->elts = ngx_palloc(p, n * size);
    if (a->elts == NULL) {
        return NULL;
    }

    a->nelts = 0;
    a->size = size;
    a->nalloc = n;
    a->pool = p;

    return a;
}


void *
ngx_array_push(ngx_array_t *a)
{
    void  *elts;

    if (a->nelts == a->nalloc) {
        elts = ngx_palloc(a->pool, 2 * a->nalloc * a->size);
        if (elts == NULL) {
            return NULL;
        }

        memcpy(elts, a->elts, a->nelts * a->size);
        a->elts = elts;
        a->nalloc *= 2;
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}


/* "%s", "%V", "%*s", "%uz", "%ui", "%L": what the parser writes */

u_char *
ngx_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    char        num[32];
    size_t      len;
    ngx_str_t  *v;
    const char *s;

    while (*fmt && buf < last) {

        s = NULL;
        len = 0;

        if (fmt[0] != '%') {
            *buf++ = *fmt++;
            continue;
        }

        if (fmt[1] == 's') {
            s = va_arg(args, char *);
            len = strlen(s);
            fmt += 2;

        } else if (fmt[1] == 'V') {
            v = va_arg(args, ngx_str_t *);
            s = (char *) v->data;
            len = v->len;
            fmt += 2;

        } else if (fmt[1] == '*' && fmt[2] == 's') {
            len = va_arg(args, size_t);
            s = va_arg(args, char *);
            fmt += 3;

        } else if (fmt[1] == 'u' && (fmt[2] == 'z' || fmt[2] == 'i')) {
            len = snprintf(num, sizeof(num), "%zu", va_arg(args, size_t));
            s = num;
            fmt += 3;

        } else if (fmt[1] == 'L') {
            len = snprintf(num, sizeof(num), "%lld",
                           (long long) va_arg(args, int64_t));
            s = num;
            fmt += 2;

        } else {
            fprintf(stderr, "ngx_stubs: format \"%s\" not known\n", fmt);
            abort();
        }

        len = (size_t) (last - buf) < len ? (size_t) (last - buf) : len;
        memcpy(buf, s, len);
        buf += len;
    }

    return buf;
}


u_char * ngx_cdecl
ngx_slprintf(u_char *buf, u_char *last, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, last, fmt, args);
    va_end(args);

    return p;
}


u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, (u_char *) -1, fmt, args);
    va_end(args);

    return p;
}


ngx_uint_t
fuzz_in_pool(const u_char *s, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < fuzz_nblocks; i++) {
        if (s >= (u_char *) fuzz_blocks[i]
            && s + len <= (u_char *) fuzz_blocks[i] + fuzz_sizes[i])
        {
            return 1;
        }
    }

    return 0;
}


void
fuzz_pool_free(void)
{
    ngx_uint_t  i;

    for (i = 0; i < fuzz_nblocks; i++) {
        free(fuzz_blocks[i]);
    }

    fuzz_nblocks = 0;
}
