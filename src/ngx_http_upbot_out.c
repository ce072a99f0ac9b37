
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The answers of upbot_metrics and upbot_status, which grow as they are
 * written: a chain of buffers in the request's pool, sent whole.
 */


#include "ngx_http_upbot.h"


#define NGX_HTTP_UPBOT_OUT_BUF   32768
#define NGX_HTTP_UPBOT_OUT_LINE  4096    /* the most a printf line takes */


static u_char *ngx_http_upbot_out_reserve(ngx_http_upbot_out_t *out,
    size_t size);


/* GET and HEAD only; nothing of the body is kept */

ngx_int_t
ngx_http_upbot_out_init(ngx_http_request_t *r, ngx_http_upbot_out_t *out)
{
    ngx_int_t  rc;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_memzero(out, sizeof(ngx_http_upbot_out_t));

    out->r = r;
    out->pool = r->pool;
    out->last = &out->first;

    return NGX_OK;
}


static u_char *
ngx_http_upbot_out_reserve(ngx_http_upbot_out_t *out, size_t size)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = out->buf;

    if (b && (size_t) (b->end - b->last) >= size) {
        return b->last;
    }

    b = ngx_create_temp_buf(out->pool,
                            ngx_max(size, NGX_HTTP_UPBOT_OUT_BUF));
    if (b == NULL) {
        return NULL;
    }

    cl = ngx_alloc_chain_link(out->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    *out->last = cl;
    out->last = &cl->next;
    out->buf = b;

    return b->last;
}


ngx_int_t
ngx_http_upbot_out_printf(ngx_http_upbot_out_t *out, const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    p = ngx_http_upbot_out_reserve(out, NGX_HTTP_UPBOT_OUT_LINE);
    if (p == NULL) {
        return NGX_ERROR;
    }

    va_start(args, fmt);
    last = ngx_vslprintf(p, p + NGX_HTTP_UPBOT_OUT_LINE, fmt, args);
    va_end(args);

    /* a line that fills its room may have been cut */

    if (last == p + NGX_HTTP_UPBOT_OUT_LINE) {
        ngx_log_error(NGX_LOG_ALERT, out->r->connection->log, 0,
                      "upbot: a line of %uz bytes or more in the answer",
                      (size_t) NGX_HTTP_UPBOT_OUT_LINE);
        return NGX_ERROR;
    }

    out->size += last - p;
    out->buf->last = last;

    return NGX_OK;
}


ngx_int_t
ngx_http_upbot_out_str(ngx_http_upbot_out_t *out, const char *s)
{
    return ngx_http_upbot_out_bytes(out, (u_char *) s, ngx_strlen(s));
}


ngx_int_t
ngx_http_upbot_out_bytes(ngx_http_upbot_out_t *out, u_char *s, size_t len)
{
    u_char  *p;

    if (len == 0) {
        return NGX_OK;          /* s may be NULL */
    }

    p = ngx_http_upbot_out_reserve(out, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->buf->last = ngx_cpymem(p, s, len);
    out->size += len;

    return NGX_OK;
}


/* a Prometheus label value: \, " and newline escaped */

ngx_int_t
ngx_http_upbot_out_label(ngx_http_upbot_out_t *out, ngx_str_t *value)
{
    u_char  *p;

    p = ngx_http_upbot_out_reserve(out, 2 * value->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_upbot_label_escape(p, value);

    out->size += p - out->buf->last;
    out->buf->last = p;

    return NGX_OK;
}


u_char *
ngx_http_upbot_label_escape(u_char *p, ngx_str_t *value)
{
    u_char  *s, *end;

    if (value->len == 0) {
        return p;               /* its data may be NULL */
    }

    for (s = value->data, end = s + value->len; s < end; s++) {
        switch (*s) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = *s;
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = *s;
        }
    }

    return p;
}


/* a JSON string's content, escaped */

ngx_int_t
ngx_http_upbot_out_json(ngx_http_upbot_out_t *out, ngx_str_t *value)
{
    u_char  *p;
    size_t   len;

    len = ngx_http_upbot_json_escaped_len(value->data, value->len);

    p = ngx_http_upbot_out_reserve(out, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_upbot_json_escape(p, value->data, value->len);

    out->size += p - out->buf->last;
    out->buf->last = p;

    return NGX_OK;
}


/* text and attribute values of HTML: &, <, >, " and ' as entities */

ngx_int_t
ngx_http_upbot_out_html(ngx_http_upbot_out_t *out, ngx_str_t *value)
{
    u_char  *p, *s, *end;

    if (value->len == 0) {
        return NGX_OK;          /* its data may be NULL */
    }

    p = ngx_http_upbot_out_reserve(out, sizeof("&quot;") * value->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    for (s = value->data, end = s + value->len; s < end; s++) {
        switch (*s) {

        case '&':
            p = ngx_cpymem(p, "&amp;", sizeof("&amp;") - 1);
            break;

        case '<':
            p = ngx_cpymem(p, "&lt;", sizeof("&lt;") - 1);
            break;

        case '>':
            p = ngx_cpymem(p, "&gt;", sizeof("&gt;") - 1);
            break;

        case '"':
            p = ngx_cpymem(p, "&quot;", sizeof("&quot;") - 1);
            break;

        case '\'':
            p = ngx_cpymem(p, "&#39;", sizeof("&#39;") - 1);
            break;

        default:
            *p++ = *s;
        }
    }

    out->size += p - out->buf->last;
    out->buf->last = p;

    return NGX_OK;
}


/* out->status, or 200 when it is 0 */

ngx_int_t
ngx_http_upbot_out_send(ngx_http_upbot_out_t *out, ngx_str_t *type)
{
    ngx_int_t            rc;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r = out->r;

    r->headers_out.status = out->status ? out->status : NGX_HTTP_OK;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = out->size;

    if (r->method == NGX_HTTP_HEAD || out->size == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    for (cl = out->first; cl->next; cl = cl->next) { /* void */ }

    cl->buf->last_buf = 1;
    cl->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, out->first);
}
