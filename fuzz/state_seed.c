
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The state fuzzer's seeds, made when fuzz/run.sh runs (no binary file is
 * kept in the repository): "state_seed DIR" writes into DIR a valid state
 * file of a few entries (a gone group, empty strings, UTF-8, a long
 * string), the same file cut at every entry's start and end and in its
 * header, one of no entries, and one of another format version.  Each is
 * checked by the reader before it is written: the valid ones taken, the
 * others refused.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_stubs.h"
#include "ngx_http_upbot_state.h"


#define SEED_ENTRIES  5


static u_char      seed[64 * 1024];
static size_t      seed_len;
static size_t      seed_ends[SEED_ENTRIES + 1];


static ngx_int_t
seed_any(ngx_http_upbot_state_entry_t *entry, void *data)
{
    return NGX_OK;
}


static void
seed_write(const char *dir, const char *name, u_char *buf, size_t len,
    ngx_int_t want)
{
    char                          path[4096];
    FILE                         *f;
    ngx_int_t                     rc;
    const char                   *why;
    ngx_http_upbot_state_info_t   info;

    rc = ngx_http_upbot_state_read(buf, len, seed_any, NULL, &info, &why);

    if (rc != want) {
        fprintf(stderr, "state_seed: %s: read %d, not %d\n", name, (int) rc,
                (int) want);
        exit(1);
    }

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "wb");

    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}


/* the valid file: its entries, then its header over them */

static void
seed_make(ngx_uint_t n)
{
    u_char                        *p;
    uint32_t                       crc;
    ngx_uint_t                     i;
    ngx_http_upbot_state_entry_t   e;

    static u_char  long_name[NGX_HTTP_UPBOT_STATE_STRING_MAX];

    memset(long_name, 'n', sizeof(long_name));

    p = seed + NGX_HTTP_UPBOT_STATE_HEADER;
    seed_ends[0] = p - seed;

    for (i = 0; i < n; i++) {
        memset(&e, 0, sizeof(e));

        e.fetched = 1796695200000ULL + i * 1000;
        e.members = (uint32_t) (i * 40);
        e.max_members = 200;

        switch (i) {

        case 0:
            ngx_str_set(&e.key, "tim:prod @TGS#1NVTZEAE4");
            ngx_str_set(&e.name, "\xe7\x81\xab\xe5\xbd\xb1-1");
            ngx_str_set(&e.face_url, "https://cdn.example.com/a.png");
            ngx_str_set(&e.url, "https://work.weixin.qq.com/gm/a1");
            break;

        case 1:
            ngx_str_set(&e.key, "tim:prod @TGS#gone");
            e.gone = 1;
            break;

        case 2:
            ngx_str_set(&e.key, "yunxin:cn 17889/1");
            ngx_str_set(&e.name, "a \"quoted\" name\n");
            e.members = 0xffffffff;
            break;

        case 3:
            ngx_str_set(&e.key, "k");
            e.name.data = long_name;
            e.name.len = sizeof(long_name);
            break;

        default:
            ngx_str_set(&e.key, "tim:other x");
            ngx_str_set(&e.url, "u");
            e.fetched = 0;
            break;
        }

        p = ngx_http_upbot_state_entry_write(p, &e);
        seed_ends[i + 1] = p - seed;
    }

    seed_len = p - seed;

    crc = ngx_crc32_long(seed + NGX_HTTP_UPBOT_STATE_HEADER,
                         seed_len - NGX_HTTP_UPBOT_STATE_HEADER);

    ngx_http_upbot_state_header(seed, n,
                                seed_len - NGX_HTTP_UPBOT_STATE_HEADER,
                                1796695260000ULL, crc);
}


int
main(int argc, char **argv)
{
    char        name[64];
    u_char      other[NGX_HTTP_UPBOT_STATE_HEADER];
    size_t      cut;
    ngx_uint_t  i;

    if (argc != 2) {
        fprintf(stderr, "usage: state_seed DIR\n");
        return 2;
    }

    seed_make(0);
    seed_write(argv[1], "state-empty", seed, seed_len, NGX_OK);

    memcpy(other, seed, sizeof(other));
    other[8] = 2;
    seed_write(argv[1], "state-version-2", other, sizeof(other),
               NGX_DECLINED);

    seed_make(SEED_ENTRIES);
    seed_write(argv[1], "state-valid", seed, seed_len, NGX_OK);

    /* cut in the header, and at and inside every entry */

    for (cut = 0; cut < NGX_HTTP_UPBOT_STATE_HEADER; cut += 7) {
        snprintf(name, sizeof(name), "state-cut-%zu", cut);
        seed_write(argv[1], name, seed, cut, NGX_DECLINED);
    }

    for (i = 0; i < SEED_ENTRIES; i++) {
        snprintf(name, sizeof(name), "state-cut-%zu", seed_ends[i]);
        seed_write(argv[1], name, seed, seed_ends[i], NGX_DECLINED);

        cut = seed_ends[i] + (seed_ends[i + 1] - seed_ends[i]) / 2;
        snprintf(name, sizeof(name), "state-cut-%zu", cut);
        seed_write(argv[1], name, seed, cut, NGX_DECLINED);
    }

    return 0;
}
