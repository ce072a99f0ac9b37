
/*
 * Copyright (C) 2026, the upbot authors
 *
 * GetMediaInfo (seed 000): look up the code, gather the facts of its pool
 * (static, cached, or fetched from the provider), pick a group, answer
 * with the group's join url, name and background.
 */


#include "ngx_http_upbot.h"


/* how often a request waiting for another's fetch looks again */
#define NGX_HTTP_UPBOT_WAIT_STEP  10


static void ngx_http_upbot_media_info_note(ngx_http_upbot_ctx_t *ctx);
static ngx_int_t ngx_http_upbot_media_info_process(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx);
static ngx_int_t ngx_http_upbot_media_info_lookup(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_uint_t claim);
static ngx_int_t ngx_http_upbot_media_info_pick(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code,
    ngx_http_upbot_facts_t **facts, ngx_http_upbot_lookup_t *lk);
static ngx_int_t ngx_http_upbot_media_info_wait(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx);
static void ngx_http_upbot_media_info_wake(ngx_event_t *ev);
static void ngx_http_upbot_media_info_cleanup(void *data);


const ngx_http_upbot_api_t  ngx_http_upbot_media_info_api = {
    ngx_string("GetMediaInfo"),
    &ngx_http_upbot_media_info_shape,
    sizeof(ngx_http_upbot_media_info_req_t),
    0,
    ngx_http_upbot_media_info_note,
    ngx_http_upbot_media_info_process
};


static void
ngx_http_upbot_media_info_note(ngx_http_upbot_ctx_t *ctx)
{
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    ctx->code = req->code;
    ctx->trace_id = req->trace_id;
}


static ngx_int_t
ngx_http_upbot_media_info_process(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx)
{
    ngx_uint_t                        n;
    ngx_http_upbot_code_t            *code;
    ngx_http_upbot_lookup_t          *lk;
    ngx_http_upbot_main_conf_t       *umcf;
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

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

    /* a live pool: facts from the cache, or fetched */

    n = code->ngroups;

    /* the look-up and its arrays, in one allocation */

    lk = ngx_palloc(r->pool, sizeof(ngx_http_upbot_lookup_t)
                             + n * (sizeof(ngx_http_upbot_facts_t *)
                                    + sizeof(ngx_http_upbot_facts_t)
                                    + 2 * sizeof(ngx_uint_t) + 2));
    if (lk == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(lk, sizeof(ngx_http_upbot_lookup_t));

    lk->code = code;
    lk->facts = (ngx_http_upbot_facts_t **) (lk + 1);
    lk->live = (ngx_http_upbot_facts_t *) (lk->facts + n);
    lk->state = (ngx_uint_t *) (lk->live + n);
    lk->fetch = lk->state + n;
    lk->got = (u_char *) (lk->fetch + n);
    lk->busy = lk->got + n;

    ngx_memzero(lk->facts, n * sizeof(ngx_http_upbot_facts_t *));
    ngx_memzero(lk->got, 2 * n);

    ctx->lookup = lk;

    return ngx_http_upbot_media_info_lookup(r, ctx, 1);
}


/*
 * What the cache and this request's own fetch know of the pool.  With
 * "claim", the groups that are not fresh and that nobody fetches are
 * locked and listed in lk->fetch.  In "first" mode the walk stops at the
 * first usable group with fresh facts: the groups after it do not matter.
 */

static ngx_int_t
ngx_http_upbot_media_info_lookup(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_uint_t claim)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_http_upbot_look_t        look;
    ngx_http_upbot_group_t      *group;
    ngx_http_upbot_lookup_t     *lk = ctx->lookup;
    ngx_http_upbot_loc_conf_t   *ulcf;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);

    lk->nfetch = 0;
    lk->blocked = 0;

    /* the pool is live: it has a group in the cache */

    ngx_http_upbot_cache_begin(umcf);

    for (i = 0; i < lk->code->ngroups; i++) {
        group = &lk->code->groups[i];

        if (group->app == NULL) {
            lk->facts[i] = &group->facts;
            lk->state[i] = NGX_HTTP_UPBOT_FACTS_FRESH;

        } else if (lk->got[i]) {
            lk->facts[i] = &lk->live[i];
            lk->state[i] = NGX_HTTP_UPBOT_FACTS_FRESH;

        } else {
            ngx_http_upbot_cache_look(umcf, r->pool, group, claim, &look);

            lk->state[i] = look.state;
            lk->busy[i] = look.busy;
            lk->live[i] = look.facts;
            lk->facts[i] = look.state ? &lk->live[i] : NULL;

            if (look.claimed) {
                lk->fetch[lk->nfetch++] = i;

            } else if (look.state == NGX_HTTP_UPBOT_FACTS_NONE) {

                if (look.busy) {
                    lk->blocked = 1;

                } else if (look.failed) {
                    lk->failed = 1;

                    if (lk->fail_status != NGX_HTTP_GATEWAY_TIME_OUT) {
                        lk->fail_status = look.fail_status;
                    }
                }
            }
        }

        if (ulcf->pick == NGX_HTTP_UPBOT_PICK_FIRST
            && lk->state[i] == NGX_HTTP_UPBOT_FACTS_FRESH
            && ngx_http_upbot_usable(group, lk->facts[i]))
        {
            i++;
            break;
        }
    }

    ngx_http_upbot_cache_end(umcf);

    /* the groups not walked are not candidates */

    for ( /* void */ ; i < lk->code->ngroups; i++) {
        lk->facts[i] = NULL;
    }

    if (lk->nfetch) {
        ctx->cache_status = NGX_HTTP_UPBOT_CACHE_MISS;

        rc = ngx_http_upbot_fetch(r, lk);

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_DONE;
    }

    if (lk->blocked) {
        /* another worker fetches a group we know nothing of: wait */
        return ngx_http_upbot_media_info_wait(r, ctx);
    }

    return ngx_http_upbot_media_info_pick(r, ctx, lk->code, lk->facts, lk);
}


static ngx_int_t
ngx_http_upbot_media_info_pick(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code,
    ngx_http_upbot_facts_t **facts, ngx_http_upbot_lookup_t *lk)
{
    ngx_int_t                         i;
    ngx_http_upbot_answer_t           answer;
    ngx_http_upbot_loc_conf_t        *ulcf;
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);

    i = ngx_http_upbot_pick(code->groups, facts, code->ngroups, ulcf->pick,
                            &req->account_info.openid);

    if (i == NGX_DECLINED) {

        if (lk && lk->failed) {
            ctx->cache_status = NGX_HTTP_UPBOT_CACHE_MISS;

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
        if (lk->state[i] == NGX_HTTP_UPBOT_FACTS_STALE) {
            ctx->cache_status = lk->busy[i] ? NGX_HTTP_UPBOT_CACHE_UPDATING
                                            : NGX_HTTP_UPBOT_CACHE_STALE;

        } else if (ctx->cache_status == NGX_HTTP_UPBOT_CACHE_NONE
                   && code->groups[i].app)
        {
            ctx->cache_status = lk->waited ? NGX_HTTP_UPBOT_CACHE_MISS
                                           : NGX_HTTP_UPBOT_CACHE_HIT;
        }
    }

    ctx->group = code->groups[i].id;

    ngx_http_upbot_answer(&code->groups[i], facts[i], &answer);

    return ngx_http_upbot_send(r, ctx, NGX_HTTP_UPBOT_OK, 0, &answer);
}


/* after this request's own fetch: look again, without claiming */

void
ngx_http_upbot_media_info_resume(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_upbot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    rc = ngx_http_upbot_media_info_lookup(r, ctx, 0);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * Another worker (or request) fetches facts this request needs: poll the
 * cache.  The fetcher's lock expires after lock_timeout, so the wait ends
 * at the latest then, when this request claims the group itself.
 */

static ngx_int_t
ngx_http_upbot_media_info_wait(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx)
{
    ngx_http_cleanup_t       *cln;
    ngx_http_upbot_lookup_t  *lk = ctx->lookup;

    if (lk->sleep.handler == NULL) {
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_upbot_media_info_cleanup;
        cln->data = lk;

        lk->sleep.handler = ngx_http_upbot_media_info_wake;
        lk->sleep.data = r;
        lk->sleep.log = r->connection->log;
    }

    lk->waited = 1;

    ngx_add_timer(&lk->sleep, NGX_HTTP_UPBOT_WAIT_STEP);

    return NGX_DONE;
}


static void
ngx_http_upbot_media_info_wake(ngx_event_t *ev)
{
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_upbot_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    rc = ngx_http_upbot_media_info_lookup(r, ctx, 1);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_upbot_media_info_cleanup(void *data)
{
    ngx_http_upbot_lookup_t  *lk = data;

    if (lk->sleep.timer_set) {
        ngx_del_timer(&lk->sleep);
    }
}
