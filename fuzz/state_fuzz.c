
/*
 * Copyright (C) 2026, the upbot authors
 *
 * libFuzzer target for the state file's reader (src/ngx_http_upbot_state.c),
 * built with ASan and UBSan by fuzz/run.sh.  Each input is read twice:
 *
 *   - as it is, in a buffer of its exact size, so that a read past its end
 *     is caught;
 *   - with its header's size and checksums made to match (when it starts
 *     with the magic and version 1), so that the fuzzer gets past them to
 *     the entries, which a random mutation would otherwise never reach.
 *
 * Besides not crashing, the reader must keep its word:
 *
 *   - a file it refuses has a reason, and no entry was handed over;
 *   - a file it takes hands over as many entries as its header says, each
 *     with a key, its strings inside the file and within their bounds,
 *     and written again by the writer's pieces it is the same bytes;
 *   - a handler that stops at entry k gets k entries and NGX_DONE.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_stubs.h"
#include "ngx_http_upbot_state.h"


#define FUZZ_MAX_ENTRIES  4096


typedef struct {
    const u_char                   *start;
    const u_char                   *end;
    ngx_uint_t                      n;
    ngx_uint_t                      stop;        /* 0: never */
    ngx_http_upbot_state_entry_t    e[FUZZ_MAX_ENTRIES];
} fuzz_seen_t;


static fuzz_seen_t  seen;


static void
fuzz_fail(const char *what)
{
    fprintf(stderr, "state_fuzz: %s\n", what);
    abort();
}


static void
fuzz_inside(ngx_str_t *s, ngx_uint_t max)
{
    if (s->len > max) {
        fuzz_fail("a string longer than its bound");
    }

    if (s->len && (s->data < seen.start || s->data + s->len > seen.end)) {
        fuzz_fail("a string outside the file");
    }
}


static ngx_int_t
fuzz_entry(ngx_http_upbot_state_entry_t *entry, void *data)
{
    if (entry->key.len == 0) {
        fuzz_fail("an entry without a key");
    }

    fuzz_inside(&entry->key, 65535);
    fuzz_inside(&entry->name, NGX_HTTP_UPBOT_STATE_STRING_MAX);
    fuzz_inside(&entry->face_url, NGX_HTTP_UPBOT_STATE_STRING_MAX);
    fuzz_inside(&entry->url, NGX_HTTP_UPBOT_STATE_STRING_MAX);

    if (entry->gone > 1) {
        fuzz_fail("gone is not a bit");
    }

    if (seen.n < FUZZ_MAX_ENTRIES) {
        seen.e[seen.n] = *entry;
    }

    seen.n++;

    return (seen.stop && seen.n == seen.stop) ? NGX_DONE : NGX_OK;
}


static void
fuzz_read(const u_char *buf, size_t len, ngx_uint_t stop)
{
    u_char                       *copy, *p;
    size_t                        size;
    uint32_t                      crc;
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    const char                   *why;
    ngx_http_upbot_state_info_t   info;

    seen.start = buf;
    seen.end = buf + len;
    seen.n = 0;
    seen.stop = stop;
    why = NULL;

    rc = ngx_http_upbot_state_read(buf, len, fuzz_entry, NULL, &info, &why);

    if (rc == NGX_DECLINED) {
        if (why == NULL || why[0] == '\0') {
            fuzz_fail("refused without a reason");
        }

        if (seen.n != 0) {
            fuzz_fail("refused after handing entries over");
        }

        return;
    }

    if (rc == NGX_DONE) {
        if (stop == 0 || seen.n != stop) {
            fuzz_fail("stopped when the handler did not stop it");
        }

        return;
    }

    if (rc != NGX_OK) {
        fuzz_fail("an answer neither OK, DONE nor DECLINED");
    }

    if (seen.n != info.entries || (stop && seen.n >= stop)) {
        fuzz_fail("not every entry handed over, or past a stop");
    }

    if (seen.n > FUZZ_MAX_ENTRIES) {
        return;
    }

    /* the same bytes again from the writer's pieces */

    size = 0;

    for (i = 0; i < seen.n; i++) {
        size += ngx_http_upbot_state_entry_size(&seen.e[i]);
    }

    if (size != len - NGX_HTTP_UPBOT_STATE_HEADER) {
        fuzz_fail("the entries' sizes do not add up to the file's");
    }

    copy = malloc(len);
    if (copy == NULL) {
        fuzz_fail("out of memory");
    }

    p = copy + NGX_HTTP_UPBOT_STATE_HEADER;

    for (i = 0; i < seen.n; i++) {
        p = ngx_http_upbot_state_entry_write(p, &seen.e[i]);
    }

    crc = ngx_crc32_long(copy + NGX_HTTP_UPBOT_STATE_HEADER, size);

    ngx_http_upbot_state_header(copy, seen.n, size, info.written, crc);

    if (p != copy + len || memcmp(copy, buf, len) != 0) {
        fuzz_fail("written again, a file is not the same bytes");
    }

    free(copy);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *buf;
    uint64_t     payload;
    uint32_t     crc;
    ngx_uint_t   i, stop;

    /* the last byte, when odd, stops the handler at an entry */

    stop = (size && (data[size - 1] & 1)) ? data[size - 1] >> 1 : 0;

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }

    if (size) {
        memcpy(buf, data, size);
    }

    fuzz_read(buf, size, 0);
    fuzz_read(buf, size, stop);

    if (size >= NGX_HTTP_UPBOT_STATE_HEADER
        && memcmp(buf, NGX_HTTP_UPBOT_STATE_MAGIC, 8) == 0
        && buf[8] == NGX_HTTP_UPBOT_STATE_VERSION
        && buf[9] == 0 && buf[10] == 0 && buf[11] == 0)
    {
        payload = size - NGX_HTTP_UPBOT_STATE_HEADER;

        for (i = 0; i < 8; i++) {
            buf[16 + i] = (u_char) (payload >> (8 * i));
        }

        crc = ngx_crc32_long(buf + NGX_HTTP_UPBOT_STATE_HEADER, payload);

        for (i = 0; i < 4; i++) {
            buf[32 + i] = (u_char) (crc >> (8 * i));
        }

        crc = ngx_crc32_long(buf, 36);

        for (i = 0; i < 4; i++) {
            buf[36 + i] = (u_char) (crc >> (8 * i));
        }

        fuzz_read(buf, size, 0);
        fuzz_read(buf, size, stop);
    }

    free(buf);

    return 0;
}
