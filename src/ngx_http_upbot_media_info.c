
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

/*
 * How long a worker picks from its view of a pool before it looks in the
 * zone again (never past the facts' ttl): the zone's LRU order sees a
 * pool in use at least this often.
 */
#define NGX_HTTP_UPBOT_VIEW_TIME  1000


static void ngx_http_upbot_media_info_note(ngx_http_upbot_ctx_t *ctx);
static ngx_int_t ngx_http_upbot_media_info_process(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx);
static ngx_int_t ngx_http_upbot_media_info_lookup(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_uint_t claim);
static ngx_int_t ngx_http_upbot_media_info_pick(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code,
    ngx_http_upbot_facts_t **facts, ngx_http_upbot_lookup_t *lk);
static ngx_int_t ngx_http_upbot_media_info_from_view(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code);
static void ngx_http_upbot_media_info_keep(ngx_http_upbot_code_t *code,
    ngx_http_upbot_lookup_t *lk, ngx_uint_t walked, ngx_msec_t until);
static ngx_int_t ngx_http_upbot_media_info_answer(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code, ngx_uint_t i,
    ngx_http_upbot_facts_t *facts);
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
    ngx_int_t                         rc;
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

    /* a live pool: from this worker's view of it while that is fresh */

    if (code->view
        && (ngx_msec_int_t) (code->view->until - ngx_current_msec) > 0)
    {
        rc = ngx_http_upbot_media_info_from_view(r, ctx, code);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    /* else facts from the cache, or fetched */

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
    ngx_uint_t                   i, walked, fresh;
    ngx_msec_t                   until;
    ngx_http_upbot_look_t        look;
    ngx_http_upbot_group_t      *group;
    ngx_http_upbot_lookup_t     *lk = ctx->lookup;
    ngx_http_upbot_loc_conf_t   *ulcf;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);

    lk->nfetch = 0;
    lk->blocked = 0;

    fresh = 1;
    until = ngx_current_msec + NGX_HTTP_UPBOT_VIEW_TIME;

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
            fresh = 0;

        } else {
            ngx_http_upbot_cache_look(umcf, r->pool, group, claim, &look);

            if (look.state != NGX_HTTP_UPBOT_FACTS_FRESH) {
                fresh = 0;

            } else if ((ngx_msec_int_t) (look.fresh_until - until) < 0) {
                until = look.fresh_until;
            }

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

    walked = i;

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

    if (fresh) {
        ngx_http_upbot_media_info_keep(lk->code, lk, walked, until);
    }

    return ngx_http_upbot_media_info_pick(r, ctx, lk->code, lk->facts, lk);
}


/*
 * A pick from the worker's view of the pool: NGX_DECLINED when it cannot
 * tell (a spread pick needs every group, and a pool found full is looked
 * at again in the zone).
 */

static ngx_int_t
ngx_http_upbot_media_info_from_view(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code)
{
    ngx_int_t                         i;
    ngx_http_upbot_view_t            *view = code->view;
    ngx_http_upbot_loc_conf_t        *ulcf;
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);

    if (ulcf->pick != NGX_HTTP_UPBOT_PICK_FIRST
        && view->walked < code->ngroups)
    {
        return NGX_DECLINED;
    }

    i = ngx_http_upbot_pick(code->groups, view->facts, view->walked,
                            ulcf->pick, &req->account_info.openid);

    if (i == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    if (code->groups[i].app) {
        ctx->cache_status = NGX_HTTP_UPBOT_CACHE_HIT;
    }

    return ngx_http_upbot_media_info_answer(r, ctx, code, i, view->facts[i]);
}


/*
 * The facts of a look-up that found every group it walked fresh, kept as
 * the worker's view of the pool: in the block of the last view when they
 * fit, else in a new one of at least twice its size, so that the blocks
 * a pool takes from the cycle's pool stay few.
 */

static void
ngx_http_upbot_media_info_keep(ngx_http_upbot_code_t *code,
    ngx_http_upbot_lookup_t *lk, ngx_uint_t walked, ngx_msec_t until)
{
    u_char                  *p;
    size_t                   size;
    ngx_uint_t               i;
    ngx_http_upbot_facts_t  *live;
    ngx_http_upbot_view_t   *view;

    size = sizeof(ngx_http_upbot_view_t)
           + walked * (sizeof(ngx_http_upbot_facts_t *)
                       + sizeof(ngx_http_upbot_facts_t));

    for (i = 0; i < walked; i++) {
        if (code->groups[i].app) {
            size += lk->live[i].name.len + lk->live[i].face_url.len
                    + lk->live[i].url.len;
        }
    }

    view = code->view;

    if (view == NULL || view->size < size) {
        if (view) {
            size = ngx_max(size, 2 * view->size);
        }

        view = ngx_palloc(ngx_cycle->pool, size);

        code->view = view;

        if (view == NULL) {
            return;
        }

        view->size = size;
    }

    view->until = until;
    view->walked = walked;
    view->facts = (ngx_http_upbot_facts_t **) (view + 1);

    live = (ngx_http_upbot_facts_t *) (view->facts + walked);
    p = (u_char *) (live + walked);

    for (i = 0; i < walked; i++) {

        if (code->groups[i].app == NULL) {
            view->facts[i] = &code->groups[i].facts;
            continue;
        }

        live[i] = lk->live[i];

        live[i].name.data = p;
        p = ngx_cpymem(p, lk->live[i].name.data, lk->live[i].name.len);
        live[i].face_url.data = p;
        p = ngx_cpymem(p, lk->live[i].face_url.data,
                       lk->live[i].face_url.len);
        live[i].url.data = p;
        p = ngx_cpymem(p, lk->live[i].url.data, lk->live[i].url.len);

        view->facts[i] = &live[i];
    }
}


static ngx_int_t
ngx_http_upbot_media_info_pick(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code,
    ngx_http_upbot_facts_t **facts, ngx_http_upbot_lookup_t *lk)
{
    ngx_int_t                         i;
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

    return ngx_http_upbot_media_info_answer(r, ctx, code, i, facts[i]);
}


static ngx_int_t
ngx_http_upbot_media_info_answer(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_http_upbot_code_t *code, ngx_uint_t i,
    ngx_http_upbot_facts_t *facts)
{
    ngx_http_upbot_answer_t  answer;

    ctx->group = code->groups[i].id;

    ngx_http_upbot_answer(&code->groups[i], facts, &answer);

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
