
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The front half both APIs share: method, content type and token are
 * checked before a byte of the body is read; then the body is read and
 * parsed (in place when it is one buffer in memory, else gathered from its
 * buffers and the temp file), and the API's own step runs on the parsed
 * request.
 */


#include "ngx_http_upbot.h"


#define NGX_HTTP_UPBOT_FILE_CHUNK  16384


/*
 * The reasons of the early refusals, made once: a reason on the handler's
 * stack had its address taken, and the handler a stack canary (8
 * instructions a request)
 */
static ngx_str_t  ngx_http_upbot_bad_method =
    ngx_string("method not allowed");
static ngx_str_t  ngx_http_upbot_not_json =
    ngx_string("Content-Type is not application/json");


static ngx_int_t ngx_http_upbot_is_json(ngx_http_request_t *r);
static ngx_int_t ngx_http_upbot_refuse_early(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_uint_t ret, ngx_uint_t status,
    ngx_str_t *reason);
static void ngx_http_upbot_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_upbot_parse_body(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_str_t **reason);


ngx_int_t
ngx_http_upbot_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_upbot_ctx_t       *ctx;
    ngx_http_upbot_loc_conf_t  *ulcf;

    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);

    /* the context and the parsed request in one allocation */

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_upbot_ctx_t)
                               + ulcf->api->req_size);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->api = ulcf->api;
    ctx->req = ctx + 1;
    ctx->ret = -1;
    ctx->views = -1;

    ngx_http_set_ctx(r, ctx, ngx_http_upbot_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: %V request", &ctx->api->name);

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_upbot_refuse_early(r, ctx, NGX_HTTP_UPBOT_BAD_METHOD,
                                           NGX_HTTP_NOT_ALLOWED,
                                           &ngx_http_upbot_bad_method);
    }

    if (ngx_http_upbot_is_json(r) != NGX_OK) {
        return ngx_http_upbot_refuse_early(r, ctx, NGX_HTTP_UPBOT_BAD_METHOD,
                                        NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                        &ngx_http_upbot_not_json);
    }

    rc = ngx_http_upbot_authenticate(r, ulcf, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upbot: token refused: %V", &ctx->error);

        /* formatted before ngx_http_upbot_fail() sets ctx->error anew */

        return ngx_http_upbot_refuse_early(r, ctx,
                                           NGX_HTTP_UPBOT_UNAUTHORIZED, 0,
                                           &ctx->error);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: token checked: label \"%V\"%s",
                   &ctx->token_label,
                   ulcf->tokens ? "" : " (upbot_auth_tokens off)");

    rc = ngx_http_read_client_request_body(r, ngx_http_upbot_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {

        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
            || rc == NGX_HTTP_BAD_REQUEST)
        {
            /* what is left of the body is not read: close afterwards */
            r->keepalive = 0;
            r->lingering_close = 1;

            return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_BAD_REQUEST,
                                       rc,
                                       rc == NGX_HTTP_BAD_REQUEST
                                       ? "malformed request body"
                                       : "request body larger than "
                                         "client_max_body_size");
        }

        return rc;
    }

    return NGX_DONE;
}


/* "application/json", in any case, with or without parameters */

static ngx_int_t
ngx_http_upbot_is_json(ngx_http_request_t *r)
{
    u_char  *p, *last;

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    /*
     * as clients write it, else in any case: ngx_strncasecmp() alone took
     * 280 instructions a request more (bench.pl, BENCH_ONLY=ir)
     */

    if (last - p < 16
        || (ngx_memcmp(p, "application/json", 16) != 0
            && ngx_strncasecmp(p, (u_char *) "application/json", 16) != 0))
    {
        return NGX_DECLINED;
    }

    for (p += 16; p < last && (*p == ' ' || *p == '\t'); p++) {
        /* void */
    }

    return (p == last || *p == ';') ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_upbot_refuse_early(ngx_http_request_t *r, ngx_http_upbot_ctx_t *ctx,
    ngx_uint_t ret, ngx_uint_t status, ngx_str_t *reason)
{
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_http_upbot_fail(r, ctx, ret, status, "%V", reason);
}


static void
ngx_http_upbot_body_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t             *reason;
    ngx_http_upbot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: body read: %O bytes",
                   r->headers_in.content_length_n);

    rc = ngx_http_upbot_parse_body(r, ctx, &reason);

    ctx->api->identify(ctx);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: body parsed: %s",
                   rc == NGX_OK ? "ok" : (rc == NGX_DECLINED ? "refused"
                                                            : "error"));

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r,
                                  ngx_http_upbot_fail(r, ctx,
                                                NGX_HTTP_UPBOT_BAD_REQUEST, 0,
                                                "%V", reason));
        return;
    }

    rc = ctx->api->process(r, ctx);

    /* NGX_DONE: it goes on by itself (subrequests, a timer, a sync) */

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_upbot_parse_body(ngx_http_request_t *r, ngx_http_upbot_ctx_t *ctx,
    ngx_str_t **reason)
{
    u_char                      *chunk;
    off_t                        offset;
    size_t                       size;
    ssize_t                      n;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_chain_t                 *cl;
    ngx_http_upbot_parser_t     *p;
    ngx_http_upbot_loc_conf_t   *ulcf;
    ngx_http_upbot_main_conf_t  *umcf;

    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);
    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    p = &ctx->parser;

    /*
     * the limits are set in the parser's own copy: limits on the stack had
     * their address taken, and this function a stack canary (5 instructions
     * a request)
     */

    p->limits.max_string_length = ulcf->max_string_length;
    p->limits.max_code_length = umcf->max_code_length;
    p->limits.max_items = ulcf->max_items;
    p->limits.max_depth = ulcf->max_json_depth;

    ngx_http_upbot_parser_init(p, r->pool, ctx->api->shape, ctx->req,
                               &p->limits);

    *reason = ngx_http_upbot_parser_error(p);
    chunk = NULL;

    cl = r->request_body ? r->request_body->bufs : NULL;

    /* the usual body, one buffer in memory, is read where it is */

    if (cl && cl->next == NULL && ngx_buf_in_memory(cl->buf)) {
        return ngx_http_upbot_parser_run(p, cl->buf->pos,
                                         cl->buf->last - cl->buf->pos);
    }

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            if (ngx_http_upbot_parser_feed(p, b->pos, b->last - b->pos)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (!b->in_file) {
            continue;
        }

        if (chunk == NULL) {
            chunk = ngx_palloc(r->pool, NGX_HTTP_UPBOT_FILE_CHUNK);
            if (chunk == NULL) {
                return NGX_ERROR;
            }
        }

        for (offset = b->file_pos; offset < b->file_last; offset += n) {
            size = (size_t) ngx_min(b->file_last - offset,
                                    NGX_HTTP_UPBOT_FILE_CHUNK);

            n = ngx_read_file(b->file, chunk, size, offset);

            if (n == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (n == 0) {
                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              "upbot: unexpected end of \"%V\"",
                              &b->file->name);
                return NGX_ERROR;
            }

            if (ngx_http_upbot_parser_feed(p, chunk, n) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    rc = ngx_http_upbot_parser_finish(p);

    return rc;
}
