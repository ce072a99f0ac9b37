
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
 *
 * Built with FUZZ_SSE2_TOO (fuzz/run.sh's portable fuzzer), the parser
 * under test is the one without SSE2, and every input is also read by a
 * second copy built with SSE2, its symbols renamed with an "sse2_" prefix:
 * both must come to the same result (the same answer, reason, fields).
 */


#define _GNU_SOURCE                       /* memmem() */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "ngx_stubs.h"
#include "ngx_http_upbot_json.h"
#include "ngx_http_upbot_parse.h"


#if (FUZZ_SSE2_TOO)

#if (NGX_HTTP_UPBOT_SSE2)
#error "the portable fuzzer is built with SSE2: -U__SSE2__ did not take"
#endif

ngx_http_upbot_parser_t *sse2_ngx_http_upbot_parser_create(ngx_pool_t *pool,
    const ngx_http_upbot_shape_t *shape, void *out,
    const ngx_http_upbot_limits_t *limits);
ngx_int_t sse2_ngx_http_upbot_parser_run(ngx_http_upbot_parser_t *p,
    u_char *data, size_t len);
ngx_str_t *sse2_ngx_http_upbot_parser_error(ngx_http_upbot_parser_t *p);

extern const ngx_http_upbot_shape_t  sse2_ngx_http_upbot_media_info_shape;
extern const ngx_http_upbot_shape_t  sse2_ngx_http_upbot_media_event_shape;

#endif


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


#if (FUZZ_SSE2_TOO)

/*
 * The two builds' requests, field by field: equal numbers and bits, equal
 * strings, at the same offset when in the body.  The requests were zeroed
 * before, so a field not given is equal too.
 */

static void
fuzz_same_string(fuzz_body_t *b, ngx_str_t *s, fuzz_body_t *b2, ngx_str_t *s2)
{
    ngx_uint_t  in, in2;

    in = s->data >= b->start && s->data <= b->last;
    in2 = s2->data >= b2->start && s2->data <= b2->last;

    if (s->len != s2->len
        || (s->len && memcmp(s->data, s2->data, s->len) != 0)
        || in != in2
        || (in && s->data - b->start != s2->data - b2->start))
    {
        fuzz_fail("the SSE2 and portable builds read a string differently");
    }
}


#define fuzz_same_bits(a, a2)                                                \
    if ((a)->present != (a2)->present || (a)->decoded != (a2)->decoded) {    \
        fuzz_fail("the SSE2 and portable builds found different fields");    \
    }

#define fuzz_same_int(n, n2)                                                 \
    if ((n) != (n2)) {                                                       \
        fuzz_fail("the SSE2 and portable builds read a number differently"); \
    }


static void
fuzz_same_account(fuzz_body_t *b, ngx_http_upbot_account_t *a,
    fuzz_body_t *b2, ngx_http_upbot_account_t *a2)
{
    fuzz_same_bits(a, a2);
    fuzz_same_int(a->account_type, a2->account_type);
    fuzz_same_string(b, &a->appid, b2, &a2->appid);
    fuzz_same_string(b, &a->openid, b2, &a2->openid);
}


static void
fuzz_same_media_info(fuzz_body_t *b, ngx_http_upbot_media_info_req_t *r,
    fuzz_body_t *b2, ngx_http_upbot_media_info_req_t *r2)
{
    fuzz_same_bits(r, r2);
    fuzz_same_account(b, &r->account_info, b2, &r2->account_info);
    fuzz_same_int(r->media_type, r2->media_type);
    fuzz_same_string(b, &r->code, b2, &r2->code);
    fuzz_same_string(b, &r->trace_id, b2, &r2->trace_id);
}


static void
fuzz_same_media_event(fuzz_body_t *b, ngx_http_upbot_media_event_req_t *r,
    fuzz_body_t *b2, ngx_http_upbot_media_event_req_t *r2)
{
    size_t                        i;
    ngx_http_upbot_event_item_t  *it, *it2;

    fuzz_same_bits(r, r2);
    fuzz_same_bits(&r->head, &r2->head);
    fuzz_same_account(b, &r->head.account_info, b2, &r2->head.account_info);
    fuzz_same_bits(&r->head.device_info, &r2->head.device_info);
    fuzz_same_int(r->head.device_info.device_type,
                  r2->head.device_info.device_type);
    fuzz_same_string(b, &r->head.device_info.uuid,
                     b2, &r2->head.device_info.uuid);

    if (r->items->nelts != r2->items->nelts) {
        fuzz_fail("the SSE2 and portable builds read different items");
    }

    for (i = 0; i < r->items->nelts; i++) {
        it = (ngx_http_upbot_event_item_t *) r->items->elts + i;
        it2 = (ngx_http_upbot_event_item_t *) r2->items->elts + i;

        fuzz_same_bits(it, it2);
        fuzz_same_string(b, &it->event_id, b2, &it2->event_id);
        fuzz_same_int(it->event_time, it2->event_time);
        fuzz_same_int(it->media_type, it2->media_type);
        fuzz_same_string(b, &it->code, b2, &it2->code);
        fuzz_same_string(b, &it->trace_id, b2, &it2->trace_id);
        fuzz_same_int(it->duration, it2->duration);
    }
}


/*
 * The SSE2 build on a copy of the body, of its exact size too; the
 * portable build's result is "rc", "error" and "req".
 */

static void
fuzz_compare_sse2(const uint8_t *data, fuzz_body_t *b, ngx_int_t rc,
    ngx_str_t *error, void *req)
{
    u_char                        *buf2;
    size_t                         len;
    ngx_int_t                      rc2;
    ngx_str_t                     *error2;
    fuzz_body_t                    b2;
    ngx_http_upbot_parser_t       *p2;
    const ngx_http_upbot_shape_t  *shape;
    union {
        ngx_http_upbot_media_info_req_t   info;
        ngx_http_upbot_media_event_req_t  event;
    }                              req2;

    len = b->last - b->start;
    buf2 = malloc(len ? len : 1);
    memcpy(buf2, b->start, len);

    b2.start = buf2;
    b2.last = buf2 + len;
    b2.limits = b->limits;

    memset(&req2, 0, sizeof(req2));

    shape = (data[0] & 1) ? &sse2_ngx_http_upbot_media_event_shape
                          : &sse2_ngx_http_upbot_media_info_shape;

    p2 = sse2_ngx_http_upbot_parser_create(NULL, shape, &req2, b->limits);
    if (p2 == NULL) {
        fuzz_fail("no parser");
    }

    rc2 = sse2_ngx_http_upbot_parser_run(p2, buf2, len);
    error2 = sse2_ngx_http_upbot_parser_error(p2);

    /* NGX_ERROR is the stub pool running out, not a reading */

    if (rc == NGX_ERROR || rc2 == NGX_ERROR) {
        free(buf2);
        return;
    }

    if (rc != rc2) {
        fuzz_fail("the SSE2 and portable builds disagree on a body");
    }

    if (rc == NGX_DECLINED
        && (error->len != error2->len
            || memcmp(error->data, error2->data, error->len) != 0))
    {
        fuzz_fail("the SSE2 and portable builds refuse a body differently");
    }

    if (rc == NGX_OK) {
        if (data[0] & 1) {
            fuzz_same_media_event(b, req, &b2, &req2.event);

        } else {
            fuzz_same_media_info(b, req, &b2, &req2.info);
        }
    }

    free(buf2);
}

#endif


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

#if (FUZZ_SSE2_TOO)
    fuzz_compare_sse2(data, &b, rc, error, &req);
#endif

    fuzz_pool_free();
    free(buf);

    return 0;
}
