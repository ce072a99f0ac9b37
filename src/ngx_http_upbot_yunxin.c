
/*
 * Copyright (C) 2026, the upbot authors
 *
 * NetEase Yunxin IM, GET /im/v2.1/teams/{team_id}?team_type=N (seed 003):
 * the CheckSum of the request headers and the answer.  Pure: no request,
 * no I/O; the subrequest is ngx_http_upbot_fetch.c's.
 */


#include "ngx_http_upbot.h"

#include <openssl/evp.h>


static ngx_int_t ngx_http_upbot_yunxin_scalar(ngx_http_upbot_walk_t *w,
    ngx_http_upbot_reply_type_e type, const u_char *s, size_t len,
    long long n);
static ngx_int_t ngx_http_upbot_yunxin_map(ngx_http_upbot_walk_t *w,
    ngx_uint_t open);
static ngx_int_t ngx_http_upbot_yunxin_extension(ngx_http_upbot_walk_t *w,
    ngx_http_upbot_reply_type_e type, const u_char *s, size_t len,
    long long n);


/* CheckSum: lowercase hex SHA1(AppSecret + Nonce + CurTime), 40 bytes */

ngx_int_t
ngx_http_upbot_yunxin_checksum(ngx_str_t *secret, ngx_str_t *nonce,
    ngx_str_t *curtime, u_char *hex)
{
    u_char         md[EVP_MAX_MD_SIZE];
    ngx_int_t      rc;
    unsigned int   md_len;
    EVP_MD_CTX    *ctx;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1
        && EVP_DigestUpdate(ctx, secret->data, secret->len) == 1
        && EVP_DigestUpdate(ctx, nonce->data, nonce->len) == 1
        && EVP_DigestUpdate(ctx, curtime->data, curtime->len) == 1
        && EVP_DigestFinal_ex(ctx, md, &md_len) == 1)
    {
        ngx_hex_dump(hex, md, md_len);
        rc = NGX_OK;
    }

    EVP_MD_CTX_free(ctx);

    return rc;
}


/*
 * {"code":200,"msg":"success","data":{"team_info":{"team_id":...,
 * "name":...,"icon":...,"members_limit":N,"member_count":N,
 * "server_extension":"{...}"}}}; the team may also be straight in "data".
 */

void
ngx_http_upbot_yunxin_reader(ngx_http_upbot_walk_t *w)
{
    w->scalar = ngx_http_upbot_yunxin_scalar;
    w->map = ngx_http_upbot_yunxin_map;
}


ngx_int_t
ngx_http_upbot_yunxin_check(ngx_http_upbot_reply_t *reply, ngx_str_t *error)
{
    ngx_str_t                  ignored;
    ngx_http_upbot_walk_t     *w;
    ngx_http_upbot_fetched_t  *g;

    if (reply->error == -1) {
        ngx_str_set(error, "no \"code\"");
        return NGX_DECLINED;
    }

    if (reply->error != 200) {
        return NGX_OK;
    }

    g = reply->groups.elts;

    if (reply->groups.nelts == 0) {
        ngx_str_set(error, "no \"data\"");
        return NGX_DECLINED;
    }

    if (g->name.data == NULL && g->max_members == -1) {
        ngx_str_set(error, "no team in \"data\"");
        return NGX_DECLINED;
    }

    if (reply->extension.len == 0) {
        return NGX_OK;
    }

    /* the url may be a field of server_extension, itself JSON */

    w = ngx_pcalloc(reply->pool, sizeof(ngx_http_upbot_walk_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->reply = reply;
    w->scalar = ngx_http_upbot_yunxin_extension;
    w->group = g;

    /* an extension that is not JSON just has no url in it */

    if (ngx_http_upbot_walk(w, reply->extension.data, reply->extension.len,
                            &ignored)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the team's fields: in "data" (depth 2) or in "data.team_info" (3) */

#define ngx_http_upbot_yunxin_team(w)                                        \
    ((w)->group                                                              \
     && (((w)->depth == 2 && ngx_http_upbot_walk_key(w, 1, "data"))          \
         || ((w)->depth == 3 && ngx_http_upbot_walk_key(w, 1, "data")        \
             && ngx_http_upbot_walk_key(w, 2, "team_info"))))

static ngx_int_t
ngx_http_upbot_yunxin_map(ngx_http_upbot_walk_t *w, ngx_uint_t open)
{
    if (open && w->depth == 2 && ngx_http_upbot_walk_key(w, 1, "data")
        && w->group == NULL)
    {
        w->group = ngx_http_upbot_reply_group(w->reply);
        if (w->group == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_yunxin_scalar(ngx_http_upbot_walk_t *w,
    ngx_http_upbot_reply_type_e type, const u_char *s, size_t len,
    long long n)
{
    u_char                     buf[NGX_INT64_LEN];
    ngx_int_t                 *number;
    ngx_pool_t                *pool = w->reply->pool;
    ngx_http_upbot_fetched_t  *g = w->group;

    if (w->depth == 1) {
        if (ngx_http_upbot_walk_key(w, 1, "code")) {
            if (type != ngx_http_upbot_reply_int || n < 0
                || n > NGX_MAX_INT32_VALUE)
            {
                return NGX_ERROR;
            }

            w->reply->error = n;

        } else if (ngx_http_upbot_walk_key(w, 1, "msg")
                   && type == ngx_http_upbot_reply_string)
        {
            /* the provider's words go to the error log: printable */
            return ngx_http_upbot_copy_printable(pool, &w->reply->info, s,
                                                 ngx_min(len, 256));
        }

        return NGX_OK;
    }

    if (!ngx_http_upbot_yunxin_team(w)) {
        return NGX_OK;
    }

    if (ngx_http_upbot_walk_key(w, w->depth, "team_id")) {
        if (type == ngx_http_upbot_reply_int) {
            len = ngx_sprintf(buf, "%L", (int64_t) n) - buf;
            s = buf;

        } else if (type != ngx_http_upbot_reply_string) {
            return NGX_ERROR;
        }

        return ngx_http_upbot_copy(pool, &g->id, s, len);
    }

    if (ngx_http_upbot_walk_key(w, w->depth, "name")) {
        return type == ngx_http_upbot_reply_string
               ? ngx_http_upbot_copy(pool, &g->name, s, len) : NGX_OK;
    }

    if (ngx_http_upbot_walk_key(w, w->depth, "icon")) {
        return type == ngx_http_upbot_reply_string
               ? ngx_http_upbot_copy(pool, &g->face_url, s, len) : NGX_OK;
    }

    if (ngx_http_upbot_walk_key(w, w->depth, "server_extension")) {
        return type == ngx_http_upbot_reply_string
               ? ngx_http_upbot_copy(pool, &w->reply->extension, s, len)
               : NGX_OK;
    }

    if (ngx_http_upbot_walk_key(w, w->depth, "members_limit")) {
        number = &g->max_members;

    } else if (ngx_http_upbot_walk_key(w, w->depth, "member_count")) {
        number = &g->members;

    } else {
        return NGX_OK;
    }

    if (type == ngx_http_upbot_reply_null) {
        return NGX_OK;
    }

    if (type != ngx_http_upbot_reply_int || n < 0 || n > NGX_MAX_INT32_VALUE) {
        return NGX_ERROR;
    }

    *number = n;

    return NGX_OK;
}


/* server_extension: {"url": "...", ...}, the key named by url_field */

static ngx_int_t
ngx_http_upbot_yunxin_extension(ngx_http_upbot_walk_t *w,
    ngx_http_upbot_reply_type_e type, const u_char *s, size_t len,
    long long n)
{
    ngx_str_t  *field = &w->reply->url_field;

    if (w->depth == 1 && type == ngx_http_upbot_reply_string
        && w->key_len[1] == field->len
        && ngx_strncmp(w->keys[1], field->data, field->len) == 0)
    {
        return ngx_http_upbot_copy(w->reply->pool, &w->group->url, s, len);
    }

    return NGX_OK;
}
