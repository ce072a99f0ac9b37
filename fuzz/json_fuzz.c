
/*
 * Copyright (C) 2026, the upbot authors
 *
 * libFuzzer target for the JSON reader and the escaping
 * (src/ngx_http_upbot_json.c), built with ASan and UBSan by fuzz/run.sh.
 * The input is copied to a buffer of its exact size, so that a read past
 * the end is caught.  Besides not crashing, the reader must keep its
 * word: every string it hands out is inside the input or a pool block and
 * is valid UTF-8 (checked here by a byte-wise decoder of our own), numbers
 * follow JSON's grammar, objects and arrays open and close in pairs, and
 * escaping a string takes exactly the bytes escaped_len() says.
 *
 * The nginx pool and ngx_sprintf() are stood in for by the few lines
 * below: the reader needs nothing else of nginx.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_upbot_json.h"


#define FUZZ_MAX_DEPTH  16
#define FUZZ_MAX_BLOCKS 4096


/* --- stand-ins for the nginx core ---------------------------------------- */

static void       *fuzz_blocks[FUZZ_MAX_BLOCKS];
static size_t      fuzz_sizes[FUZZ_MAX_BLOCKS];
static ngx_uint_t  fuzz_nblocks;


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
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


/* only what the reader formats: "%uz" and "%s" */

u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);

    while (*fmt) {
        if (fmt[0] == '%' && fmt[1] == 'u' && fmt[2] == 'z') {
            buf += sprintf((char *) buf, "%zu", va_arg(args, size_t));
            fmt += 3;

        } else if (fmt[0] == '%' && fmt[1] == 's') {
            buf += sprintf((char *) buf, "%s", va_arg(args, char *));
            fmt += 2;

        } else {
            *buf++ = *fmt++;
        }
    }

    va_end(args);

    return buf;
}


/* --- the checks ------------------------------------------------------------ */

typedef struct {
    const u_char  *start;
    const u_char  *last;
    int            depth;
    int            stack[FUZZ_MAX_DEPTH + 2];
} fuzz_state_t;


static void
fuzz_fail(const char *why)
{
    fprintf(stderr, "json_fuzz: %s\n", why);
    abort();
}


/* a decoder written apart from the reader's, the slow obvious way */

static int
fuzz_utf8_ok(const u_char *s, size_t len)
{
    size_t    i, n, k;
    uint32_t  cp, min;

    for (i = 0; i < len; i += n) {
        if (s[i] < 0x80) {
            n = 1;
            continue;
        }

        if ((s[i] & 0xe0) == 0xc0) {
            n = 2; cp = s[i] & 0x1f; min = 0x80;

        } else if ((s[i] & 0xf0) == 0xe0) {
            n = 3; cp = s[i] & 0x0f; min = 0x800;

        } else if ((s[i] & 0xf8) == 0xf0) {
            n = 4; cp = s[i] & 0x07; min = 0x10000;

        } else {
            return 0;
        }

        if (i + n > len) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (s[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


static void
fuzz_check_place(fuzz_state_t *st, const u_char *s, size_t len)
{
    ngx_uint_t  i;

    if (s >= st->start && s + len <= st->last) {
        return;
    }

    for (i = 0; i < fuzz_nblocks; i++) {
        if (s >= (u_char *) fuzz_blocks[i]
            && s + len <= (u_char *) fuzz_blocks[i] + fuzz_sizes[i])
        {
            return;
        }
    }

    fuzz_fail("a string outside the input and the pool");
}


static void
fuzz_check_string(fuzz_state_t *st, const u_char *s, size_t len)
{
    u_char  *out, *end;
    size_t   elen;

    fuzz_check_place(st, s, len);

    if (!fuzz_utf8_ok(s, len)) {
        fuzz_fail("a string that is not UTF-8");
    }

    elen = ngx_http_upbot_json_escaped_len(s, len);

    out = malloc(elen + 1);
    end = ngx_http_upbot_json_escape(out, s, len);

    if ((size_t) (end - out) != elen) {
        fuzz_fail("escape() and escaped_len() disagree");
    }

    free(out);
}


static int
fuzz_null(void *ctx)
{
    return 1;
}


static int
fuzz_boolean(void *ctx, int value)
{
    return 1;
}


static int
fuzz_number(void *ctx, const char *s, size_t len)
{
    size_t         i;
    fuzz_state_t  *st = ctx;

    fuzz_check_place(st, (const u_char *) s, len);

    i = (s[0] == '-');

    if (i == len || s[i] < '0' || s[i] > '9'
        || (s[i] == '0' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9'))
    {
        fuzz_fail("a number JSON does not allow");
    }

    for ( /* void */ ; i < len; i++) {
        if (strchr("0123456789.eE+-", s[i]) == NULL) {
            fuzz_fail("a byte in a number");
        }
    }

    return 1;
}


static int
fuzz_string(void *ctx, const u_char *s, size_t len)
{
    fuzz_check_string(ctx, s, len);
    return 1;
}


static int
fuzz_open(fuzz_state_t *st, int kind)
{
    if (st->depth >= FUZZ_MAX_DEPTH) {
        fuzz_fail("nested deeper than allowed");
    }

    st->stack[st->depth++] = kind;
    return 1;
}


static int
fuzz_close(fuzz_state_t *st, int kind)
{
    if (st->depth == 0 || st->stack[--st->depth] != kind) {
        fuzz_fail("a close that does not match its open");
    }

    return 1;
}


static int
fuzz_start_map(void *ctx)
{
    return fuzz_open(ctx, '{');
}


static int
fuzz_map_key(void *ctx, const u_char *s, size_t len)
{
    fuzz_state_t  *st = ctx;

    if (st->depth == 0 || st->stack[st->depth - 1] != '{') {
        fuzz_fail("a key outside an object");
    }

    fuzz_check_string(ctx, s, len);
    return 1;
}


static int
fuzz_end_map(void *ctx)
{
    return fuzz_close(ctx, '{');
}


static int
fuzz_start_array(void *ctx)
{
    return fuzz_open(ctx, '[');
}


static int
fuzz_end_array(void *ctx)
{
    return fuzz_close(ctx, '[');
}


static const ngx_http_upbot_json_handler_t  fuzz_handler = {
    fuzz_null, fuzz_boolean, fuzz_number, fuzz_string, fuzz_start_map,
    fuzz_map_key, fuzz_end_map, fuzz_start_array, fuzz_end_array
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char        *buf;
    ngx_int_t      rc;
    ngx_str_t      error;
    ngx_uint_t     i;
    fuzz_state_t   st;

    buf = malloc(size ? size : 1);
    memcpy(buf, data, size);

    memset(&st, 0, sizeof(st));
    st.start = buf;
    st.last = buf + size;

    ngx_str_null(&error);

    rc = ngx_http_upbot_json_read(buf, size, &fuzz_handler, &st,
                                  FUZZ_MAX_DEPTH, NULL, &error);

    if (rc == NGX_OK && st.depth != 0) {
        fuzz_fail("read to the end with objects left open");
    }

    if (rc == NGX_DECLINED
        && (error.len == 0
            || strncmp((char *) error.data, "invalid JSON at byte ", 21)))
    {
        fuzz_fail("refused without a reason");
    }

    if (rc != NGX_OK && rc != NGX_DECLINED && rc != NGX_ERROR) {
        fuzz_fail("an unknown result");
    }

    for (i = 0; i < fuzz_nblocks; i++) {
        free(fuzz_blocks[i]);
    }

    fuzz_nblocks = 0;
    free(buf);

    return 0;
}
