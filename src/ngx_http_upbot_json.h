
/*
 * Copyright (C) 2026, the upbot authors
 *
 * JSON on the hot path, without yajl: a strict reader for request bodies
 * (RFC 8259, UTF-8 checked) that calls a handler per token, in one pass
 * over a buffer, strings handed out in place unless they hold escapes;
 * and the writer's escaping, the same bytes yajl_gen makes.  Depends on
 * the nginx core only.
 */


#ifndef _NGX_HTTP_UPBOT_JSON_H_INCLUDED_
#define _NGX_HTTP_UPBOT_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* each returns 1 to go on, 0 to stop the reading (the handler's choice) */
typedef struct {
    int  (*null)(void *ctx);
    int  (*boolean)(void *ctx, int value);
    int  (*number)(void *ctx, const char *s, size_t len);
    int  (*string)(void *ctx, const u_char *s, size_t len);
    int  (*start_map)(void *ctx);
    int  (*map_key)(void *ctx, const u_char *s, size_t len);
    int  (*end_map)(void *ctx);
    int  (*start_array)(void *ctx);
    int  (*end_array)(void *ctx);
} ngx_http_upbot_json_handler_t;


/*
 * NGX_OK: read to the end; NGX_ABORT: a handler stopped it; NGX_DECLINED:
 * not JSON, *error says where and why; NGX_ERROR: no memory.  Strings
 * with escapes are decoded into the pool; the others point into buf, which
 * must outlive their use.  Nesting deeper than max_depth is refused.
 */
ngx_int_t ngx_http_upbot_json_read(u_char *buf, size_t len,
    const ngx_http_upbot_json_handler_t *h, void *ctx, ngx_uint_t max_depth,
    ngx_pool_t *pool, ngx_str_t *error);

/* the length of s as the inside of a JSON string */
size_t ngx_http_upbot_json_escaped_len(const u_char *s, size_t len);

/* writes s escaped as yajl_gen does (no "/" escaped, \u001F upper case) */
u_char *ngx_http_upbot_json_escape(u_char *dst, const u_char *s, size_t len);


#endif /* _NGX_HTTP_UPBOT_JSON_H_INCLUDED_ */
