
/*
 * Copyright (C) 2026, the upbot authors
 *
 * NetEase Yunxin IM, GET /im/v2.1/teams/{team_id}?team_type=N (seed 003):
 * a row's TEAM_ID/TEAM_TYPE, the request with its CheckSum and the answer.
 * No I/O: the subrequest that carries the call is ngx_http_upbot_fetch.c's.
 */


#include "ngx_http_upbot.h"

#include <openssl/evp.h>
#include <openssl/rand.h>


#define NGX_HTTP_UPBOT_NONCE_LEN    32


static char *ngx_http_upbot_yunxin_group_id(ngx_conf_t *cf,
    ngx_str_t *value, ngx_http_upbot_group_t *group);
static ngx_int_t ngx_http_upbot_yunxin_create_request(
    ngx_http_upbot_call_t *call);
static ngx_int_t ngx_http_upbot_yunxin_check(ngx_http_upbot_reply_t *reply);
static ngx_http_upbot_fetched_t *ngx_http_upbot_yunxin_find(
    ngx_http_upbot_reply_t *reply, ngx_http_upbot_group_t *group);
static ngx_uint_t ngx_http_upbot_yunxin_gone(ngx_int_t error);
static ngx_int_t ngx_http_upbot_yunxin_scalar(ngx_http_upbot_walk_t *w,
    ngx_http_upbot_reply_type_e type, const u_char *s, size_t len,
    long long n);
static ngx_int_t ngx_http_upbot_yunxin_map(ngx_http_upbot_walk_t *w,
    ngx_uint_t open);
static ngx_int_t ngx_http_upbot_yunxin_extension(ngx_http_upbot_walk_t *w,
    ngx_http_upbot_reply_type_e type, const u_char *s, size_t len,
    long long n);


const ngx_http_upbot_provider_t  ngx_http_upbot_yunxin_provider = {
    ngx_string("yunxin"),
    "appkey",
    "secret",
    "appkey=, secret=, secret_file=, location=, timeout=, url_field=, "
    "rate= or rate_wait=",
    1,                                  /* a team a call */
    200,                                /* "code": 200 is success */
    1,                                  /* GET LOCATION/TEAM_ID */
    100,                                /* calls a second: rate= sets the
                                         * app's own, which NetEase's
                                         * plans differ in */
    NULL,                               /* no options of its own */
    NULL,
    NULL,
    ngx_http_upbot_yunxin_group_id,
    ngx_http_upbot_yunxin_create_request,
    ngx_http_upbot_yunxin_scalar,
    ngx_http_upbot_yunxin_map,
    ngx_http_upbot_yunxin_check,
    ngx_http_upbot_yunxin_find,
    ngx_http_upbot_yunxin_gone
};


/* a row's group is TEAM_ID/TEAM_TYPE, the type 1 or 2 */

static char *
ngx_http_upbot_yunxin_group_id(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_upbot_group_t *group)
{
    u_char  *p;

    p = value->data + value->len;

    while (p > value->data && p[-1] != '/') {
        p--;
    }

    if (p == value->data || p - 1 == value->data
        || value->data + value->len - p != 1
        || (*p != '1' && *p != '2'))
    {
        ngx_http_upbot_conf_unplaced(cf, "TEAM_ID/1 or TEAM_ID/2",
                                     "invalid team, word 3 of the codes row");
        return NGX_CONF_ERROR;
    }

    group->live->type = *p - '0';
    group->id.len = p - 1 - value->data;

    return NGX_CONF_OK;
}


/*
 * GET {location}/{team_id}?team_type=N with AppKey, Nonce, CurTime,
 * CheckSum made fresh, and the trace id as X-custom-traceid.  nginx's
 * proxy escapes the team id in the path.
 */

static ngx_int_t
ngx_http_upbot_yunxin_create_request(ngx_http_upbot_call_t *call)
{
    u_char                  *p, *nonce, *curtime, *sum;
    u_char                   rnd[NGX_HTTP_UPBOT_NONCE_LEN / 2];
    ngx_str_t                n, t;
    ngx_http_upbot_app_t    *app = call->app;
    ngx_http_upbot_group_t  *group = call->groups[0];

    call->uri.len = app->location.len + 1 + group->id.len;
    call->uri.data = ngx_pnalloc(call->pool, call->uri.len);
    if (call->uri.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(call->uri.data, app->location.data, app->location.len);

    if (p[-1] != '/') {
        *p++ = '/';
    }

    p = ngx_cpymem(p, group->id.data, group->id.len);
    call->uri.len = p - call->uri.data;

    call->args.data = ngx_pnalloc(call->pool,
                                  sizeof("team_type=") - 1 + NGX_INT_T_LEN);
    if (call->args.data == NULL) {
        return NGX_ERROR;
    }

    call->args.len = ngx_sprintf(call->args.data, "team_type=%ui",
                                 group->live->type)
                     - call->args.data;

    nonce = ngx_pnalloc(call->pool, NGX_HTTP_UPBOT_NONCE_LEN + NGX_TIME_T_LEN
                                    + 40);
    if (nonce == NULL) {
        return NGX_ERROR;
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NGX_ERROR;
    }

    ngx_hex_dump(nonce, rnd, sizeof(rnd));

    curtime = nonce + NGX_HTTP_UPBOT_NONCE_LEN;
    sum = ngx_sprintf(curtime, "%T", ngx_time());

    n.data = nonce;
    n.len = NGX_HTTP_UPBOT_NONCE_LEN;
    t.data = curtime;
    t.len = sum - curtime;

    if (ngx_http_upbot_yunxin_checksum(&app->secret, &n, &t, sum) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_upbot_call_header(call, "AppKey", app->app_id.data,
                                   app->app_id.len)
        != NGX_OK
        || ngx_http_upbot_call_header(call, "Nonce", n.data, n.len) != NGX_OK
        || ngx_http_upbot_call_header(call, "CurTime", t.data, t.len)
           != NGX_OK
        || ngx_http_upbot_call_header(call, "CheckSum", sum, 40) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (call->trace_id.len == 0) {
        return NGX_OK;
    }

    return ngx_http_upbot_call_header(call, "X-custom-traceid",
                                      call->trace_id.data,
                                      call->trace_id.len);
}


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

static ngx_int_t
ngx_http_upbot_yunxin_check(ngx_http_upbot_reply_t *reply)
{
    ngx_str_t                  ignored;
    ngx_http_upbot_walk_t     *w;
    ngx_http_upbot_fetched_t  *g;

    if (reply->error == -1) {
        ngx_str_set(&reply->why, "no \"code\"");
        return NGX_DECLINED;
    }

    if (reply->error != 200) {
        return NGX_OK;
    }

    g = reply->groups.elts;

    if (reply->groups.nelts == 0) {
        ngx_str_set(&reply->why, "no \"data\"");
        return NGX_DECLINED;
    }

    if (g->name.data == NULL && g->max_members == -1) {
        ngx_str_set(&reply->why, "no team in \"data\"");
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


/*
 * The one team of the answer.  A team that is gone is said by the whole
 * answer's code: it is then the team's error.
 */

static ngx_http_upbot_fetched_t *
ngx_http_upbot_yunxin_find(ngx_http_upbot_reply_t *reply,
    ngx_http_upbot_group_t *group)
{
    ngx_http_upbot_fetched_t  *g;

    if (reply->groups.nelts) {
        g = reply->groups.elts;

    } else {
        g = ngx_http_upbot_reply_group(reply);
        if (g == NULL) {
            return NULL;
        }
    }

    g->error = (reply->error == 200) ? 0 : reply->error;

    return g;
}


/* 108404: no such team; 108302: not an advanced team (no longer one) */

static ngx_uint_t
ngx_http_upbot_yunxin_gone(ngx_int_t error)
{
    return error == 108404 || error == 108302;
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
