
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Provider calls: one subrequest a call, to the app's internal location,
 * which proxy_passes to the provider.  The provider's table says how many
 * groups a call takes and makes its request; the calls run side by side.
 * A body filter reads each answer as it arrives, piece by piece (nothing
 * is kept but the facts; an answer may be as large as the location's
 * subrequest_output_buffer_size).  When a call ends, its post-subrequest
 * handler records what the answer says of each group; the parent request
 * then hands the call to the handler its caller gave, and calls nothing
 * else above it.  A call is made in a slot of its app's rate= (the zone,
 * or the state file's page, keeps the app's latest slot): now, after a
 * timer, or not at all.
 */


#include "ngx_http_upbot.h"


#define NGX_HTTP_UPBOT_ANSWER_MAX   (1024 * 1024)


static ngx_uint_t *ngx_http_upbot_fetch_by_app(ngx_http_request_t *r,
    ngx_http_upbot_code_t *code, ngx_uint_t *index, ngx_uint_t n);
static ngx_uint_t ngx_http_upbot_fetch_batch(ngx_http_upbot_code_t *code,
    ngx_uint_t *sorted, ngx_uint_t i, ngx_uint_t n);
static ngx_int_t ngx_http_upbot_subrequest(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call, ngx_uint_t background);
static ngx_int_t ngx_http_upbot_fetch_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_upbot_fetch_answer(ngx_http_request_t *sr,
    ngx_http_upbot_call_t *call, ngx_int_t rc);
static void ngx_http_upbot_fetch_record(ngx_http_upbot_call_t *call);
static void ngx_http_upbot_fetch_failed(ngx_http_upbot_call_t *call,
    ngx_uint_t status, const char *what, ngx_str_t *detail);
static void ngx_http_upbot_fetch_resume(ngx_http_request_t *r);
static void ngx_http_upbot_fetch_deadline(ngx_event_t *ev);
static ngx_int_t ngx_http_upbot_fetch_slot(ngx_http_upbot_call_t *call,
    ngx_msec_t wait, ngx_msec_t *delay);
static void ngx_http_upbot_fetch_paced(ngx_event_t *ev);
static void ngx_http_upbot_fetch_cleanup(void *data);
static ngx_int_t ngx_http_upbot_fetch_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_upbot_fetch_read(ngx_http_upbot_call_t *call,
    ngx_buf_t *b, ngx_log_t *log);
static u_char *ngx_http_upbot_fetch_log_handler(ngx_http_request_t *r,
    ngx_http_request_t *sr, u_char *buf, size_t len);


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;
static ngx_http_log_handler_pt         ngx_http_upbot_next_log_handler;


ngx_int_t
ngx_http_upbot_fetch_init(ngx_conf_t *cf)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_upbot_fetch_body_filter;

    return NGX_OK;
}


/*
 * The groups code->groups[index[0 .. n - 1]], asked of their providers in
 * as few calls as each provider's batch allows; "handler" gets each call
 * when it has ended.
 */

ngx_int_t
ngx_http_upbot_fetch(ngx_http_request_t *r, ngx_http_upbot_code_t *code,
    ngx_uint_t *index, ngx_uint_t n, ngx_http_upbot_fetch_pt handler,
    ngx_uint_t background)
{
    ngx_str_t                   *trace;
    ngx_msec_t                   delay;
    ngx_uint_t                   i, j, k, *sorted, paced;
    ngx_pool_cleanup_t          *cln;
    ngx_http_upbot_ctx_t        *ctx;
    ngx_http_upbot_call_t       *call;
    ngx_http_upbot_fetch_t      *fetch;
    ngx_http_upbot_main_conf_t  *umcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    trace = ngx_http_upbot_trace_id(r, ctx);
    if (trace == NULL) {
        return NGX_ERROR;
    }

    sorted = ngx_http_upbot_fetch_by_app(r, code, index, n);
    if (sorted == NULL) {
        return NGX_ERROR;
    }

    fetch = ngx_pcalloc(r->pool, sizeof(ngx_http_upbot_fetch_t));
    if (fetch == NULL) {
        return NGX_ERROR;
    }

    /* a call for each app's run of groups, or each batch of it */

    for (i = 0; i < n; i = k) {
        k = ngx_http_upbot_fetch_batch(code, sorted, i, n);
        fetch->ncalls++;
    }

    fetch->calls = ngx_pcalloc(r->pool,
                               fetch->ncalls * sizeof(ngx_http_upbot_call_t));
    if (fetch->calls == NULL) {
        return NGX_ERROR;
    }

    fetch->handler = handler;
    fetch->background = background;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    paced = 0;

    call = fetch->calls;

    for (i = 0; i < n; i = k, call++) {
        k = ngx_http_upbot_fetch_batch(code, sorted, i, n);

        call->fetch = fetch;
        call->r = r;
        call->app = code->groups[sorted[i]].live->app;
        call->index = &sorted[i];
        call->n = k - i;
        call->pool = r->pool;
        call->log = r->connection->log;
        call->trace_id = *trace;
        call->start = ngx_current_msec;

        call->groups = ngx_palloc(r->pool,
                                  call->n * sizeof(ngx_http_upbot_group_t *));
        call->result = ngx_pcalloc(r->pool,
                             call->n * sizeof(ngx_http_upbot_fetched_t *));
        if (call->groups == NULL || call->result == NULL) {
            return NGX_ERROR;
        }

        for (j = 0; j < call->n; j++) {
            call->groups[j] = &code->groups[call->index[j]];
        }

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_upbot_fetch_cleanup;
        cln->data = call;

        /*
         * The call's slot of its app's rate: a refresh in the background
         * is made only in a slot free now, else left to a later request
         * (the stale facts serve meanwhile); a client's call waits for
         * its slot up to the app's rate_wait, else is not made at all
         */

        if (ngx_http_upbot_fetch_slot(call, background ? 0
                                                        : call->app->rate_wait,
                                      &delay)
            == NGX_BUSY)
        {
            if (background) {
                for (j = 0; j < call->n; j++) {
                    ngx_http_upbot_cache_release(umcf, call->groups[j]);
                }

                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "upbot: refresh put off: %V at its rate",
                               &call->app->name);
                continue;
            }

            call->paced = 1;
            call->done = 1;
            call->status = NGX_HTTP_SERVICE_UNAVAILABLE;
            fetch->pending++;
            paced = 1;

            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "upbot: %V: no call within %M ms at its "
                          "rate=%V (groups: %ui), trace id \"%V\"",
                          &call->app->name, call->app->rate_wait,
                          &call->app->rate_text, call->n, &call->trace_id);

            ngx_http_upbot_metrics_call(call, ngx_http_upbot_call_paced);
            continue;
        }

        if (call->app->provider->create_request(call) != NGX_OK) {
            return NGX_ERROR;
        }

        fetch->pending++;

        if (delay) {
            call->pace.handler = ngx_http_upbot_fetch_paced;
            call->pace.data = call;
            call->pace.log = r->connection->log;

            ngx_add_timer(&call->pace, delay);

            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "upbot: call to %V in %M ms, at its rate=%V",
                           &call->app->name, delay, &call->app->rate_text);
            continue;
        }

        if (ngx_http_upbot_subrequest(r, call, background) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upbot: call sent%s: %V, %ui groups, to \"%V\", "
                       "code \"%V\"", background ? " in the background" : "",
                       &call->app->name, call->n, &call->uri, &code->code);
    }

    if (!background) {
        ctx->fetch = fetch;
        r->write_event_handler = ngx_http_upbot_fetch_resume;

        /* calls not made are handed back as the others are */

        if (paced && ngx_http_post_request(r, NULL) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The time between two calls of an app at its rate (thousandths of a call
 * a second), and a fifth of it more, for calls that reach the provider
 * bunched: a bucket of one call, so no second holds more calls than the
 * rate, and calls come evenly.  A bucket of a second's calls, as a first
 * version had, let the bench's cold start begin 200 calls within 0.1 s; a
 * provider's servers take them in over a longer time (the mock: 0.3 to
 * 0.9 s) and count some with the next second's: the mock saw 269 in a
 * second at rate=200r/s, nginx having started 200.  Evenly, a tenth more
 * covers a stall of 100 ms on the way: the mock, on this shared 2-core
 * machine, still saw 207 to 210 (nginx: at most 185); a fifth covers
 * 200 ms, for 167 calls a second at 200r/s.
 */

uint64_t
ngx_http_upbot_call_interval(ngx_uint_t rate)
{
    return (uint64_t) 1200000000 / rate;
}


/*
 * A slot of the app's rate for the call, shared by every worker (and by
 * every nginx of the state file, ngx_http_upbot_pace.c): at least the
 * app's interval after the slot taken before it.  NGX_BUSY: no slot
 * within "wait"; else *delay, in ms, until it.
 *
 * ngx_time_update() is a gettimeofday() and a clock_gettime() (vDSO),
 * once per provider call, not per request.
 */

static ngx_int_t
ngx_http_upbot_fetch_slot(ngx_http_upbot_call_t *call, ngx_msec_t wait,
    ngx_msec_t *delay)
{
    ngx_atomic_uint_t           now, start;
    ngx_http_upbot_app_node_t  *am = call->app->shared;

    *delay = 0;

    if (am == NULL) {
        return NGX_OK;          /* no zone: no live groups, no calls */
    }

    /* now as the timer that waits for the slot will count */

    ngx_time_update();

    now = (ngx_atomic_uint_t) ngx_current_msec * 1000;

    if (ngx_http_upbot_pace_take(call->app->pace, now,
                                 (ngx_atomic_uint_t) am->interval,
                                 (ngx_atomic_uint_t) wait * 1000, &start)
        == NGX_BUSY)
    {
        return NGX_BUSY;
    }

    *delay = (ngx_msec_t) ((start - now + 999) / 1000);

    return NGX_OK;
}


/* the call's slot has come: it is made now */

static void
ngx_http_upbot_fetch_paced(ngx_event_t *ev)
{
    ngx_connection_t       *c;
    ngx_http_request_t     *r;
    ngx_http_upbot_call_t  *call = ev->data;

    r = call->r;
    c = r->connection;

    call->start = ngx_current_msec;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "upbot: call sent at its slot: %V", &call->app->name);

    if (ngx_http_upbot_subrequest(r, call, 0) != NGX_OK) {
        call->done = 1;
        call->status = NGX_HTTP_BAD_GATEWAY;

        (void) ngx_http_post_request(r, NULL);
    }

    ngx_http_run_posted_requests(c);
}


/* the end of the call that starts at sorted[i]: its app's, in its batch */

static ngx_uint_t
ngx_http_upbot_fetch_batch(ngx_http_upbot_code_t *code, ngx_uint_t *sorted,
    ngx_uint_t i, ngx_uint_t n)
{
    ngx_uint_t             k;
    ngx_http_upbot_app_t  *app;

    app = code->groups[sorted[i]].live->app;

    for (k = i + 1;
         k < n && code->groups[sorted[k]].live->app == app
         && k - i < app->provider->batch;
         k++)
    {
        /* void */
    }

    return k;
}


/* index[] in pool order, regrouped by app: each app's groups in a row */

static ngx_uint_t *
ngx_http_upbot_fetch_by_app(ngx_http_request_t *r,
    ngx_http_upbot_code_t *code, ngx_uint_t *index, ngx_uint_t n)
{
    ngx_uint_t             i, j, k, *sorted;
    ngx_http_upbot_app_t  *app;

    sorted = ngx_palloc(r->pool, n * sizeof(ngx_uint_t));
    if (sorted == NULL) {
        return NULL;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        app = code->groups[index[i]].live->app;

        for (j = 0; j < i; j++) {
            if (code->groups[index[j]].live->app == app) {
                break;
            }
        }

        if (j < i) {
            continue;                   /* that app is gathered already */
        }

        for (j = i; j < n; j++) {
            if (code->groups[index[j]].live->app == app) {
                sorted[k++] = index[j];
            }
        }
    }

    return sorted;
}


/*
 * A subrequest with its own method, headers and body: none of the
 * client's headers (its Authorization above all) goes to a provider.
 */

static ngx_int_t
ngx_http_upbot_subrequest(ngx_http_request_t *r, ngx_http_upbot_call_t *call,
    ngx_uint_t background)
{
    ngx_buf_t                    *b;
    ngx_str_t                    *body;
    ngx_uint_t                    i;
    ngx_chain_t                  *cl;
    ngx_table_elt_t              *h;
    ngx_http_request_t           *sr;
    ngx_http_request_body_t      *rb;
    ngx_http_post_subrequest_t   *ps;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_upbot_fetch_done;
    ps->data = call;

    if (ngx_http_subrequest(r, &call->uri, &call->args, &sr, ps,
                            background ? NGX_HTTP_SUBREQUEST_BACKGROUND
                                       : NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the call as a whole has a deadline, whatever pace its answer has */

    call->sr = sr;
    call->deadline.handler = ngx_http_upbot_fetch_deadline;
    call->deadline.data = call;
    call->deadline.log = r->connection->log;

    ngx_add_timer(&call->deadline, call->app->timeout);

    /* the error lines of the request hide the calls' queries (a UserSig) */

    if (ngx_http_upbot_next_log_handler == NULL) {
        ngx_http_upbot_next_log_handler = r->main->log_handler;
    }

    if (r->main->log_handler == ngx_http_upbot_next_log_handler) {
        r->main->log_handler = ngx_http_upbot_fetch_log_handler;
    }

    if (ngx_http_upbot_reply_init(&call->reply, r->pool, call->app->provider,
                                  &call->app->url_field, call->n)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    body = call->body.data ? &call->body : NULL;

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    sr->headers_in.server = r->headers_in.server;
    sr->headers_in.content_length_n = body ? (off_t) body->len : -1;
    sr->headers_in.keep_alive_n = -1;

    if (ngx_list_init(&sr->headers_in.headers, r->pool, call->nheaders + 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < call->nheaders; i++) {
        h = ngx_list_push(&sr->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = call->headers[i];
    }

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_ERROR;
    }

    if (body) {
        sr->method = NGX_HTTP_POST;
        ngx_str_set(&sr->method_name, "POST");

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->pos = body->data;
        b->last = body->data + body->len;
        b->start = b->pos;
        b->end = b->last;
        b->memory = 1;
        b->last_buf = 1;
        b->last_in_chain = 1;

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = NULL;

        rb->bufs = cl;

    } else {
        sr->method = NGX_HTTP_GET;
        ngx_str_set(&sr->method_name, "GET");
    }

    sr->request_body = rb;
    sr->header_only = 0;

    return NGX_OK;
}


/*
 * The call has ended: what its answer says of each group is recorded,
 * nothing more; a background call (a refresh no client waits for) is
 * handed to its handler here, for its parent is not woken.  A
 * subrequest's post handler may run again as it is finalized.  What it
 * returns is the subrequest's end: NGX_OK, whatever the provider did, for
 * NGX_ERROR would end the client's request too.
 */

static ngx_int_t
ngx_http_upbot_fetch_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_upbot_call_t *call = data;

    ngx_http_upbot_fetch_t  *fetch = call->fetch;

    if (call->done) {
        return NGX_OK;
    }

    call->done = 1;

    if (call->deadline.timer_set) {
        ngx_del_timer(&call->deadline);
    }

    if (ngx_http_upbot_fetch_answer(sr, call, rc) != NGX_OK) {
        return NGX_ERROR;
    }

    if (fetch->background) {
        call->reported = 1;
        fetch->pending--;
        fetch->handler(sr->parent, call);
    }

    return NGX_OK;
}


/* what became of the call: its answer read, or why there is none */

static ngx_int_t
ngx_http_upbot_fetch_answer(ngx_http_request_t *sr,
    ngx_http_upbot_call_t *call, ngx_int_t rc)
{
    ngx_int_t   prc;
    ngx_str_t   detail;
    ngx_uint_t  status;

    status = sr->headers_out.status;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, call->log, 0,
                   "upbot: answer read: %V, rc:%i status:%ui, %uz bytes",
                   &call->app->name, rc, status, call->reply.size);

    if (call->timed_out) {
        detail.data = ngx_pnalloc(call->pool, sizeof("no answer within ms")
                                              + NGX_TIME_T_LEN);
        if (detail.data == NULL) {
            return NGX_ERROR;
        }

        detail.len = ngx_sprintf(detail.data, "no answer within %M ms",
                                 call->app->timeout)
                     - detail.data;

        ngx_http_upbot_fetch_failed(call, NGX_HTTP_GATEWAY_TIME_OUT,
                                    "the call was given up", &detail);
        ngx_http_upbot_metrics_call(call, ngx_http_upbot_call_timeout);
        return NGX_OK;
    }

    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE || status == 0) {
        status = (rc == NGX_HTTP_GATEWAY_TIME_OUT
                  || status == NGX_HTTP_GATEWAY_TIME_OUT)
                 ? NGX_HTTP_GATEWAY_TIME_OUT : NGX_HTTP_BAD_GATEWAY;

        ngx_str_set(&detail, "no answer (see the error above)");
        ngx_http_upbot_fetch_failed(call, status, "the call failed", &detail);
        ngx_http_upbot_metrics_call(call, status == NGX_HTTP_GATEWAY_TIME_OUT
                                          ? ngx_http_upbot_call_timeout
                                          : ngx_http_upbot_call_failed);
        return NGX_OK;
    }

    if (status != NGX_HTTP_OK) {
        detail.data = ngx_pnalloc(call->pool, NGX_INT_T_LEN + 6);
        if (detail.data == NULL) {
            return NGX_ERROR;
        }

        detail.len = ngx_sprintf(detail.data, "HTTP %ui", status)
                     - detail.data;

        ngx_http_upbot_fetch_failed(call,
                                    status == NGX_HTTP_GATEWAY_TIME_OUT
                                    ? NGX_HTTP_GATEWAY_TIME_OUT
                                    : NGX_HTTP_BAD_GATEWAY,
                                    "the call failed", &detail);
        ngx_http_upbot_metrics_call(call, ngx_http_upbot_call_http);
        return NGX_OK;
    }

    if (call->too_big) {
        ngx_str_set(&detail, "the answer is larger than 1 MB and than "
                             "subrequest_output_buffer_size");
        ngx_http_upbot_fetch_failed(call, NGX_HTTP_BAD_GATEWAY,
                                    "the call failed", &detail);
        ngx_http_upbot_metrics_call(call, ngx_http_upbot_call_too_big);
        return NGX_OK;
    }

    prc = ngx_http_upbot_reply_finish(&call->reply);

    if (prc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (prc == NGX_DECLINED) {
        ngx_http_upbot_fetch_failed(call, NGX_HTTP_BAD_GATEWAY,
                                    "the answer is not understood",
                                    &call->reply.why);
        ngx_http_upbot_metrics_call(call, ngx_http_upbot_call_invalid);
        return NGX_OK;
    }

    ngx_http_upbot_fetch_record(call);

    return NGX_OK;
}


/* each group of an understood answer: its facts, gone, or failed */

static void
ngx_http_upbot_fetch_record(ngx_http_upbot_call_t *call)
{
    ngx_uint_t                        i, missing;
    ngx_http_upbot_group_t           *group;
    ngx_http_upbot_reply_t           *reply = &call->reply;
    ngx_http_upbot_fetched_t         *f;
    const ngx_http_upbot_provider_t  *provider = call->app->provider;

    /*
     * The whole call refused, unless a provider that asks of one group a
     * call says with it that the group is gone.
     */

    if (reply->error != provider->ok
        && !(provider->batch == 1 && provider->gone(reply->error)))
    {
        ngx_http_upbot_fetch_failed(call, NGX_HTTP_BAD_GATEWAY,
                                    "the provider refused the call", NULL);
        ngx_http_upbot_metrics_call(call, ngx_http_upbot_call_refused);
        ngx_http_upbot_metrics_groups(call->app, NGX_HTTP_UPBOT_GROUP_ERROR,
                                      reply->error, call->n);
        return;
    }

    ngx_http_upbot_metrics_call(call, ngx_http_upbot_call_ok);

    call->status = NGX_HTTP_BAD_GATEWAY;
    missing = 0;

    for (i = 0; i < call->n; i++) {
        group = call->groups[i];

        f = provider->find(reply, group);

        if (f == NULL) {
            missing++;
            continue;
        }

        if (f->error && !provider->gone(f->error)) {
            ngx_log_error(NGX_LOG_ERR, call->log, 0,
                          "upbot: %V: group \"%V\" failed with provider "
                          "error %i, trace id \"%V\"", &call->app->name,
                          &group->id, f->error, &call->trace_id);
            ngx_http_upbot_metrics_groups(call->app,
                                          NGX_HTTP_UPBOT_GROUP_ERROR,
                                          f->error, 1);
            continue;
        }

        call->result[i] = f;

        ngx_http_upbot_metrics_groups(call->app,
                                      f->error ? NGX_HTTP_UPBOT_GROUP_GONE
                                               : NGX_HTTP_UPBOT_GROUP_OK,
                                      0, 1);

        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, call->log, 0,
                       "upbot: %V: group \"%V\": %s, members:%i/%i",
                       &call->app->name, &group->id,
                       f->error ? "gone" : "ok", f->members,
                       f->max_members);
    }

    if (missing) {
        ngx_http_upbot_metrics_groups(call->app,
                                      NGX_HTTP_UPBOT_GROUP_MISSING, 0,
                                      missing);

        ngx_log_error(NGX_LOG_ERR, call->log, 0,
                      "upbot: %V: %ui of %ui groups missing from the answer",
                      &call->app->name, missing, call->n);
    }
}


/* one error-log line a failed call: provider, app, groups, trace id */

static void
ngx_http_upbot_fetch_failed(ngx_http_upbot_call_t *call, ngx_uint_t status,
    const char *what, ngx_str_t *detail)
{
    ngx_http_upbot_reply_t  *reply = &call->reply;

    call->status = status;

    if (detail == NULL) {
        ngx_log_error(NGX_LOG_ERR, call->log, 0,
                      "upbot: %V: %s: provider error %i \"%V\" "
                      "(groups: %ui), trace id \"%V\"",
                      &call->app->name, what, reply->error, &reply->info,
                      call->n, &call->trace_id);

    } else {
        ngx_log_error(NGX_LOG_ERR, call->log, 0,
                      "upbot: %V: %s: %V (groups: %ui), trace id \"%V\"",
                      &call->app->name, what, detail, call->n,
                      &call->trace_id);
    }
}


/*
 * The call's deadline (the app's timeout=) has passed: it is given up the
 * way nginx gives up an upstream that is too slow, by making the timer the
 * upstream waits on expire now, with no other server to try.  The
 * subrequest then ends with 504, and fetch_done() records the call as
 * failed.
 */

static void
ngx_http_upbot_fetch_deadline(ngx_event_t *ev)
{
    ngx_event_t             *uev;
    ngx_connection_t        *c;
    ngx_http_upstream_t     *u;
    ngx_http_upbot_call_t   *call = ev->data;

    if (call->done) {
        return;
    }

    u = call->sr->upstream;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "upbot: call to %V given up after %M ms, upstream:%p",
                   &call->app->name, call->app->timeout, u);

    if (u == NULL || u->peer.connection == NULL) {
        /* not talking to the provider yet: nothing to give up but time */
        ngx_add_timer(ev, 100);
        return;
    }

    call->timed_out = 1;

    c = u->peer.connection;

    uev = (c->write->timer_set && !c->read->timer_set) ? c->write : c->read;

    if (uev->timer_set) {
        ngx_del_timer(uev);
    }

    u->peer.tries = 1;
    uev->timedout = 1;
    uev->handler(uev);
}


/* the request ends before its call: its timers go with it */

static void
ngx_http_upbot_fetch_cleanup(void *data)
{
    ngx_http_upbot_call_t  *call = data;

    if (call->deadline.timer_set) {
        ngx_del_timer(&call->deadline);
    }

    if (call->pace.timer_set) {
        ngx_del_timer(&call->pace);
    }
}


/*
 * The parent runs this when a subrequest ends: each ended call goes to the
 * handler once; the handler of the last one goes on with the request.
 */

static void
ngx_http_upbot_fetch_resume(ngx_http_request_t *r)
{
    ngx_uint_t               i;
    ngx_http_upbot_ctx_t    *ctx;
    ngx_http_upbot_call_t   *call;
    ngx_http_upbot_fetch_t  *fetch;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);
    fetch = ctx->fetch;

    for (i = 0; i < fetch->ncalls; i++) {
        call = &fetch->calls[i];

        if (!call->done || call->reported) {
            continue;
        }

        call->reported = 1;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upbot: call ended: %V, after %M ms",
                       &call->app->name,
                       (ngx_msec_t) (ngx_current_msec - call->start));

        if (--fetch->pending == 0) {
            r->write_event_handler = ngx_http_request_empty_handler;
            fetch->handler(r, call);
            return;
        }

        fetch->handler(r, call);
    }
}


/*
 * The answers of upbot's own subrequests stop here: parsed as they pass,
 * then dropped, so they never reach the client's response.
 */

static ngx_int_t
ngx_http_upbot_fetch_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_http_upbot_call_t     *call;
    ngx_http_core_loc_conf_t  *clcf;

    if (r == r->main || r->post_subrequest == NULL
        || r->post_subrequest->handler != ngx_http_upbot_fetch_done)
    {
        return ngx_http_next_body_filter(r, in);
    }

    call = r->post_subrequest->data;

    if (call->limit == 0) {
        /* Tencent's own limit is 1 MB; a location may allow more */
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
        call->limit = ngx_max(clcf->subrequest_output_buffer_size,
                              NGX_HTTP_UPBOT_ANSWER_MAX);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        /* an error page made for a failed call is not an answer */

        if (!call->done && !call->too_big
            && r->headers_out.status == NGX_HTTP_OK)
        {
            if (ngx_http_upbot_fetch_read(call, b, r->connection->log)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_fetch_read(ngx_http_upbot_call_t *call, ngx_buf_t *b,
    ngx_log_t *log)
{
    u_char   buf[4096];
    off_t    pos;
    size_t   size;
    ssize_t  n;

    if (ngx_buf_in_memory(b)) {
        size = b->last - b->pos;

        if (call->reply.size + size > call->limit) {
            call->too_big = 1;
            return NGX_OK;
        }

        return ngx_http_upbot_reply_feed(&call->reply, b->pos, size);
    }

    if (!b->in_file) {
        return NGX_OK;
    }

    /* buffered to a temp file by the proxy: read it back in pieces */

    for (pos = b->file_pos; pos < b->file_last; pos += n) {
        size = (size_t) ngx_min(b->file_last - pos, (off_t) sizeof(buf));

        if (call->reply.size + size > call->limit) {
            call->too_big = 1;
            return NGX_OK;
        }

        n = ngx_read_file(b->file, buf, size, pos);

        if (n == NGX_ERROR || n == 0) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "upbot: cannot read a provider's answer back "
                          "from \"%V\"", &b->file->name);
            return NGX_ERROR;
        }

        if (ngx_http_upbot_reply_feed(&call->reply, buf, n) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * nginx's error lines name the upstream's URL with its query, and
 * Tencent's query carries the UserSig, a credential good for a day.  While
 * one of upbot's calls is the current request, the line shows the URL up
 * to the "?".
 */

static u_char *
ngx_http_upbot_fetch_log_handler(ngx_http_request_t *r, ngx_http_request_t *sr,
    u_char *buf, size_t len)
{
    u_char               *p, *q;
    size_t                n;
    ngx_http_upstream_t  *u;

    u = sr->upstream;

    if (u == NULL || sr->post_subrequest == NULL
        || sr->post_subrequest->handler != ngx_http_upbot_fetch_done)
    {
        return ngx_http_upbot_next_log_handler(r, sr, buf, len);
    }

    n = u->uri.len;
    q = ngx_strlchr(u->uri.data, u->uri.data + n, '?');

    if (q) {
        u->uri.len = q - u->uri.data;
    }

    p = ngx_http_upbot_next_log_handler(r, sr, buf, len);

    u->uri.len = n;

    return p;
}
