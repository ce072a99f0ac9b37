
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Answers: {"ret":N,"msg":"..."} (plus "data" on GetMediaInfo success),
 * always application/json.  Error answers never change, so they are made
 * once per configuration and sent from memory.
 */


#include "ngx_http_upbot.h"


#define NGX_HTTP_UPBOT_REASON_LEN  512


typedef struct {
    ngx_uint_t                      ret;
    ngx_uint_t                      status;
    ngx_str_t                       msg;
} ngx_http_upbot_error_t;


/* the error table of README.md; the main conf's bodies[] follow it */
static ngx_http_upbot_error_t  ngx_http_upbot_errors[] = {
    { NGX_HTTP_UPBOT_OK, NGX_HTTP_OK,
      ngx_string("") },
    { NGX_HTTP_UPBOT_BAD_REQUEST, NGX_HTTP_BAD_REQUEST,
      ngx_string("请求参数错误，请稍后再试") },
    { NGX_HTTP_UPBOT_UNAUTHORIZED, NGX_HTTP_UNAUTHORIZED,
      ngx_string("鉴权失败") },
    { NGX_HTTP_UPBOT_NO_CODE, NGX_HTTP_NOT_FOUND,
      ngx_string("活码不存在") },
    { NGX_HTTP_UPBOT_POOL_FULL, NGX_HTTP_CONFLICT,
      ngx_string("群已满") },
    { NGX_HTTP_UPBOT_PROVIDER_FAILED, NGX_HTTP_BAD_GATEWAY,
      ngx_string("服务繁忙，请稍后再试") },
    { NGX_HTTP_UPBOT_STORE_FAILED, NGX_HTTP_SERVICE_UNAVAILABLE,
      ngx_string("服务繁忙，请稍后再试") },
    { NGX_HTTP_UPBOT_BAD_METHOD, NGX_HTTP_NOT_ALLOWED,
      ngx_string("请求方法或类型错误") },
    { NGX_HTTP_UPBOT_TOO_FREQUENT, NGX_HTTP_TOO_MANY_REQUESTS,
      ngx_string("请求过于频繁，请稍后再试") },
};


/* bodies[] has a place per row: a row more or fewer fails the build */
typedef char  ngx_http_upbot_errors_match_bodies[
    (sizeof(ngx_http_upbot_errors) / sizeof(ngx_http_upbot_error_t)
     == NGX_HTTP_UPBOT_NERRORS) ? 1 : -1];


static ngx_str_t  ngx_http_upbot_json_type = ngx_string("application/json");

/*
 * The answer with data opens as the made body of ret 0 does: a constant
 * copies in a few moves where the made body took a call to memcpy() (16
 * instructions a request more)
 */
static const u_char  ngx_http_upbot_data_head[] =
    "{\"ret\":0,\"msg\":\"\",\"data\":{\"url\":\"";


/* a string of an answer: copied, when known to need no escaping */
#define ngx_http_upbot_put_answer_str(p, s, safe)                            \
    ((s)->len == 0 ? (p)                 /* its data may be NULL */          \
     : (safe) ? ngx_cpymem(p, (s)->data, (s)->len)                           \
     : ngx_http_upbot_json_escape(p, (s)->data, (s)->len))


static ngx_int_t ngx_http_upbot_add_header(ngx_http_request_t *r,
    const char *name, const char *value);


/*
 * Answers without "data" never change: made once per configuration, sent
 * as they are.
 */

ngx_int_t
ngx_http_upbot_respond_init(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf)
{
    u_char      *p;
    ngx_str_t   *msg;
    ngx_uint_t   i;

    for (i = 0; i < NGX_HTTP_UPBOT_NERRORS; i++) {
        msg = &ngx_http_upbot_errors[i].msg;

        p = ngx_pnalloc(cf->pool, sizeof("{\"ret\":,\"msg\":\"\"}") - 1
                                  + NGX_INT_T_LEN
                                  + ngx_http_upbot_json_escaped_len(msg->data,
                                                                    msg->len));
        if (p == NULL) {
            return NGX_ERROR;
        }

        umcf->bodies[i].data = p;

        p = ngx_sprintf(p, "{\"ret\":%ui,\"msg\":\"",
                        ngx_http_upbot_errors[i].ret);
        p = ngx_http_upbot_json_escape(p, msg->data, msg->len);
        p = ngx_cpymem(p, "\"}", 2);

        umcf->bodies[i].len = p - umcf->bodies[i].data;
    }

    return NGX_OK;
}


/*
 * status 0: the table's; answer: GetMediaInfo's "data" (then ret is
 * NGX_HTTP_UPBOT_OK), NULL otherwise.
 */

ngx_int_t
ngx_http_upbot_send(ngx_http_request_t *r, ngx_http_upbot_ctx_t *ctx,
    ngx_uint_t ret, ngx_uint_t status, ngx_http_upbot_answer_t *answer)
{
    u_char                      *p;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_uint_t                   i;
    ngx_chain_t                 *out;
    ngx_http_upbot_error_t      *e;
    ngx_http_upbot_main_conf_t  *umcf;

    for (i = 0; i < NGX_HTTP_UPBOT_NERRORS - 1; i++) {
        if (ngx_http_upbot_errors[i].ret == ret) {
            break;
        }
    }

    e = &ngx_http_upbot_errors[i];

    ctx->ret = ret;

    /*
     * the buffer, its link and the answer in one allocation: a link on the
     * stack had its address taken, and this function a stack canary (6
     * instructions a request)
     */

    if (answer == NULL) {
        b = ngx_palloc(r->pool, sizeof(ngx_buf_t) + sizeof(ngx_chain_t));
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memzero(b, sizeof(ngx_buf_t));

        umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

        b->pos = umcf->bodies[i].data;
        b->last = b->pos + umcf->bodies[i].len;

    } else {
        /* a success's, the only answer with data: its head is a constant */

        len = sizeof(ngx_http_upbot_data_head) - 1
              + sizeof("\",\"name\":\"\",\"background\":\"\"}}") - 1;

        if (answer->json_safe) {
            len += answer->url.len + answer->name.len
                   + answer->background.len;

        } else {
            len += ngx_http_upbot_json_escaped_len(answer->url.data,
                                                   answer->url.len)
                   + ngx_http_upbot_json_escaped_len(answer->name.data,
                                                     answer->name.len)
                   + ngx_http_upbot_json_escaped_len(answer->background.data,
                                                     answer->background.len);
        }

        b = ngx_palloc(r->pool, sizeof(ngx_buf_t) + sizeof(ngx_chain_t)
                                + len);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memzero(b, sizeof(ngx_buf_t));

        p = (u_char *) ((ngx_chain_t *) (b + 1) + 1);

        b->pos = p;

        p = ngx_cpymem(p, ngx_http_upbot_data_head,
                       sizeof(ngx_http_upbot_data_head) - 1);
        p = ngx_http_upbot_put_answer_str(p, &answer->url,
                                          answer->json_safe);
        p = ngx_cpymem(p, "\",\"name\":\"", sizeof("\",\"name\":\"") - 1);
        p = ngx_http_upbot_put_answer_str(p, &answer->name,
                                          answer->json_safe);
        p = ngx_cpymem(p, "\",\"background\":\"",
                       sizeof("\",\"background\":\"") - 1);
        p = ngx_http_upbot_put_answer_str(p, &answer->background,
                                          answer->json_safe);
        p = ngx_cpymem(p, "\"}}", 3);

        b->last = p;
    }

    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status ? status : e->status;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: answer ret:%ui status:%ui",
                   ret, r->headers_out.status);
    r->headers_out.content_type = ngx_http_upbot_json_type;
    r->headers_out.content_type_len = ngx_http_upbot_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.status == NGX_HTTP_NOT_ALLOWED) {
        if (ngx_http_upbot_add_header(r, "Allow", "POST") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (r->headers_out.status == NGX_HTTP_UNAUTHORIZED) {
        if (ngx_http_upbot_add_header(r, "WWW-Authenticate", "Bearer")
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out = (ngx_chain_t *) (b + 1);
    out->buf = b;
    out->next = NULL;

    return ngx_http_output_filter(r, out);
}


/*
 * The client gets the table's short msg; the reason goes to the error log
 * at "info" with the trace id, and to $upbot_error.  Client-supplied bytes
 * in the reason are made printable first.
 */

ngx_int_t
ngx_http_upbot_fail(ngx_http_request_t *r, ngx_http_upbot_ctx_t *ctx,
    ngx_uint_t ret, ngx_uint_t status, const char *fmt, ...)
{
    u_char     *p, *last;
    va_list     args;
    ngx_str_t  *trace_id;

    p = ngx_pnalloc(r->pool, NGX_HTTP_UPBOT_REASON_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    va_start(args, fmt);
    last = ngx_vslprintf(p, p + NGX_HTTP_UPBOT_REASON_LEN, fmt, args);
    va_end(args);

    ngx_http_upbot_printable(p, p, last - p, 0);

    ctx->error.data = p;
    ctx->error.len = last - p;

    trace_id = ngx_http_upbot_trace_id(r, ctx);
    if (trace_id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: fail ret:%ui: %V", ret, &ctx->error);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upbot %V: %V (ret %ui), trace_id: \"%V\"",
                  &ctx->api->name, &ctx->error, ret, trace_id);

    return ngx_http_upbot_send(r, ctx, ret, status, NULL);
}


static ngx_int_t
ngx_http_upbot_add_header(ngx_http_request_t *r, const char *name,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


/*
 * The client's trace id, fit for a quoted log field or a header line:
 * control characters and quotes shown as "?".  Made once a request.
 */

ngx_str_t *
ngx_http_upbot_trace_id(ngx_http_request_t *r, ngx_http_upbot_ctx_t *ctx)
{
    u_char  *p;

    if (ctx->trace_safe.data || ctx->trace_id.len == 0) {
        return &ctx->trace_safe;
    }

    p = ngx_pnalloc(r->pool, ctx->trace_id.len);
    if (p == NULL) {
        return NULL;
    }

    ngx_http_upbot_printable(p, ctx->trace_id.data, ctx->trace_id.len, 1);

    ctx->trace_safe.data = p;
    ctx->trace_safe.len = ctx->trace_id.len;

    return &ctx->trace_safe;
}
