
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The facts of a live pool, gathered for one GetMediaInfo: from the
 * worker's view of the pool while it is fresh, else from the facts cache,
 * else from the providers.  A look-up goes:
 *
 *   look    the pool in the zone, in one hold of its mutex; groups that
 *           are not fresh and that nobody fetches are claimed;
 *   fetch   the claimed groups are asked of their providers (fetch.c);
 *           each call's end is applied here, to the cache and to the
 *           look-up; after the last, look again without claiming; when
 *           every claimed group has stale facts, they answer at once and
 *           the calls run in the background;
 *   wait    for a group that another request fetches and that nothing is
 *           known of: woken by the end of a call in this worker, else look
 *           again when the zone has changed, at most every 100 ms, and at
 *           the latest when the other's lock runs out (then claim it);
 *   done    the facts are at hand: the caller's handler picks a group.
 */


#include "ngx_http_upbot.h"


/* a request waiting for another worker's fetch looks this often at most */
#define NGX_HTTP_UPBOT_WAIT_STEP  100

/*
 * How long a worker picks from its view of a pool before it looks in the
 * zone again (never past the facts' ttl): the zone's LRU order sees a
 * pool in use at least this often.
 */
#define NGX_HTTP_UPBOT_VIEW_TIME  1000


static ngx_int_t ngx_http_upbot_lookup_look(ngx_http_request_t *r,
    ngx_http_upbot_lookup_t *lk, ngx_uint_t claim);
static ngx_uint_t ngx_http_upbot_lookup_cached(ngx_http_request_t *r,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_lookup_t *lk,
    ngx_uint_t i, ngx_uint_t claim, ngx_msec_t *until);
static ngx_int_t ngx_http_upbot_lookup_fetch(ngx_http_request_t *r,
    ngx_http_upbot_lookup_t *lk);
static void ngx_http_upbot_lookup_fetched(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call);
static void ngx_http_upbot_lookup_refreshed(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call);
static void ngx_http_upbot_lookup_apply(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call, ngx_http_upbot_lookup_t *lk);
static void ngx_http_upbot_lookup_keep(ngx_http_upbot_lookup_t *lk,
    ngx_uint_t n, ngx_msec_t until);
static ngx_int_t ngx_http_upbot_lookup_wait(ngx_http_request_t *r,
    ngx_http_upbot_lookup_t *lk);
static void ngx_http_upbot_lookup_wake(ngx_event_t *ev);
static void ngx_http_upbot_lookup_wake_all(ngx_http_upbot_main_conf_t *umcf);
static void ngx_http_upbot_lookup_cleanup(void *data);


/*
 * The worker's view of the pool, while it is fresh: NGX_OK with its facts
 * in *facts and how many groups they are in *n; NGX_DECLINED when there
 * is none, or when "all" groups are needed and the view has fewer.
 */

ngx_int_t
ngx_http_upbot_lookup_view(ngx_http_request_t *r, ngx_http_upbot_code_t *code,
    ngx_uint_t all, ngx_http_upbot_facts_t ***facts, ngx_uint_t *n)
{
    ngx_http_upbot_view_t  *view = code->view;

    if (view == NULL
        || (ngx_msec_int_t) (view->until - ngx_current_msec) <= 0
        || (all && view->nfacts < code->ngroups))
    {
        return NGX_DECLINED;
    }

    *facts = view->facts;
    *n = view->nfacts;

    return NGX_OK;
}


/*
 * A look-up of code's pool.  With "first", the walk stops at the first
 * usable group with fresh facts that is not the fallback: the groups after
 * it do not matter.
 * "handler" gets the end of a look-up that ngx_http_upbot_lookup() left
 * going (NGX_DONE).
 */

ngx_http_upbot_lookup_t *
ngx_http_upbot_lookup_create(ngx_http_request_t *r,
    ngx_http_upbot_code_t *code, ngx_uint_t first,
    ngx_http_upbot_lookup_pt handler)
{
    ngx_uint_t                n;
    ngx_http_upbot_lookup_t  *lk;

    n = code->ngroups;

    lk = ngx_pcalloc(r->pool, sizeof(ngx_http_upbot_lookup_t));
    if (lk == NULL) {
        return NULL;
    }

    lk->code = code;
    lk->first = first;
    lk->handler = handler;

    lk->facts = ngx_pcalloc(r->pool, n * sizeof(ngx_http_upbot_facts_t *));
    lk->seen = ngx_pcalloc(r->pool, n * sizeof(ngx_http_upbot_seen_t));
    lk->fetch = ngx_palloc(r->pool, n * sizeof(ngx_uint_t));

    if (lk->facts == NULL || lk->seen == NULL || lk->fetch == NULL) {
        return NULL;
    }

    return lk;
}


/*
 * NGX_OK: lk->facts are at hand; NGX_DONE: the handler will be called;
 * else an HTTP status for the request's end.
 */

ngx_int_t
ngx_http_upbot_lookup(ngx_http_request_t *r, ngx_http_upbot_lookup_t *lk)
{
    return ngx_http_upbot_lookup_look(r, lk, 1);
}


/* what the cache and this request's own calls know of the pool */

static ngx_int_t
ngx_http_upbot_lookup_look(ngx_http_request_t *r,
    ngx_http_upbot_lookup_t *lk, ngx_uint_t claim)
{
    time_t                       now;
    ngx_uint_t                   i, fresh;
    ngx_msec_t                   until;
    ngx_http_upbot_seen_t       *seen;
    ngx_http_upbot_group_t      *group;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    lk->nfetch = 0;
    lk->blocked = 0;

    fresh = 1;
    until = ngx_current_msec + NGX_HTTP_UPBOT_VIEW_TIME;
    now = ngx_time();

    /* the pool is live: it has a group in the cache */

    ngx_http_upbot_cache_begin(umcf);

    lk->changes = ngx_http_upbot_cache_changes(umcf);

    for (i = 0; i < lk->code->ngroups; i++) {
        group = &lk->code->groups[i];
        seen = &lk->seen[i];

        if (group->live == NULL) {
            lk->facts[i] = ngx_http_upbot_static_facts(group);
            seen->state = NGX_HTTP_UPBOT_FACTS_FRESH;

        } else if (seen->fetched) {
            lk->facts[i] = &seen->facts;
            seen->state = NGX_HTTP_UPBOT_FACTS_FRESH;
            fresh = 0;

        } else if (!ngx_http_upbot_lookup_cached(r, umcf, lk, i, claim,
                                                 &until))
        {
            fresh = 0;
        }

        /* a usable fallback does not end the walk: a later group wins */

        if (lk->first
            && seen->state == NGX_HTTP_UPBOT_FACTS_FRESH
            && !group->fallback
            && ngx_http_upbot_usable(group, lk->facts[i], now,
                                     umcf->time_offset))
        {
            i++;
            break;
        }
    }

    ngx_http_upbot_cache_end(umcf);

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: looked at %ui of %ui groups of code \"%V\": "
                   "%ui to fetch, blocked:%ui fresh:%ui", i,
                   lk->code->ngroups, &lk->code->code, lk->nfetch,
                   (ngx_uint_t) lk->blocked, fresh);

    if (fresh) {
        ngx_http_upbot_lookup_keep(lk, i, until);
    }

    /* the groups not looked at are not candidates */

    for ( /* void */ ; i < lk->code->ngroups; i++) {
        lk->facts[i] = NULL;
    }

    if (lk->nfetch) {
        return ngx_http_upbot_lookup_fetch(r, lk);
    }

    if (lk->blocked) {
        return ngx_http_upbot_lookup_wait(r, lk);
    }

    return NGX_OK;
}


/*
 * The i-th group, live, as the cache has it: claimed to be fetched, or
 * blocking the look-up while another request fetches it.  Whether its
 * facts are fresh; *until: when the freshest view must end.
 */

static ngx_uint_t
ngx_http_upbot_lookup_cached(ngx_http_request_t *r,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_lookup_t *lk,
    ngx_uint_t i, ngx_uint_t claim, ngx_msec_t *until)
{
    ngx_http_upbot_seen_t    *seen = &lk->seen[i];
    ngx_http_upbot_group_t   *group = &lk->code->groups[i];
    ngx_http_upbot_cached_t   cached;

    ngx_http_upbot_cache_look(umcf, r->pool, group, claim, &cached);

    seen->state = cached.state;
    seen->busy = cached.busy;
    seen->facts = cached.facts;
    lk->facts[i] = cached.state ? &seen->facts : NULL;

    if (cached.claimed) {
        lk->fetch[lk->nfetch++] = i;
        lk->expired |= cached.expired;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upbot: claimed group \"%V\"", &group->live->key);

    } else if (cached.state == NGX_HTTP_UPBOT_FACTS_NONE) {

        if (cached.busy) {
            if (!lk->blocked
                || (ngx_msec_int_t) (cached.lock_until - lk->lock_until) < 0)
            {
                lk->lock_until = cached.lock_until;
            }

            lk->blocked = 1;

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "upbot: group \"%V\" is being fetched by another "
                           "request", &group->live->key);

        } else if (cached.failed) {
            lk->failed = 1;

            if (lk->fail_status != NGX_HTTP_GATEWAY_TIME_OUT) {
                lk->fail_status = cached.fail_status;
            }
        }
    }

    if (cached.state != NGX_HTTP_UPBOT_FACTS_FRESH) {
        return 0;
    }

    if ((ngx_msec_int_t) (cached.fresh_until - *until) < 0) {
        *until = cached.fresh_until;
    }

    return 1;
}


/*
 * The claimed groups are fetched.  When each of them has facts at hand,
 * stale but within "stale", those answer now and the refresh runs in the
 * background, a subrequest no client waits for, as nginx's
 * proxy_cache_background_update does; otherwise the request waits for
 * the calls.
 */

static ngx_int_t
ngx_http_upbot_lookup_fetch(ngx_http_request_t *r,
    ngx_http_upbot_lookup_t *lk)
{
    ngx_uint_t  i, background;

    background = 1;

    for (i = 0; i < lk->nfetch; i++) {
        if (lk->seen[lk->fetch[i]].state == NGX_HTTP_UPBOT_FACTS_NONE) {
            background = 0;
            break;
        }
    }

    if (ngx_http_upbot_fetch(r, lk->code, lk->fetch, lk->nfetch,
                             background ? ngx_http_upbot_lookup_refreshed
                                        : ngx_http_upbot_lookup_fetched,
                             background)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!background) {
        lk->called = 1;
        return NGX_DONE;
    }

    /* their stale facts are picked from as being updated (UPDATING) */

    for (i = 0; i < lk->nfetch; i++) {
        lk->seen[lk->fetch[i]].busy = 1;
    }

    lk->nfetch = 0;

    if (lk->blocked) {
        return ngx_http_upbot_lookup_wait(r, lk);
    }

    return NGX_OK;
}


/*
 * A call has ended: each of its groups' facts (or failure) goes to the
 * cache and to the look-up; after the last call, look again.
 */

static void
ngx_http_upbot_lookup_fetched(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call)
{
    ngx_int_t                 rc;
    ngx_http_upbot_ctx_t     *ctx;
    ngx_http_upbot_lookup_t  *lk;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);
    lk = ctx->lookup;

    ngx_http_upbot_lookup_apply(r, call, lk);

    if (ctx->fetch->pending) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: calls done, code \"%V\" resumed", &lk->code->code);

    rc = ngx_http_upbot_lookup_look(r, lk, 0);

    if (rc != NGX_DONE) {
        lk->handler(r, rc);
    }
}


/* a call of a refresh in the background has ended */

static void
ngx_http_upbot_lookup_refreshed(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call)
{
    ngx_http_upbot_lookup_apply(r, call, NULL);
}


/*
 * Each group of an ended call: its facts (or its failure) go to the cache,
 * and to the look-up "lk" that waits for them, if any: the request has
 * them even if the zone has no room.
 */

static void
ngx_http_upbot_lookup_apply(ngx_http_request_t *r, ngx_http_upbot_call_t *call,
    ngx_http_upbot_lookup_t *lk)
{
    ngx_uint_t                   i;
    ngx_http_upbot_facts_t       facts, *f;
    ngx_http_upbot_seen_t       *seen;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    for (i = 0; i < call->n; i++) {

        if (call->paced) {
            /* no call was made: the provider did not fail, nor will the
             * group be marked so; the next request tries again */

            ngx_http_upbot_cache_release(umcf, call->groups[i]);

            if (lk) {
                lk->failed = 1;
                lk->paced = 1;
                lk->paced_app = call->app;

                if (lk->fail_status != NGX_HTTP_GATEWAY_TIME_OUT) {
                    lk->fail_status = call->status;
                }
            }

            continue;
        }

        if (call->result[i] == NULL) {
            ngx_http_upbot_cache_fail(umcf, call->groups[i], call->status);

            if (lk == NULL) {
                continue;
            }

            lk->failed = 1;

            if (call->status == NGX_HTTP_GATEWAY_TIME_OUT
                || lk->fail_status != NGX_HTTP_GATEWAY_TIME_OUT)
            {
                lk->fail_status = call->status;
            }

            continue;
        }

        seen = lk ? &lk->seen[call->index[i]] : NULL;
        f = seen ? &seen->facts : &facts;

        ngx_http_upbot_facts_from(f, call->result[i]);
        ngx_http_upbot_cache_store(umcf, call->groups[i], f);

        if (seen) {
            seen->fetched = 1;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upbot: group \"%V\" applied%s",
                       &call->groups[i]->live->key, f->gone ? ", gone" : "");
    }

    ngx_http_upbot_lookup_wake_all(umcf);
}


/*
 * The facts of a look-up that found every group it looked at fresh, kept
 * as the worker's view of the pool: in the block of the last view when
 * they fit, else in a new one of at least twice its size, so that the
 * blocks a pool takes from the cycle's pool stay few.
 */

static void
ngx_http_upbot_lookup_keep(ngx_http_upbot_lookup_t *lk, ngx_uint_t n,
    ngx_msec_t until)
{
    u_char                  *p;
    size_t                   size;
    ngx_uint_t               i;
    ngx_http_upbot_facts_t  *live, *facts;
    ngx_http_upbot_view_t   *view;
    ngx_http_upbot_code_t   *code = lk->code;

    size = sizeof(ngx_http_upbot_view_t)
           + n * (sizeof(ngx_http_upbot_facts_t *)
                  + sizeof(ngx_http_upbot_facts_t));

    for (i = 0; i < n; i++) {
        if (code->groups[i].live) {
            facts = &lk->seen[i].facts;
            size += facts->name.len + facts->face_url.len + facts->url.len;
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
    view->nfacts = n;
    view->facts = (ngx_http_upbot_facts_t **) (view + 1);

    live = (ngx_http_upbot_facts_t *) (view->facts + n);
    p = (u_char *) (live + n);

    for (i = 0; i < n; i++) {

        if (code->groups[i].live == NULL) {
            view->facts[i] = ngx_http_upbot_static_facts(&code->groups[i]);
            continue;
        }

        facts = &lk->seen[i].facts;

        live[i] = *facts;

        live[i].name.data = p;
        p = ngx_cpymem(p, facts->name.data, facts->name.len);
        live[i].face_url.data = p;
        p = ngx_cpymem(p, facts->face_url.data, facts->face_url.len);
        live[i].url.data = p;
        p = ngx_cpymem(p, facts->url.data, facts->url.len);

        view->facts[i] = &live[i];
    }
}


/*
 * Another request fetches facts this one needs.  A call of this worker
 * that ends wakes it at once (ngx_http_upbot_lookup_wake_all()); another
 * worker's is seen by the zone's count of changes, read without its mutex.
 * The fetcher's lock expires after lock_timeout, so the wait ends at the
 * latest then, when this request claims the group itself.
 */

static ngx_int_t
ngx_http_upbot_lookup_wait(ngx_http_request_t *r, ngx_http_upbot_lookup_t *lk)
{
    ngx_msec_int_t               timer;
    ngx_http_cleanup_t          *cln;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    if (lk->wait.handler == NULL) {
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_upbot_lookup_cleanup;
        cln->data = lk;

        lk->wait.handler = ngx_http_upbot_lookup_wake;
        lk->wait.data = r;
        lk->wait.log = r->connection->log;

        /* the main conf is zeroed: its list is made on first use */

        if (umcf->waiting.next == NULL) {
            ngx_queue_init(&umcf->waiting);
        }
    }

    if (lk->queue.next == NULL) {
        ngx_queue_insert_tail(&umcf->waiting, &lk->queue);
    }

    lk->waited = 1;

    timer = (ngx_msec_int_t) (lk->lock_until - ngx_current_msec);
    timer = ngx_max(timer, 1);
    timer = ngx_min(timer, NGX_HTTP_UPBOT_WAIT_STEP);

    ngx_add_timer(&lk->wait, (ngx_msec_t) timer);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: code \"%V\" waiting, %M ms at most",
                   &lk->code->code, (ngx_msec_t) timer);

    return NGX_DONE;
}


static void
ngx_http_upbot_lookup_wake(ngx_event_t *ev)
{
    ngx_int_t                    rc;
    ngx_msec_int_t               left;
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_upbot_ctx_t        *ctx;
    ngx_http_upbot_lookup_t     *lk;
    ngx_http_upbot_main_conf_t  *umcf;

    r = ev->data;
    c = r->connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);
    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    lk = ctx->lookup;

    /*
     * Timers expire before posted events run: the timer of a request that
     * a call's end has just woken may come first, and the post then finds
     * it no longer waiting.
     */

    if (ev->posted) {
        ngx_delete_posted_event(ev);
    }

    if (lk->queue.next == NULL) {
        return;
    }

    /* a timer's poll: nothing changed, and the other's lock holds */

    if (ev->timedout) {
        ev->timedout = 0;

        left = (ngx_msec_int_t) (lk->lock_until - ngx_current_msec);

        if (left > 0 && lk->changes == ngx_http_upbot_cache_changes(umcf)) {
            ngx_add_timer(ev, (ngx_msec_t) ngx_min(left,
                                               NGX_HTTP_UPBOT_WAIT_STEP));
            return;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "upbot: code \"%V\" woken: %s", &lk->code->code,
                       left > 0 ? "the zone changed" : "the lock expired");

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "upbot: code \"%V\" woken: a call of this worker "
                       "ended", &lk->code->code);
    }

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    ngx_queue_remove(&lk->queue);
    lk->queue.next = NULL;

    rc = ngx_http_upbot_lookup_look(r, lk, 1);

    if (rc != NGX_DONE) {
        lk->handler(r, rc);
    }

    ngx_http_run_posted_requests(c);
}


/* a call of this worker has ended: its waiting requests look again */

static void
ngx_http_upbot_lookup_wake_all(ngx_http_upbot_main_conf_t *umcf)
{
    ngx_queue_t              *q;
    ngx_http_upbot_lookup_t  *lk;

    if (umcf->waiting.next == NULL) {
        return;
    }

    for (q = ngx_queue_head(&umcf->waiting);
         q != ngx_queue_sentinel(&umcf->waiting);
         q = ngx_queue_next(q))
    {
        lk = ngx_queue_data(q, ngx_http_upbot_lookup_t, queue);

        if (!lk->wait.posted) {
            ngx_post_event(&lk->wait, &ngx_posted_events);
        }
    }
}


static void
ngx_http_upbot_lookup_cleanup(void *data)
{
    ngx_http_upbot_lookup_t  *lk = data;

    if (lk->wait.timer_set) {
        ngx_del_timer(&lk->wait);
    }

    if (lk->wait.posted) {
        ngx_delete_posted_event(&lk->wait);
    }

    if (lk->queue.next) {
        ngx_queue_remove(&lk->queue);
        lk->queue.next = NULL;
    }
}
