
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Tencent Cloud IM, v4/group_open_http_svc/get_group_info (seed 002):
 * the app's options, the UserSig (TLSSigAPIv2), the request and the
 * answer.  No I/O: the subrequest that carries the call is
 * ngx_http_upbot_fetch.c's.
 */


#include "ngx_http_upbot.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <zlib.h>


#define NGX_HTTP_UPBOT_TIM_JSON_MAX  256    /* the sig document less the id */

/* the most groups get_group_info takes in one call */
#define NGX_HTTP_UPBOT_TIM_BATCH     50


typedef struct {
    ngx_str_t                       identifier;  /* the App admin */
    time_t                          expire;      /* of a UserSig */

    /* per worker: the UserSig in use and when it was made */
    u_char                         *usersig;
    size_t                          usersig_len;
    time_t                          usersig_time;
} ngx_http_upbot_tim_app_t;


static void *ngx_http_upbot_tim_create_app(ngx_conf_t *cf);
static ngx_int_t ngx_http_upbot_tim_app_option(ngx_conf_t *cf,
    ngx_http_upbot_app_t *app, ngx_str_t *name, ngx_str_t *value);
static char *ngx_http_upbot_tim_init_app(ngx_conf_t *cf,
    ngx_http_upbot_app_t *app);
static ngx_int_t ngx_http_upbot_tim_create_request(
    ngx_http_upbot_call_t *call);
static ngx_int_t ngx_http_upbot_tim_scalar(ngx_http_upbot_walk_t *w,
    ngx_http_upbot_reply_type_e type, const u_char *s, size_t len,
    long long n);
static ngx_int_t ngx_http_upbot_tim_map(ngx_http_upbot_walk_t *w,
    ngx_uint_t open);
static ngx_int_t ngx_http_upbot_tim_check(ngx_http_upbot_reply_t *reply);
static ngx_http_upbot_fetched_t *ngx_http_upbot_tim_find(
    ngx_http_upbot_reply_t *reply, ngx_http_upbot_group_t *group);
static ngx_uint_t ngx_http_upbot_tim_gone(ngx_int_t error);


const ngx_http_upbot_provider_t  ngx_http_upbot_tim_provider = {
    ngx_string("tim"),
    "sdkappid",
    "key",
    "sdkappid=, identifier=, key=, key_file=, location=, expire=, "
    "timeout=, url_field=, rate= or rate_wait=",
    NGX_HTTP_UPBOT_TIM_BATCH,
    0,                                  /* ErrorCode 0: it went well */
    0,                                  /* POST to the location itself */
    200,                                /* calls a second: Tencent's limit */
    ngx_http_upbot_tim_create_app,
    ngx_http_upbot_tim_app_option,
    ngx_http_upbot_tim_init_app,
    NULL,                               /* a group id is taken as it is */
    ngx_http_upbot_tim_create_request,
    ngx_http_upbot_tim_scalar,
    ngx_http_upbot_tim_map,
    ngx_http_upbot_tim_check,
    ngx_http_upbot_tim_find,
    ngx_http_upbot_tim_gone
};


static void *
ngx_http_upbot_tim_create_app(ngx_conf_t *cf)
{
    ngx_http_upbot_tim_app_t  *tapp;

    tapp = ngx_pcalloc(cf->pool, sizeof(ngx_http_upbot_tim_app_t));
    if (tapp == NULL) {
        return NULL;
    }

    tapp->expire = NGX_CONF_UNSET;

    return tapp;
}


/* identifier= and expire=; sdkappid= is a number */

static ngx_int_t
ngx_http_upbot_tim_app_option(ngx_conf_t *cf, ngx_http_upbot_app_t *app,
    ngx_str_t *name, ngx_str_t *value)
{
    ngx_http_upbot_tim_app_t  *tapp = app->conf;

    if (name->len == 8 && ngx_strncmp(name->data, "sdkappid", 8) == 0) {
        return ngx_atoi(value->data, value->len) == NGX_ERROR
               ? NGX_ABORT : NGX_DECLINED;
    }

    if (name->len == 10 && ngx_strncmp(name->data, "identifier", 10) == 0) {
        return ngx_http_upbot_app_set(cf, app, &tapp->identifier, name,
                                      value);
    }

    if (name->len == 6 && ngx_strncmp(name->data, "expire", 6) == 0) {
        tapp->expire = ngx_parse_time(value, 1);

        /* remade at half its life: anything shorter is churn */
        if (tapp->expire == (time_t) NGX_ERROR || tapp->expire < 600) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"expire=\" of app \"%V\", "
                               "it must be at least 10m", &app->name);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


static char *
ngx_http_upbot_tim_init_app(ngx_conf_t *cf, ngx_http_upbot_app_t *app)
{
    u_char                    *p;
    ngx_http_upbot_tim_app_t  *tapp = app->conf;

    if (tapp->identifier.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "app \"%V\" has no \"identifier=\"", &app->name);
        return NGX_CONF_ERROR;
    }

    /* it goes into the UserSig's JSON and the query string as is */

    for (p = tapp->identifier.data;
         p < tapp->identifier.data + tapp->identifier.len;
         p++)
    {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\'
            || *p == '&' || *p == '%' || *p == '+' || *p == '#')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"identifier=\" of app \"%V\"",
                               &app->name);
            return NGX_CONF_ERROR;
        }
    }

    if (tapp->identifier.len > 128) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"identifier=\" of app \"%V\" is longer "
                           "than 128 bytes", &app->name);
        return NGX_CONF_ERROR;
    }

    tapp->usersig = ngx_pnalloc(cf->pool,
                        ngx_http_upbot_tim_usersig_size(tapp->identifier.len));
    if (tapp->usersig == NULL) {
        return NGX_CONF_ERROR;
    }

    if (tapp->expire == NGX_CONF_UNSET) {
        tapp->expire = 86400;
    }

    return NGX_CONF_OK;
}


/*
 * POST {location}?sdkappid=&identifier=&usersig=&random=&contenttype=json
 * with {"GroupIdList":[...],"ResponseFilter":{...}}.  The UserSig is made
 * once per worker and app, and remade at half its life.
 */

static ngx_int_t
ngx_http_upbot_tim_create_request(ngx_http_upbot_call_t *call)
{
    time_t                     now;
    uint32_t                   random;
    ngx_str_t                 *args;
    ngx_http_upbot_app_t      *app = call->app;
    ngx_http_upbot_tim_app_t  *tapp = app->conf;

    now = ngx_time();

    if (tapp->usersig_len == 0
        || now - tapp->usersig_time >= tapp->expire / 2
        || now < tapp->usersig_time)
    {
        if (ngx_http_upbot_tim_usersig(&tapp->identifier, &app->app_id,
                                       &app->secret, now, tapp->expire,
                                       tapp->usersig, &tapp->usersig_len)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, call->log, 0,
                          "upbot: %V: cannot make a UserSig", &app->name);
            return NGX_ERROR;
        }

        tapp->usersig_time = now;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, call->log, 0,
                       "upbot: %V: UserSig made, good for %T s",
                       &app->name, tapp->expire);
    }

    if (RAND_bytes((u_char *) &random, sizeof(random)) != 1) {
        return NGX_ERROR;
    }

    call->uri = app->location;

    args = &call->args;

    args->len = sizeof("sdkappid=&identifier=&usersig=&random="
                       "&contenttype=json") - 1
                + app->app_id.len + tapp->identifier.len + tapp->usersig_len
                + NGX_INT32_LEN;

    args->data = ngx_pnalloc(call->pool, args->len);
    if (args->data == NULL) {
        return NGX_ERROR;
    }

    args->len = ngx_sprintf(args->data,
                            "sdkappid=%V&identifier=%V&usersig=%*s"
                            "&random=%uD&contenttype=json",
                            &app->app_id, &tapp->identifier,
                            tapp->usersig_len, tapp->usersig, random)
                - args->data;

    if (ngx_http_upbot_tim_body(call->pool, call->groups, call->n,
                                &app->url_field, &call->body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_call_header(call, "Content-Type",
                                      (u_char *) "application/json",
                                      sizeof("application/json") - 1);
}


/* the largest UserSig an identifier of this length makes */

size_t
ngx_http_upbot_tim_usersig_size(size_t identifier_len)
{
    uLong  json;

    json = NGX_HTTP_UPBOT_TIM_JSON_MAX + identifier_len;

    return ngx_base64_encoded_length(compressBound(json));
}


/*
 * TLSSigAPIv2: HMAC-SHA256 with the key over
 * "TLS.identifier:ID\nTLS.sdkappid:APPID\nTLS.time:T\nTLS.expire:E\n",
 * its base64 is TLS.sig; the JSON document of the fields and the sig is
 * zlib-compressed and base64-encoded with '+' '/' '=' as '*' '-' '_'.
 * The identifier was checked at configuration time to need no escaping.
 */

ngx_int_t
ngx_http_upbot_tim_usersig(ngx_str_t *identifier, ngx_str_t *sdkappid,
    ngx_str_t *key, time_t now, time_t expire, u_char *out, size_t *len)
{
    u_char        *p, *last;
    u_char         content[NGX_HTTP_UPBOT_TIM_JSON_MAX + 256];
    u_char         mac[EVP_MAX_MD_SIZE], sig64[64];
    u_char         json[NGX_HTTP_UPBOT_TIM_JSON_MAX + 256];
    u_char         packed[NGX_HTTP_UPBOT_TIM_JSON_MAX + 512];
    uLongf         packed_len;
    ngx_str_t      src, dst;
    unsigned int   mac_len;

    if (identifier->len > 128) {
        return NGX_ERROR;
    }

    last = content + sizeof(content);

    p = ngx_slprintf(content, last,
                     "TLS.identifier:%V\nTLS.sdkappid:%V\nTLS.time:%T\n"
                     "TLS.expire:%T\n", identifier, sdkappid, now, expire);

    if (HMAC(EVP_sha256(), key->data, (int) key->len, content, p - content,
             mac, &mac_len)
        == NULL)
    {
        return NGX_ERROR;
    }

    src.data = mac;
    src.len = mac_len;
    dst.data = sig64;
    ngx_encode_base64(&dst, &src);

    last = json + sizeof(json);

    p = ngx_slprintf(json, last,
                     "{\"TLS.ver\":\"2.0\",\"TLS.identifier\":\"%V\","
                     "\"TLS.sdkappid\":%V,\"TLS.expire\":%T,"
                     "\"TLS.time\":%T,\"TLS.sig\":\"%V\"}",
                     identifier, sdkappid, expire, now, &dst);

    if (p == last) {
        return NGX_ERROR;
    }

    packed_len = sizeof(packed);

    if (compress2(packed, &packed_len, json, p - json, Z_DEFAULT_COMPRESSION)
        != Z_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_base64_encoded_length(packed_len)
        > ngx_http_upbot_tim_usersig_size(identifier->len))
    {
        return NGX_ERROR;
    }

    src.data = packed;
    src.len = packed_len;
    dst.data = out;
    ngx_encode_base64(&dst, &src);

    for (p = out; p < out + dst.len; p++) {
        switch (*p) {
        case '+':
            *p = '*';
            break;
        case '/':
            *p = '-';
            break;
        case '=':
            *p = '_';
            break;
        }
    }

    *len = dst.len;

    ngx_explicit_memzero(content, sizeof(content));
    ngx_explicit_memzero(mac, sizeof(mac));

    return NGX_OK;
}


/*
 * {"GroupIdList":[...],"ResponseFilter":{"GroupBaseInfoFilter":[the
 * fields used],"AppDefinedDataFilter_Group":[the url field]}}
 */

ngx_int_t
ngx_http_upbot_tim_body(ngx_pool_t *pool, ngx_http_upbot_group_t **groups,
    ngx_uint_t n, ngx_str_t *url_field, ngx_str_t *body)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    static const char  head[] = "{\"GroupIdList\":[";
    static const char  filter[] = "],\"ResponseFilter\":{"
                                  "\"GroupBaseInfoFilter\":[\"Name\","
                                  "\"FaceUrl\",\"MemberNum\",\"MaxMemberNum\"],"
                                  "\"AppDefinedDataFilter_Group\":[\"";
    static const char  tail[] = "\"]}}";

    len = sizeof(head) - 1 + sizeof(filter) - 1 + sizeof(tail) - 1
          + ngx_http_upbot_json_escaped_len(url_field->data, url_field->len);

    for (i = 0; i < n; i++) {
        len += sizeof("\"\",") - 1
               + ngx_http_upbot_json_escaped_len(groups[i]->id.data,
                                                 groups[i]->id.len);
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    p = ngx_cpymem(p, head, sizeof(head) - 1);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_http_upbot_json_escape(p, groups[i]->id.data,
                                       groups[i]->id.len);
        *p++ = '"';
    }

    p = ngx_cpymem(p, filter, sizeof(filter) - 1);
    p = ngx_http_upbot_json_escape(p, url_field->data, url_field->len);
    p = ngx_cpymem(p, tail, sizeof(tail) - 1);

    body->len = p - body->data;

    return NGX_OK;
}


/*
 * {"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","GroupInfo":[{
 * "GroupId":...,"ErrorCode":0,"Name":...,"FaceUrl":...,"MemberNum":N,
 * "MaxMemberNum":N,"AppDefinedData":[{"Key":...,"Value":...}]}]}
 */

static ngx_int_t
ngx_http_upbot_tim_check(ngx_http_upbot_reply_t *reply)
{
    if (reply->error == -1) {
        ngx_str_set(&reply->why, "no \"ErrorCode\"");
        return NGX_DECLINED;
    }

    if (reply->error == 0
        && (reply->status.len != 2
            || ngx_strncmp(reply->status.data, "OK", 2) != 0))
    {
        ngx_str_set(&reply->why, "\"ActionStatus\" is not \"OK\"");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a group's entry in GroupInfo, by its id */

static ngx_http_upbot_fetched_t *
ngx_http_upbot_tim_find(ngx_http_upbot_reply_t *reply,
    ngx_http_upbot_group_t *group)
{
    ngx_uint_t                 i;
    ngx_http_upbot_fetched_t  *f;

    f = reply->groups.elts;

    for (i = 0; i < reply->groups.nelts; i++) {
        if (f[i].id.len == group->id.len
            && ngx_strncmp(f[i].id.data, group->id.data, group->id.len) == 0)
        {
            return &f[i];
        }
    }

    return NULL;
}


/* 10010: no such group (or dismissed); 10015: an invalid group id */

static ngx_uint_t
ngx_http_upbot_tim_gone(ngx_int_t error)
{
    return error == 10010 || error == 10015;
}


/* depth 3 is a group of GroupInfo; depth 5 a pair of its AppDefinedData */

#define ngx_http_upbot_tim_in_group(w)                                       \
    (ngx_http_upbot_walk_key(w, 1, "GroupInfo") && (w)->group                \
     && ((w)->array & (1 << 2)))

static ngx_int_t
ngx_http_upbot_tim_map(ngx_http_upbot_walk_t *w, ngx_uint_t open)
{
    ngx_str_t  *field = &w->reply->url_field;

    if (w->depth == 3 && ngx_http_upbot_walk_key(w, 1, "GroupInfo")
        && (w->array & (1 << 2)))
    {
        if (open) {
            w->group = ngx_http_upbot_reply_group(w->reply);
            if (w->group == NULL) {
                return NGX_ERROR;
            }

        } else {
            w->group = NULL;
        }

        return NGX_OK;
    }

    if (w->depth == 5 && ngx_http_upbot_tim_in_group(w)
        && ngx_http_upbot_walk_key(w, 3, "AppDefinedData"))
    {
        if (open) {
            ngx_str_null(&w->pair_key);
            ngx_str_null(&w->pair_value);
            return NGX_OK;
        }

        if (w->pair_key.len == field->len
            && ngx_strncmp(w->pair_key.data, field->data, field->len) == 0)
        {
            w->group->url = w->pair_value;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_tim_scalar(ngx_http_upbot_walk_t *w,
    ngx_http_upbot_reply_type_e type, const u_char *s, size_t len,
    long long n)
{
    ngx_pool_t                *pool = w->reply->pool;
    ngx_http_upbot_fetched_t  *g = w->group;

    if (w->depth == 1) {
        if (ngx_http_upbot_walk_key(w, 1, "ErrorCode")) {
            if (type != ngx_http_upbot_reply_int || n < 0
                || n > NGX_MAX_INT32_VALUE)
            {
                return NGX_ERROR;
            }

            w->reply->error = n;

        } else if (ngx_http_upbot_walk_key(w, 1, "ActionStatus")
                   && type == ngx_http_upbot_reply_string)
        {
            return ngx_http_upbot_copy(pool, &w->reply->status, s, len);

        } else if (ngx_http_upbot_walk_key(w, 1, "ErrorInfo")
                   && type == ngx_http_upbot_reply_string)
        {
            /* the provider's words go to the error log: printable */
            return ngx_http_upbot_copy_printable(pool, &w->reply->info, s,
                                                 ngx_min(len, 256));
        }

        return NGX_OK;
    }

    if (w->depth == 3 && ngx_http_upbot_tim_in_group(w)) {

        if (ngx_http_upbot_walk_key(w, 3, "GroupId")) {
            if (type != ngx_http_upbot_reply_string) {
                return NGX_ERROR;
            }

            return ngx_http_upbot_copy(pool, &g->id, s, len);
        }

        if (ngx_http_upbot_walk_key(w, 3, "ErrorCode")) {
            if (type != ngx_http_upbot_reply_int || n < 0
                || n > NGX_MAX_INT32_VALUE)
            {
                return NGX_ERROR;
            }

            g->error = n;
            return NGX_OK;
        }

        if (ngx_http_upbot_walk_key(w, 3, "Name")) {
            return type == ngx_http_upbot_reply_string
                   ? ngx_http_upbot_copy(pool, &g->name, s, len) : NGX_OK;
        }

        if (ngx_http_upbot_walk_key(w, 3, "FaceUrl")) {
            return type == ngx_http_upbot_reply_string
                   ? ngx_http_upbot_copy(pool, &g->face_url, s, len)
                   : NGX_OK;
        }

        if (ngx_http_upbot_walk_key(w, 3, "MemberNum")) {
            if (type != ngx_http_upbot_reply_int || n < 0
                || n > NGX_MAX_INT32_VALUE)
            {
                return NGX_ERROR;
            }

            g->members = n;
            return NGX_OK;
        }

        if (ngx_http_upbot_walk_key(w, 3, "MaxMemberNum")) {
            if (type != ngx_http_upbot_reply_int || n < 0
                || n > NGX_MAX_INT32_VALUE)
            {
                return NGX_ERROR;
            }

            g->max_members = n;
            return NGX_OK;
        }

        return NGX_OK;
    }

    if (w->depth == 5 && ngx_http_upbot_tim_in_group(w)
        && ngx_http_upbot_walk_key(w, 3, "AppDefinedData")
        && type == ngx_http_upbot_reply_string)
    {
        if (ngx_http_upbot_walk_key(w, 5, "Key")) {
            return ngx_http_upbot_copy(pool, &w->pair_key, s, len);
        }

        if (ngx_http_upbot_walk_key(w, 5, "Value")) {
            return ngx_http_upbot_copy(pool, &w->pair_value, s, len);
        }
    }

    return NGX_OK;
}
