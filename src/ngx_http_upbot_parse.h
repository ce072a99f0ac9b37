
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Request bodies -> C structs.  A shape lists an object's fields; the
 * parser walks a body along the shapes with the JSON reader's pieces
 * (ngx_http_upbot_json.h), so both APIs share one parser.  A body in one
 * buffer is read in place; one that arrives in pieces is gathered first.
 * Depends on the nginx core only (pools, strings), not on the HTTP module.
 */


#ifndef _NGX_HTTP_UPBOT_PARSE_H_INCLUDED_
#define _NGX_HTTP_UPBOT_PARSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_upbot_json.h"



/*
 * Every struct a shape fills starts with two sets of bits: field N was
 * given; field N is a string that had escapes (decoded into the pool; one
 * without is its own JSON form, and is copied as it is).
 */
#define NGX_HTTP_UPBOT_PRESENT(obj, bit)                                     \
    (((ngx_uint_t *) (obj))[0] & ((ngx_uint_t) 1 << (bit)))

#define NGX_HTTP_UPBOT_DECODED(obj, bit)                                     \
    (((ngx_uint_t *) (obj))[1] & ((ngx_uint_t) 1 << (bit)))


typedef struct {
    ngx_uint_t                      present;
    ngx_uint_t                      decoded;
    int64_t                         account_type;
    ngx_str_t                       appid;
    ngx_str_t                       openid;
} ngx_http_upbot_account_t;

#define NGX_HTTP_UPBOT_ACCOUNT_TYPE     0
#define NGX_HTTP_UPBOT_ACCOUNT_APPID    1
#define NGX_HTTP_UPBOT_ACCOUNT_OPENID   2


typedef struct {
    ngx_uint_t                      present;
    ngx_uint_t                      decoded;
    ngx_http_upbot_account_t        account_info;
    int64_t                         media_type;
    ngx_str_t                       code;
    ngx_str_t                       trace_id;
} ngx_http_upbot_media_info_req_t;


typedef struct {
    ngx_uint_t                      present;
    ngx_uint_t                      decoded;
    int64_t                         device_type;
    ngx_str_t                       uuid;
} ngx_http_upbot_device_t;

#define NGX_HTTP_UPBOT_DEVICE_TYPE      0
#define NGX_HTTP_UPBOT_DEVICE_UUID      1


typedef struct {
    ngx_uint_t                      present;
    ngx_uint_t                      decoded;
    ngx_http_upbot_account_t        account_info;
    ngx_http_upbot_device_t         device_info;
} ngx_http_upbot_head_t;

#define NGX_HTTP_UPBOT_HEAD_DEVICE      1


typedef struct {
    ngx_uint_t                      present;
    ngx_uint_t                      decoded;
    ngx_str_t                       event_id;
    int64_t                         event_time;
    int64_t                         media_type;
    ngx_str_t                       code;
    ngx_str_t                       trace_id;
    int64_t                         duration;
    ngx_str_t                       group;       /* attributed, not sent */
} ngx_http_upbot_event_item_t;

#define NGX_HTTP_UPBOT_ITEM_EVENT_ID    0
#define NGX_HTTP_UPBOT_ITEM_EVENT_TIME  1
#define NGX_HTTP_UPBOT_ITEM_MEDIA_TYPE  2
#define NGX_HTTP_UPBOT_ITEM_CODE        3
#define NGX_HTTP_UPBOT_ITEM_TRACE_ID    4
#define NGX_HTTP_UPBOT_ITEM_DURATION    5


typedef struct {
    ngx_uint_t                      present;
    ngx_uint_t                      decoded;
    ngx_http_upbot_head_t           head;
    ngx_array_t                    *items;   /* ngx_http_upbot_event_item_t */
} ngx_http_upbot_media_event_req_t;


typedef struct ngx_http_upbot_shape_s  ngx_http_upbot_shape_t;


typedef struct {
    size_t                          max_string_length;
    size_t                          max_code_length;
    ngx_uint_t                      max_items;
    ngx_uint_t                      max_depth;
} ngx_http_upbot_limits_t;


/* the parser's state: the fields are its own */
typedef struct {
    u_char                         *buf;      /* the pieces, gathered */
    size_t                          len;
    size_t                          size;
    ngx_pool_t                     *pool;
    ngx_http_upbot_limits_t         limits;   /* a copy: one load less */
    const ngx_http_upbot_shape_t   *shape;
    u_char                         *out;
    ngx_http_upbot_json_t           json;
    ngx_str_t                       error;
} ngx_http_upbot_parser_t;


extern const ngx_http_upbot_shape_t  ngx_http_upbot_media_info_shape;
extern const ngx_http_upbot_shape_t  ngx_http_upbot_media_event_shape;


ngx_http_upbot_parser_t *ngx_http_upbot_parser_create(ngx_pool_t *pool,
    const ngx_http_upbot_shape_t *shape, void *out,
    const ngx_http_upbot_limits_t *limits);

/*
 * The limits are copied; they may be the parser's own (p->limits), set
 * in place.  Then, NGX_OK: go on (finish) or done (run); NGX_DECLINED:
 * the body is bad, see the reason; NGX_ERROR: no memory
 */
void ngx_http_upbot_parser_init(ngx_http_upbot_parser_t *p, ngx_pool_t *pool,
    const ngx_http_upbot_shape_t *shape, void *out,
    const ngx_http_upbot_limits_t *limits);

ngx_int_t ngx_http_upbot_parser_feed(ngx_http_upbot_parser_t *p,
    u_char *data, size_t len);
ngx_int_t ngx_http_upbot_parser_finish(ngx_http_upbot_parser_t *p);

/* a whole body in one buffer, read in place; it must outlive the request */
ngx_int_t ngx_http_upbot_parser_run(ngx_http_upbot_parser_t *p,
    u_char *data, size_t len);

/* why the body was refused, for the error log and $upbot_error */
ngx_str_t *ngx_http_upbot_parser_error(ngx_http_upbot_parser_t *p);

/* ASCII white space around a code is not part of it */
void ngx_http_upbot_trim(ngx_str_t *s);


#endif /* _NGX_HTTP_UPBOT_PARSE_H_INCLUDED_ */
