
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The counters behind upbot_metrics and upbot_status: in the zone, so one
 * view for every worker, kept across reloads and zero after a restart.
 * Most are fixed arrays counted with atomic adds, as stub_status counts;
 * an app's calls are a node per app made at load; a code's funnel is a
 * node made at its first count and kept, within half the zone.
 * Requests are counted at the log phase, once their answer is known.
 * Nothing is counted unless a location shows the counters.
 */


#include "ngx_http_upbot.h"


/* a bucket's bound, in ms; the last is +Inf */
static ngx_uint_t  ngx_http_upbot_buckets[NGX_HTTP_UPBOT_BUCKETS - 1] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

/* the seeds' event ids, the funnel's steps after the answer */
static ngx_str_t  ngx_http_upbot_event_kinds[NGX_HTTP_UPBOT_EVENT_KINDS] = {
    ngx_string("1110201"),              /* exposure */
    ngx_string("1110204"),              /* long-press */
    ngx_string("1100102"),              /* mini-program jump */
    ngx_string("other")
};


static ngx_int_t ngx_http_upbot_metrics_log(ngx_http_request_t *r);
static void ngx_http_upbot_observe(ngx_http_upbot_histogram_t *h,
    ngx_msec_int_t ms);
static ngx_uint_t ngx_http_upbot_event_kind(ngx_str_t *id);
static ngx_http_upbot_funnel_t *ngx_http_upbot_funnel_get(
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_code_t *code);


/* a new zone's counters */

void
ngx_http_upbot_metrics_zone(ngx_http_upbot_metrics_t *m)
{
    ngx_memzero(m, sizeof(ngx_http_upbot_metrics_t));

    ngx_rbtree_init(&m->apps, &m->apps_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&m->funnels, &m->funnels_sentinel,
                    ngx_str_rbtree_insert_value);
}


/*
 * The configuration being loaded: each app gets its node, found or made,
 * for the pace of its calls, and counts in the zone's counters if it
 * shows them (upbot_metrics or upbot_status).  In the master, with the
 * zone's mutex.
 */

ngx_int_t
ngx_http_upbot_metrics_attach(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_metrics_t *m)
{
    uint32_t                    hash;
    ngx_uint_t                  i;
    ngx_http_upbot_app_t       *apps;
    ngx_http_upbot_app_node_t  *am;

    umcf->metrics = umcf->shown_line ? m : NULL;

    apps = umcf->apps.elts;

    for (i = 0; i < umcf->apps.nelts; i++) {
        hash = ngx_crc32_short(apps[i].name.data, apps[i].name.len);

        am = (ngx_http_upbot_app_node_t *)
                 ngx_str_rbtree_lookup(&m->apps, &apps[i].name, hash);

        if (am == NULL) {
            am = ngx_http_upbot_cache_alloc_locked(umcf,
                     offsetof(ngx_http_upbot_app_node_t, data)
                     + apps[i].name.len);

            if (am == NULL) {
                ngx_log_error(NGX_LOG_EMERG, ngx_cycle->log, 0,
                              "upbot_zone is too small for the counters "
                              "of app \"%V\"", &apps[i].name);
                return NGX_ERROR;
            }

            ngx_memzero(am, offsetof(ngx_http_upbot_app_node_t, data));

            am->sn.node.key = hash;
            am->sn.str.data = am->data;
            am->sn.str.len = apps[i].name.len;
            ngx_memcpy(am->data, apps[i].name.data, apps[i].name.len);

            ngx_rbtree_insert(&m->apps, &am->sn.node);
        }

        /*
         * the app's rate= as the time between two calls, µs: a new rate
         * replaces the old (the workers of the last configuration pace
         * their calls by it too: they look at the node, not at their app)
         */

        am->interval = ngx_http_upbot_call_interval(apps[i].rate);

        apps[i].shared = am;
        apps[i].metrics = umcf->metrics ? am : NULL;
    }

    return NGX_OK;
}


/*
 * Requests are counted when they are logged, if a location shows the
 * counters: a configuration that never shows them pays nothing for them.
 */

ngx_int_t
ngx_http_upbot_metrics_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt         *h;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upbot_module);

    if (umcf->shown_line == 0) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_upbot_metrics_log;

    return NGX_OK;
}


/*
 * A request of an API location: by API and ret (rets are 0 and 1001 on,
 * one apart, as the error table's rows), its time from the request line
 * to now, the cache's status and the pick.
 */

static ngx_int_t
ngx_http_upbot_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                   row;
    ngx_time_t                  *tp;
    ngx_msec_int_t               ms;
    ngx_http_upbot_ctx_t        *ctx;
    ngx_http_upbot_metrics_t    *m;
    ngx_http_upbot_main_conf_t  *umcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    if (ctx == NULL || ctx->api == NULL) {
        return NGX_OK;
    }

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    m = umcf->metrics;

    if (m == NULL) {
        return NGX_OK;
    }

    if (ctx->ret < 0) {
        row = NGX_HTTP_UPBOT_NERRORS;

    } else {
        row = ctx->ret == 0 ? 0 : (ngx_uint_t) ctx->ret - 1000;

        if (row >= NGX_HTTP_UPBOT_NERRORS) {
            row = NGX_HTTP_UPBOT_NERRORS;
        }
    }

    (void) ngx_atomic_fetch_add(&m->requests[ctx->api->index][row], 1);

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    ngx_http_upbot_observe(&m->duration[ctx->api->index], ms);

    if (ctx->cache_status != NGX_HTTP_UPBOT_CACHE_NONE) {
        (void) ngx_atomic_fetch_add(&m->cache[ctx->cache_status], 1);
    }

    if (ctx->picked != ngx_http_upbot_picked_none) {
        (void) ngx_atomic_fetch_add(&m->picks[ctx->picked], 1);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: counted: %V, ret row %ui, %M ms",
                   &ctx->api->name, row, (ngx_msec_t) ngx_max(ms, 0));

    return NGX_OK;
}


/* a provider call has ended: how, and how long it took */

void
ngx_http_upbot_metrics_call(ngx_http_upbot_call_t *call,
    ngx_http_upbot_outcome_e outcome)
{
    ngx_http_upbot_app_node_t  *am = call->app->metrics;

    if (am == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&am->calls[outcome], 1);

    if (outcome != ngx_http_upbot_call_paced) {
        ngx_http_upbot_observe(&am->duration,
                               (ngx_msec_int_t) (ngx_current_msec
                                                 - call->start));
    }
}


/*
 * What a call said of n groups.  A provider's error code has a place of
 * its own, the first NGX_HTTP_UPBOT_APP_ERRORS codes an app gives; any
 * later one is counted as "other".
 */

void
ngx_http_upbot_metrics_groups(ngx_http_upbot_app_t *app, ngx_uint_t result,
    ngx_int_t error, ngx_uint_t n)
{
    ngx_uint_t                  i;
    ngx_atomic_uint_t           code;
    ngx_http_upbot_app_node_t  *am = app->metrics;

    if (am == NULL || n == 0) {
        return;
    }

    switch (result) {

    case NGX_HTTP_UPBOT_GROUP_OK:
        (void) ngx_atomic_fetch_add(&am->ok, n);
        return;

    case NGX_HTTP_UPBOT_GROUP_GONE:
        (void) ngx_atomic_fetch_add(&am->gone, n);
        return;

    case NGX_HTTP_UPBOT_GROUP_MISSING:
        (void) ngx_atomic_fetch_add(&am->missing, n);
        return;
    }

    /* 0 marks a free place: a code of 0 that is an error is "other" */

    code = (ngx_atomic_uint_t) error;

    for (i = 0; code && i < NGX_HTTP_UPBOT_APP_ERRORS; i++) {

        if (am->error[i] == 0) {
            (void) ngx_atomic_cmp_set(&am->error[i], 0, code);
        }

        if (am->error[i] == code) {
            (void) ngx_atomic_fetch_add(&am->errors[i], n);
            return;
        }
    }

    (void) ngx_atomic_fetch_add(&am->other_errors, n);
}


/* the event log: bytes written, and whether the batch failed */

void
ngx_http_upbot_metrics_event_log(ngx_http_request_t *r, size_t bytes,
    ngx_uint_t failed)
{
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    if (umcf->metrics == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&umcf->metrics->event_log_bytes, bytes);

    if (failed) {
        (void) ngx_atomic_fetch_add(&umcf->metrics->event_log_errors, 1);
    }
}


/* a stored batch: its events by id, and the funnels of their codes */

void
ngx_http_upbot_metrics_events(ngx_http_request_t *r,
    ngx_http_upbot_media_event_req_t *req)
{
    ngx_str_t                    *last;
    ngx_uint_t                    i, kind;
    ngx_http_upbot_code_t        *code, *last_code;
    ngx_http_upbot_group_t       *group;
    ngx_http_upbot_metrics_t     *m;
    ngx_http_upbot_main_conf_t   *umcf;
    ngx_http_upbot_event_item_t  *items, *item;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    m = umcf->metrics;

    if (m == NULL) {
        return;
    }

    items = req->items->elts;
    last = NULL;
    last_code = NULL;

    for (i = 0; i < req->items->nelts; i++) {
        item = &items[i];

        kind = NGX_HTTP_UPBOT_EVENT_KINDS - 1;

        if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_EVENT_ID)) {
            kind = ngx_http_upbot_event_kind(&item->event_id);
        }

        (void) ngx_atomic_fetch_add(&m->events[kind], 1);

        /* the funnel: the steps, of codes that are in the table */

        if (kind == NGX_HTTP_UPBOT_EVENT_KINDS - 1
            || !NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_CODE))
        {
            continue;
        }

        /*
         * the items of a batch mostly share their code: the one looked up
         * for the item before is compared first (looking up each took 180
         * instructions more a batch of 3, bench.pl BENCH_ONLY=ir)
         */

        if (last == NULL
            || last->len != item->code.len
            || ngx_memcmp(last->data, item->code.data, last->len) != 0)
        {
            last = &item->code;
            last_code = ngx_http_upbot_codes_find(umcf, last);
        }

        code = last_code;

        if (code == NULL) {
            continue;
        }

        group = NULL;

        if (item->group.len) {
            for (group = code->groups;
                 group < code->groups + code->ngroups;
                 group++)
            {
                if (group->id.len == item->group.len
                    && ngx_strncmp(group->id.data, item->group.data,
                                   item->group.len) == 0)
                {
                    break;
                }
            }

            if (group == code->groups + code->ngroups) {
                group = NULL;
            }
        }

        ngx_http_upbot_funnel_count(umcf, code, group, kind + 1);
    }
}


/*
 * A step of a code's funnel, in the slot of the group (NULL: tied to no
 * group).  A group that came into the pool after the funnel was made
 * (a reload) counts in slot 0, as the code's.
 */

void
ngx_http_upbot_funnel_count(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_code_t *code, ngx_http_upbot_group_t *group,
    ngx_uint_t step)
{
    ngx_uint_t                     i;
    ngx_http_upbot_funnel_t       *f;
    ngx_http_upbot_funnel_slot_t  *slot;

    if (umcf->metrics == NULL) {
        return;
    }

    f = code->funnel;

    if (f == NULL) {
        f = ngx_http_upbot_funnel_get(umcf, code);

        if (f == NULL) {
            (void) ngx_atomic_fetch_add(&umcf->metrics->funnel_dropped, 1);
            return;
        }
    }

    slot = &f->slots[0];

    if (group) {
        i = group - code->groups + 1;

        if (i < f->nslots && f->slots[i].ident == group->ident) {
            slot = &f->slots[i];

        } else {
            for (i = 1; i < f->nslots; i++) {
                if (f->slots[i].ident == group->ident) {
                    slot = &f->slots[i];
                    break;
                }
            }
        }
    }

    (void) ngx_atomic_fetch_add(&slot->steps[step], 1);
}


/*
 * The code's funnel, found in the zone or made there, and kept for this
 * worker's requests.  Funnels take at most half the zone: past that a new
 * code's steps are not counted (upbot_funnel_dropped_total), tried again
 * a minute later, and the log says so once a minute.
 */

static ngx_http_upbot_funnel_t *
ngx_http_upbot_funnel_get(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_code_t *code)
{
    size_t                     size;
    uint32_t                   hash;
    ngx_uint_t                 i;
    ngx_http_upbot_funnel_t   *f;
    ngx_http_upbot_metrics_t  *m = umcf->metrics;

    if (code->funnel_retry && ngx_time() < code->funnel_retry) {
        return NULL;
    }

    hash = ngx_crc32_short(code->code.data, code->code.len);

    size = offsetof(ngx_http_upbot_funnel_t, slots)
           + (code->ngroups + 1) * sizeof(ngx_http_upbot_funnel_slot_t)
           + code->code.len;

    ngx_http_upbot_cache_begin(umcf);

    f = (ngx_http_upbot_funnel_t *)
            ngx_str_rbtree_lookup(&m->funnels, &code->code, hash);

    if (f == NULL && m->funnel_bytes + size <= umcf->zone->shm.size / 2) {
        f = ngx_http_upbot_cache_alloc_locked(umcf, size);

        if (f) {
            ngx_memzero(f, size);

            f->nslots = code->ngroups + 1;

            for (i = 0; i < code->ngroups; i++) {
                f->slots[i + 1].ident = code->groups[i].ident;
            }

            f->sn.node.key = hash;
            f->sn.str.len = code->code.len;
            f->sn.str.data = (u_char *) &f->slots[f->nslots];
            ngx_memcpy(f->sn.str.data, code->code.data, code->code.len);

            ngx_rbtree_insert(&m->funnels, &f->sn.node);

            m->funnel_bytes += size;
        }
    }

    if (f == NULL && ngx_time() - m->funnel_warned >= 60) {
        m->funnel_warned = ngx_time();

        ngx_http_upbot_cache_end(umcf);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "upbot: no room in upbot_zone for the funnel of "
                      "code \"%V\" (funnels take %uz bytes): its steps "
                      "are not counted", &code->code, m->funnel_bytes);

    } else {
        ngx_http_upbot_cache_end(umcf);
    }

    if (f == NULL) {
        code->funnel_retry = ngx_time() + 60;
        return NULL;
    }

    code->funnel = f;

    return f;
}


/* a code's funnel for the scrape and the status page, or NULL */

ngx_http_upbot_funnel_t *
ngx_http_upbot_funnel_find(ngx_http_upbot_main_conf_t *umcf, ngx_str_t *code)
{
    ngx_http_upbot_funnel_t  *f;

    ngx_http_upbot_cache_begin(umcf);

    f = (ngx_http_upbot_funnel_t *)
            ngx_str_rbtree_lookup(&umcf->metrics->funnels, code,
                                  ngx_crc32_short(code->data, code->len));

    ngx_http_upbot_cache_end(umcf);

    return f;
}


/* the group whose steps a funnel's slot counts, NULL: none in the pool */

ngx_str_t *
ngx_http_upbot_funnel_group(ngx_http_upbot_code_t *code,
    ngx_http_upbot_funnel_t *f, ngx_uint_t slot)
{
    ngx_uint_t  i;

    if (slot == 0) {
        return NULL;
    }

    if (slot - 1 < code->ngroups
        && code->groups[slot - 1].ident == f->slots[slot].ident)
    {
        return &code->groups[slot - 1].id;
    }

    for (i = 0; i < code->ngroups; i++) {
        if (code->groups[i].ident == f->slots[slot].ident) {
            return &code->groups[i].id;
        }
    }

    return NULL;
}


/*
 * Each group of each pool by its state now, and how many expire within
 * a day; live groups as the cache has them, a pool in a hold of the
 * zone's mutex.
 */

void
ngx_http_upbot_groups_now(ngx_http_upbot_main_conf_t *umcf,
    ngx_uint_t *states, ngx_uint_t *expiring)
{
    time_t                   now, expires;
    ngx_uint_t               slot, i;
    ngx_msec_int_t           age;
    ngx_http_upbot_code_t   *code;
    ngx_http_upbot_group_t  *group;
    ngx_http_upbot_facts_t   facts, *f;

    now = ngx_time();

    ngx_memzero(states, NGX_HTTP_UPBOT_STATES * sizeof(ngx_uint_t));
    *expiring = 0;

    for (slot = 0; umcf->ncodes && slot <= umcf->codes_mask; slot++) {
        code = umcf->codes[slot];

        if (code == NULL) {
            continue;
        }

        if (code->live) {
            ngx_http_upbot_cache_begin(umcf);
        }

        for (i = 0; i < code->ngroups; i++) {
            group = &code->groups[i];
            f = ngx_http_upbot_static_facts(group);

            if (group->live) {
                ngx_http_upbot_cache_peek(umcf, group, &facts, &age);
                f = &facts;
            }

            states[ngx_http_upbot_group_state(group, f, now,
                                              umcf->time_offset)]++;

            expires = ngx_http_upbot_group_more(group)->expires;

            if (expires > now && expires - now < 86400) {
                (*expiring)++;
            }
        }

        if (code->live) {
            ngx_http_upbot_cache_end(umcf);
        }
    }
}


static void
ngx_http_upbot_observe(ngx_http_upbot_histogram_t *h, ngx_msec_int_t ms)
{
    ngx_uint_t  i;

    if (ms < 0) {
        ms = 0;     /* another worker's clock, a little behind */
    }

    for (i = 0; i < NGX_HTTP_UPBOT_BUCKETS - 1; i++) {
        if ((ngx_uint_t) ms <= ngx_http_upbot_buckets[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum, ms);
}


static ngx_uint_t
ngx_http_upbot_event_kind(ngx_str_t *id)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_UPBOT_EVENT_KINDS - 1; i++) {
        if (id->len == ngx_http_upbot_event_kinds[i].len
            && ngx_memcmp(id->data, ngx_http_upbot_event_kinds[i].data,
                          id->len) == 0)
        {
            return i;
        }
    }

    return NGX_HTTP_UPBOT_EVENT_KINDS - 1;
}


/* names, for the scrape and the status page */

ngx_uint_t
ngx_http_upbot_bucket_ms(ngx_uint_t i)
{
    return ngx_http_upbot_buckets[i];
}


ngx_str_t *
ngx_http_upbot_event_kind_name(ngx_uint_t kind)
{
    return &ngx_http_upbot_event_kinds[kind];
}


ngx_str_t *
ngx_http_upbot_step_name(ngx_uint_t step)
{
    static ngx_str_t  names[NGX_HTTP_UPBOT_STEPS] = {
        ngx_string("answer"),
        ngx_string("exposure"),
        ngx_string("long_press"),
        ngx_string("jump")
    };

    return &names[step];
}


ngx_str_t *
ngx_http_upbot_outcome_name(ngx_http_upbot_outcome_e outcome)
{
    static ngx_str_t  names[NGX_HTTP_UPBOT_OUTCOMES] = {
        ngx_string("ok"),
        ngx_string("refused"),
        ngx_string("invalid"),
        ngx_string("too_big"),
        ngx_string("http_error"),
        ngx_string("failed"),
        ngx_string("timeout"),
        ngx_string("paced")
    };

    return &names[outcome];
}


ngx_str_t *
ngx_http_upbot_cache_status_name(ngx_uint_t status)
{
    static ngx_str_t  names[NGX_HTTP_UPBOT_CACHE_STATUSES] = {
        ngx_null_string,
        ngx_string("HIT"),
        ngx_string("MISS"),
        ngx_string("STALE"),
        ngx_string("UPDATING"),
        ngx_string("EXPIRED")
    };

    return &names[status];
}
