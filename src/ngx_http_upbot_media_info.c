
/*
 * Copyright (C) 2026, the upbot authors
 *
 * GetMediaInfo (seed 000), once the body is read, parsed and its token
 * checked: look up the code; gather the facts of its pool (static, or a
 * live pool's from ngx_http_upbot_lookup.c); pick a group (the one this
 * visitor was answered before, with upbot_sticky); answer with the group's
 * join url, name and background.  A visitor over upbot_limit_visitor is
 * refused first.
 */


#include "ngx_http_upbot.h"


/* a visitor's bucket in the zone (upbot_limit_visitor), kind "l" */
typedef struct {
    ngx_msec_t                      last;        /* last answered */
    ngx_uint_t                      excess;      /* 1/1000 requests */
} ngx_http_upbot_bucket_t;


static void ngx_http_upbot_media_info_identify(ngx_http_upbot_ctx_t *ctx);
static ngx_int_t ngx_http_upbot_media_info_process(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx);
static ngx_int_t ngx_http_upbot_media_info_limit(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx);
static ngx_int_t ngx_http_upbot_media_info_leak(u_char *value,
    ngx_uint_t found, time_t *expires, void *data);
static void ngx_http_upbot_media_info_looked(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_http_upbot_media_info_pick(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code,
    ngx_http_upbot_facts_t **facts, ngx_http_upbot_lookup_t *lk);
static ngx_int_t ngx_http_upbot_media_info_choose(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code,
    ngx_http_upbot_facts_t **facts, ngx_uint_t n,
    ngx_http_upbot_picked_e *picked, ngx_uint_t *views);
static ngx_uint_t ngx_http_upbot_media_info_sticky(
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_code_t *code,
    ngx_http_upbot_media_info_req_t *req);
static ngx_int_t ngx_http_upbot_media_info_sticky_key(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code, ngx_str_t *key);
static ngx_int_t ngx_http_upbot_media_info_answer(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code, ngx_uint_t i,
    ngx_http_upbot_facts_t *facts, ngx_uint_t views);


const ngx_http_upbot_api_t  ngx_http_upbot_media_info_api = {
    ngx_string("GetMediaInfo"),
    0,
    &ngx_http_upbot_media_info_shape,
    sizeof(ngx_http_upbot_media_info_req_t),
    0,
    ngx_http_upbot_media_info_identify,
    ngx_http_upbot_media_info_process
};


static void
ngx_http_upbot_media_info_identify(ngx_http_upbot_ctx_t *ctx)
{
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    ctx->code = req->code;
    ctx->trace_id = req->trace_id;
}


static ngx_int_t
ngx_http_upbot_media_info_process(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx)
{
    ngx_int_t                         rc, i;
    ngx_uint_t                        n, views, all;
    ngx_http_upbot_code_t            *code;
    ngx_http_upbot_picked_e           picked;
    ngx_http_upbot_facts_t          **facts;
    ngx_http_upbot_lookup_t          *lk;
    ngx_http_upbot_loc_conf_t        *ulcf;
    ngx_http_upbot_main_conf_t       *umcf;
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);

    /*
     * The visitor's limit before the code: trying codes one after another,
     * unknown ones too, is the abuse it is for, and a refusal looks at
     * nothing else.  A visitor without an openid is not known apart.
     */

    if (umcf->limit_rate && req->account_info.openid.len) {
        rc = ngx_http_upbot_media_info_limit(r, ctx);

        if (rc == NGX_BUSY) {
            return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_TOO_FREQUENT, 0,
                                       "visitor over upbot_limit_visitor %V",
                                       &umcf->limit_text);
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    code = ngx_http_upbot_codes_find(umcf, &req->code);

    if (code == NULL) {
        return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_NO_CODE, 0,
                                   "unknown code \"%V\"", &req->code);
    }

    if ((ngx_uint_t) req->media_type != code->media_type) {
        return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_NO_CODE, 0,
                                   "code \"%V\" is of media_type %ui, "
                                   "not %L", &req->code, code->media_type,
                                   req->media_type);
    }

    if (code->live == 0) {
        return ngx_http_upbot_media_info_pick(r, ctx, code, code->facts,
                                              NULL);
    }

    /*
     * A live pool: from this worker's view of it while that is fresh (a
     * spread pick, or a sticky visitor's group, needs every group; a pool
     * the view finds full is looked at again in the zone).
     */

    all = ulcf->pick != NGX_HTTP_UPBOT_PICK_FIRST
          || ngx_http_upbot_media_info_sticky(umcf, code, req);

    if (ngx_http_upbot_lookup_view(r, code, all, &facts, &n) == NGX_OK) {

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upbot: view of code \"%V\": %ui of %ui groups",
                       &code->code, n, code->ngroups);

        i = ngx_http_upbot_media_info_choose(r, ctx, code, facts, n, &picked,
                                             &views);

        /*
         * A view that stopped at a usable group may have become all
         * unusable since (hours, expiry): its fallback stands only if no
         * group was left out of it.
         */

        if (i != NGX_DECLINED
            && (picked != ngx_http_upbot_picked_fallback
                || n == code->ngroups))
        {
            if (code->groups[i].live) {
                ctx->cache_status = NGX_HTTP_UPBOT_CACHE_HIT;
            }

            ctx->picked = picked;

            return ngx_http_upbot_media_info_answer(r, ctx, code, i,
                                                    facts[i], views);
        }
    }

    lk = ngx_http_upbot_lookup_create(r, code, !all,
                                      ngx_http_upbot_media_info_looked);
    if (lk == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->lookup = lk;

    rc = ngx_http_upbot_lookup(r, lk);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_upbot_media_info_pick(r, ctx, code, lk->facts, lk);
}


/*
 * The visitor's bucket, "l" appid "\0" openid, taken a request from:
 * NGX_BUSY when it is over the limit.  Without room in the zone for it,
 * the visitor is let through.
 */

static ngx_int_t
ngx_http_upbot_media_info_limit(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx)
{
    u_char                           *p;
    ngx_int_t                         rc;
    ngx_str_t                         key;
    ngx_http_upbot_main_conf_t       *umcf;
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    key.len = 1 + req->account_info.appid.len + 1
              + req->account_info.openid.len;

    key.data = ngx_pnalloc(r->pool, key.len);
    if (key.data == NULL) {
        return NGX_ERROR;
    }

    p = key.data;
    *p++ = 'l';
    p = ngx_cpymem(p, req->account_info.appid.data,
                   req->account_info.appid.len);
    *p++ = '\0';
    ngx_memcpy(p, req->account_info.openid.data,
               req->account_info.openid.len);

    rc = ngx_http_upbot_visitor_update(umcf, &key,
                                       sizeof(ngx_http_upbot_bucket_t),
                                       ngx_http_upbot_media_info_leak, umcf);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: visitor limit: %i", rc);

    return rc == NGX_BUSY ? NGX_BUSY : NGX_OK;
}


/*
 * limit_req's leaky bucket, with the zone's mutex held: the bucket drains
 * at the rate since the last answer and takes 1000 for this one, unless
 * that would pass the burst; it is forgotten once drained.
 */

static ngx_int_t
ngx_http_upbot_media_info_leak(u_char *value, ngx_uint_t found,
    time_t *expires, void *data)
{
    ngx_http_upbot_main_conf_t *umcf = data;

    ngx_int_t                excess;
    ngx_msec_int_t           ms;
    ngx_http_upbot_bucket_t  bucket;

    ngx_memcpy(&bucket, value, sizeof(ngx_http_upbot_bucket_t));

    excess = 0;

    if (found) {
        ms = (ngx_msec_int_t) ngx_http_upbot_since(ngx_current_msec,
                                                   bucket.last);

        excess = (ngx_int_t) bucket.excess
                 - (ngx_int_t) (umcf->limit_rate * ms / 1000) + 1000;

        if (excess < 0) {
            excess = 0;
        }

        if ((ngx_uint_t) excess > umcf->limit_burst) {
            return NGX_BUSY;
        }
    }

    bucket.last = ngx_current_msec;
    bucket.excess = excess;

    ngx_memcpy(value, &bucket, sizeof(ngx_http_upbot_bucket_t));

    /* a second more for ngx_time()'s whole seconds */

    *expires = ngx_time() + (time_t) (excess / umcf->limit_rate) + 2;

    return NGX_OK;
}


/* the look-up went on after the handler returned, and has ended */

static void
ngx_http_upbot_media_info_looked(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_upbot_ctx_t     *ctx;
    ngx_http_upbot_lookup_t  *lk;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);
    lk = ctx->lookup;

    if (rc == NGX_OK) {
        rc = ngx_http_upbot_media_info_pick(r, ctx, lk->code, lk->facts, lk);
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_upbot_media_info_pick(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code,
    ngx_http_upbot_facts_t **facts, ngx_http_upbot_lookup_t *lk)
{
    ngx_int_t                         i;
    ngx_uint_t                        views;
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    i = ngx_http_upbot_media_info_choose(r, ctx, code, facts, code->ngroups,
                                         &ctx->picked, &views);

    if (lk && lk->called) {
        ctx->cache_status = lk->expired ? NGX_HTTP_UPBOT_CACHE_EXPIRED
                                        : NGX_HTTP_UPBOT_CACHE_MISS;
    }

    if (i == NGX_DECLINED) {

        if (lk && lk->failed) {
            ctx->cache_status = (lk->called && lk->expired)
                                ? NGX_HTTP_UPBOT_CACHE_EXPIRED
                                : NGX_HTTP_UPBOT_CACHE_MISS;

            if (lk->paced) {
                return ngx_http_upbot_fail(r, ctx,
                                           NGX_HTTP_UPBOT_PROVIDER_FAILED,
                                           lk->fail_status,
                                           "no usable group in the pool of "
                                           "code \"%V\": no call to %V "
                                           "within rate_wait=%M ms at its "
                                           "rate=%V, and no facts are at "
                                           "hand", &req->code,
                                           &lk->paced_app->name,
                                           lk->paced_app->rate_wait,
                                           &lk->paced_app->rate_text);
            }

            return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_PROVIDER_FAILED,
                                       lk->fail_status
                                       ? lk->fail_status
                                       : NGX_HTTP_BAD_GATEWAY,
                                       "no usable group in the pool of "
                                       "code \"%V\": the provider failed "
                                       "and no facts are at hand",
                                       &req->code);
        }

        return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_POOL_FULL, 0,
                                   "no usable group in the pool of code "
                                   "\"%V\" (%ui groups: full, gone or down)",
                                   &req->code, code->ngroups);
    }

    if (lk) {
        if (lk->seen[i].state == NGX_HTTP_UPBOT_FACTS_STALE) {
            ctx->cache_status = lk->seen[i].busy
                                ? NGX_HTTP_UPBOT_CACHE_UPDATING
                                : NGX_HTTP_UPBOT_CACHE_STALE;

        } else if (ctx->cache_status == NGX_HTTP_UPBOT_CACHE_NONE
                   && code->groups[i].live)
        {
            ctx->cache_status = lk->waited ? NGX_HTTP_UPBOT_CACHE_MISS
                                           : NGX_HTTP_UPBOT_CACHE_HIT;
        }
    }

    return ngx_http_upbot_media_info_answer(r, ctx, code, i, facts[i],
                                            views);
}


/*
 * The group to answer from the first n groups' facts: the one this visitor
 * was answered before, while it is usable (no view of it is taken again),
 * else the pick's, which the visitor then keeps for upbot_sticky's ttl (a
 * fallback is not kept: the visitor leaves it once a group has room).
 */

static ngx_int_t
ngx_http_upbot_media_info_choose(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code,
    ngx_http_upbot_facts_t **facts, ngx_uint_t n,
    ngx_http_upbot_picked_e *picked, ngx_uint_t *views)
{
    time_t                            now;
    uint32_t                          ident;
    ngx_int_t                         i, sticky;
    ngx_str_t                         key;
    ngx_http_upbot_loc_conf_t        *ulcf;
    ngx_http_upbot_main_conf_t       *umcf;
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);

    now = ngx_time();

    /* without memory for the key, the visitor is picked for as anyone */

    sticky = ngx_http_upbot_media_info_sticky_key(r, ctx, code, &key);

    if (sticky == NGX_OK
        && ngx_http_upbot_visitor_get(umcf, &key, &ident, sizeof(ident))
           == (ngx_int_t) sizeof(ident))
    {
        for (i = 0; i < (ngx_int_t) n; i++) {
            if (code->groups[i].ident != ident) {
                continue;
            }

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "upbot: code \"%V\": the visitor had group %i",
                           &code->code, i);

            if (!code->groups[i].fallback
                && ngx_http_upbot_usable(&code->groups[i], facts[i], now,
                                         umcf->time_offset))
            {
                *picked = ngx_http_upbot_picked_sticky;
                *views = 0;
                return i;
            }

            break;
        }
    }

    i = ngx_http_upbot_pick(code->groups, facts, n, ulcf->pick,
                            &req->account_info.openid, now,
                            umcf->time_offset, picked, views);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: code \"%V\": pick %i, %V, view %ui", &code->code,
                   i, ngx_http_upbot_picked_name(*picked), *views);

    if (sticky == NGX_OK && i != NGX_DECLINED
        && *picked != ngx_http_upbot_picked_fallback)
    {
        ident = code->groups[i].ident;

        ngx_http_upbot_visitor_put(umcf, &key, &ident, sizeof(ident),
                                   now + umcf->sticky);
    }

    return i;
}


/*
 * The visitor's key for a sticky code: "s", the code, the appid and the
 * openid; NGX_DECLINED when stickiness is off or the visitor unknown.
 */

/* whether stickiness is on for the code, and the visitor known */

static ngx_uint_t
ngx_http_upbot_media_info_sticky(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_code_t *code, ngx_http_upbot_media_info_req_t *req)
{
    return umcf->sticky && !code->sticky_off
           && req->account_info.openid.len;
}


static ngx_int_t
ngx_http_upbot_media_info_sticky_key(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code, ngx_str_t *key)
{
    u_char                           *p;
    ngx_http_upbot_main_conf_t       *umcf;
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    if (!ngx_http_upbot_media_info_sticky(umcf, code, req)) {
        return NGX_DECLINED;
    }

    key->len = 1 + code->code.len + 1 + req->account_info.appid.len + 1
               + req->account_info.openid.len;

    key->data = ngx_pnalloc(r->pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = key->data;
    *p++ = 's';
    p = ngx_cpymem(p, code->code.data, code->code.len);
    *p++ = '\0';
    p = ngx_cpymem(p, req->account_info.appid.data,
                   req->account_info.appid.len);
    *p++ = '\0';
    ngx_memcpy(p, req->account_info.openid.data,
               req->account_info.openid.len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_media_info_answer(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code, ngx_uint_t i,
    ngx_http_upbot_facts_t *facts, ngx_uint_t views)
{
    ngx_http_upbot_answer_t      answer;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    ctx->group = code->groups[i].id;

    if (views) {
        ctx->views = views;
    }

    /*
     * each is called only when on: a call that found it off took 27 and
     * 18 instructions (their registers saved, a stack canary)
     */

    if (umcf->attribution) {
        ngx_http_upbot_attribution_note(r, &code->code, &ctx->trace_id,
                                        &code->groups[i]);
    }

    if (umcf->metrics) {
        ngx_http_upbot_funnel_count(umcf, code, &code->groups[i],
                                    NGX_HTTP_UPBOT_STEP_ANSWER);
    }

    ngx_http_upbot_answer(&code->groups[i], facts, &answer);

    return ngx_http_upbot_send(r, ctx, NGX_HTTP_UPBOT_OK, 0, &answer);
}
