
/*
 * Copyright (C) 2026, the upbot authors
 *
 * libFuzzer target for the request parser (src/ngx_http_upbot_parse.c on
 * src/ngx_http_upbot_json.c), built with ASan and UBSan by fuzz/run.sh.
 * The first byte of an input picks the API and the limits, the rest is
 * the body, copied to a buffer of its exact size so that a read past the
 * end is caught.  Besides not crashing, the parser must keep its word:
 *
 *   - what it accepts, yajl (the module's other JSON reader) accepts too;
 *     what it calls not JSON, yajl refuses too, but for what yajl lets
 *     through against RFC 8259: some invalid UTF-8, lone UTF-16
 *     surrogates, and \v and \f as white space;
 *   - an accepted body has every required field, each value in its range,
 *     codes trimmed and within their length, 1 to max_items items;
 *   - every string is valid UTF-8 (checked by a decoder of our own), and
 *     lies in the body when it had no escapes, and is then its own JSON
 *     form, else in a pool block; escape() writes what escaped_len() says;
 *   - a refused body has a reason.
 */


#define _GNU_SOURCE                       /* memmem() */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "ngx_stubs.h"
#include "ngx_http_upbot_json.h"
#include "ngx_http_upbot_parse.h"


typedef struct {
    const u_char                   *start;
    const u_char                   *last;
    const ngx_http_upbot_limits_t  *limits;
} fuzz_body_t;


static void
fuzz_fail(const char *why)
{
    fprintf(stderr, "parse_fuzz: %s\n", why);
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
fuzz_check_string(fuzz_body_t *b, void *obj, ngx_uint_t bit, ngx_str_t *s)
{
    u_char  *out, *end;
    size_t   elen;

    if (!NGX_HTTP_UPBOT_PRESENT(obj, bit)) {
        return;
    }

    if (NGX_HTTP_UPBOT_DECODED(obj, bit)) {
        if (!fuzz_in_pool(s->data, s->len)) {
            fuzz_fail("a decoded string outside the pool");
        }

    } else if (s->data < b->start || s->data + s->len > b->last) {
        fuzz_fail("a string without escapes outside the body");
    }

    if (s->len > b->limits->max_string_length) {
        fuzz_fail("a string longer than allowed");
    }

    if (!fuzz_utf8_ok(s->data, s->len)) {
        fuzz_fail("a string that is not UTF-8");
    }

    elen = ngx_http_upbot_json_escaped_len(s->data, s->len);

    out = malloc(elen + 1);
    end = ngx_http_upbot_json_escape(out, s->data, s->len);

    if ((size_t) (end - out) != elen) {
        fuzz_fail("escape() and escaped_len() disagree");
    }

    if (!NGX_HTTP_UPBOT_DECODED(obj, bit)
        && (elen != s->len || memcmp(out, s->data, elen) != 0))
    {
        fuzz_fail("a string without escapes that is not its own JSON form");
    }

    free(out);
}


static void
fuzz_check_code(fuzz_body_t *b, void *obj, ngx_uint_t bit, ngx_str_t *s)
{
    if (!NGX_HTTP_UPBOT_PRESENT(obj, bit)) {
        return;
    }

    fuzz_check_string(b, obj, bit, s);

    if (s->len == 0 || s->len > b->limits->max_code_length
        || strchr(" \t\n\v\f\r", s->data[0])
        || strchr(" \t\n\v\f\r", s->data[s->len - 1]))
    {
        fuzz_fail("a code empty, too long or not trimmed");
    }
}


static void
fuzz_check_int(void *obj, ngx_uint_t bit, int64_t n, int64_t min, int64_t max)
{
    if (NGX_HTTP_UPBOT_PRESENT(obj, bit) && (n < min || n > max)) {
        fuzz_fail("an integer out of its range");
    }
}


static void
fuzz_check_account(fuzz_body_t *b, ngx_http_upbot_account_t *a)
{
    if (a->present != 7) {
        fuzz_fail("an account without all its fields");
    }

    fuzz_check_int(a, NGX_HTTP_UPBOT_ACCOUNT_TYPE, a->account_type, 1, 3);
    fuzz_check_string(b, a, NGX_HTTP_UPBOT_ACCOUNT_APPID, &a->appid);
    fuzz_check_string(b, a, NGX_HTTP_UPBOT_ACCOUNT_OPENID, &a->openid);

    if (a->appid.len == 0 || a->openid.len == 0) {
        fuzz_fail("an empty appid or openid");
    }
}


static void
fuzz_check_media_info(fuzz_body_t *b, ngx_http_upbot_media_info_req_t *req)
{
    if (req->present != 0xf) {
        fuzz_fail("a GetMediaInfo request without all its fields");
    }

    fuzz_check_account(b, &req->account_info);
    fuzz_check_int(req, 1, req->media_type, 1, 2147483647);
    fuzz_check_code(b, req, 2, &req->code);
    fuzz_check_string(b, req, 3, &req->trace_id);

    if (req->trace_id.len == 0) {
        fuzz_fail("an empty trace_id");
    }
}


static void
fuzz_check_media_event(fuzz_body_t *b, ngx_http_upbot_media_event_req_t *req)
{
    size_t                        i;
    ngx_str_t                    *id;
    ngx_http_upbot_device_t      *dev;
    ngx_http_upbot_event_item_t  *item;

    if (req->present != 3 || req->items == NULL) {
        fuzz_fail("a ReportMediaEvent request without head or items");
    }

    if (req->items->nelts == 0
        || req->items->nelts > b->limits->max_items)
    {
        fuzz_fail("a number of items out of its range");
    }

    fuzz_check_account(b, &req->head.account_info);

    dev = &req->head.device_info;
    fuzz_check_int(dev, NGX_HTTP_UPBOT_DEVICE_TYPE, dev->device_type, 1, 2);
    fuzz_check_string(b, dev, NGX_HTTP_UPBOT_DEVICE_UUID, &dev->uuid);

    for (i = 0; i < req->items->nelts; i++) {
        item = (ngx_http_upbot_event_item_t *) req->items->elts + i;
        id = &item->event_id;

        if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_EVENT_ID)) {
            if (id->len == 0) {
                fuzz_fail("an empty event_id");
            }

            fuzz_check_string(b, item, NGX_HTTP_UPBOT_ITEM_EVENT_ID, id);
        }

        fuzz_check_int(item, NGX_HTTP_UPBOT_ITEM_EVENT_TIME, item->event_time,
                       0, 9007199254740991LL);
        fuzz_check_int(item, NGX_HTTP_UPBOT_ITEM_MEDIA_TYPE, item->media_type,
                       1, 2147483647);
        fuzz_check_code(b, item, NGX_HTTP_UPBOT_ITEM_CODE, &item->code);
        fuzz_check_string(b, item, NGX_HTTP_UPBOT_ITEM_TRACE_ID,
                          &item->trace_id);
        fuzz_check_int(item, NGX_HTTP_UPBOT_ITEM_DURATION, item->duration,
                       0, 2147483647);
    }
}


/*
 * yajl's word on the same bytes: 1 JSON, 0 not.  A line feed after them:
 * yajl takes an unclosed string after the value for one that may yet end.
 */

static int
fuzz_yajl_accepts(const u_char *buf, size_t len)
{
    int           ok;
    yajl_handle   h;

    h = yajl_alloc(NULL, NULL, NULL);

    ok = yajl_parse(h, buf, len) == yajl_status_ok
         && yajl_parse(h, (u_char *) "\n", 1) == yajl_status_ok
         && yajl_complete_parse(h) == yajl_status_ok;

    yajl_free(h);

    return ok;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                    *buf;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_str_t                 *error;
    fuzz_body_t                b;
    ngx_http_upbot_parser_t   *p;
    ngx_http_upbot_limits_t    limits;
    union {
        ngx_http_upbot_media_info_req_t   info;
        ngx_http_upbot_media_event_req_t  event;
    }                          req;

    if (size == 0) {
        return 0;
    }

    /* small limits on odd selectors, the module's defaults on even ones */

    if (data[0] & 2) {
        limits.max_string_length = 24;
        limits.max_code_length = 8;
        limits.max_items = 2;
        limits.max_depth = 3;

    } else {
        limits.max_string_length = 4096;
        limits.max_code_length = 64;
        limits.max_items = 100;
        limits.max_depth = 16;
    }

    len = size - 1;
    buf = malloc(len ? len : 1);
    memcpy(buf, data + 1, len);

    b.start = buf;
    b.last = buf + len;
    b.limits = &limits;

    memset(&req, 0, sizeof(req));

    p = ngx_http_upbot_parser_create(NULL, (data[0] & 1)
                                           ? &ngx_http_upbot_media_event_shape
                                           : &ngx_http_upbot_media_info_shape,
                                     &req, &limits);
    if (p == NULL) {
        fuzz_fail("no parser");
    }

    rc = ngx_http_upbot_parser_run(p, buf, len);
    error = ngx_http_upbot_parser_error(p);

    switch (rc) {

    case NGX_OK:
        if (!fuzz_yajl_accepts(buf, len)) {
            fuzz_fail("accepted a body that yajl refuses");
        }

        if (data[0] & 1) {
            fuzz_check_media_event(&b, &req.event);

        } else {
            fuzz_check_media_info(&b, &req.info);
        }

        break;

    case NGX_DECLINED:
        if (error->len == 0) {
            fuzz_fail("refused without a reason");
        }

        if (error->len > 21
            && strncmp((char *) error->data, "invalid JSON at byte ", 21) == 0
            && memmem(error->data, error->len, "UTF", 3) == NULL
            && memchr(buf, '\v', len) == NULL && memchr(buf, '\f', len) == NULL
            && fuzz_yajl_accepts(buf, len))
        {
            fuzz_fail("called JSON that yajl accepts not JSON");
        }

        break;

    case NGX_ERROR:
        break;

    default:
        fuzz_fail("an unknown result");
    }

    fuzz_pool_free();
    free(buf);

    return 0;
}
