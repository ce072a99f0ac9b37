
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Fetching group facts: one subrequest per provider call, to the app's
 * internal location, which proxy_passes to the provider.  Tencent takes
 * up to 50 groups a POST, Yunxin one team a GET.  The subrequests run side
 * by side.  A body filter takes their answers as they arrive and parses
 * them piece by piece (nothing is kept but the facts; an answer may be as
 * large as the location's subrequest_output_buffer_size); the facts are
 * stored in the cache, and the request goes on when the last call is in.
 */


#include "ngx_http_upbot.h"

#include <openssl/rand.h>


#define NGX_HTTP_UPBOT_NONCE_LEN    32
#define NGX_HTTP_UPBOT_ANSWER_MAX   (1024 * 1024)


typedef struct {
    ngx_http_upbot_lookup_t        *lk;
    ngx_http_upbot_app_t           *app;
    ngx_uint_t                     *index;       /* the groups of the call */
    ngx_uint_t                      n;
    ngx_http_upbot_reply_t          reply;
    size_t                          limit;       /* of the answer's size */
    unsigned                        too_big:1;
    unsigned                        done:1;
} ngx_http_upbot_call_t;


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;
static ngx_http_log_handler_pt         ngx_http_upbot_next_log_handler;


static ngx_int_t ngx_http_upbot_fetch_tim(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call);
static ngx_int_t ngx_http_upbot_fetch_yunxin(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call);
static ngx_int_t ngx_http_upbot_subrequest(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call, ngx_str_t *uri, ngx_str_t *args,
    ngx_str_t *body, ngx_table_elt_t *headers, ngx_uint_t nheaders);
static ngx_int_t ngx_http_upbot_fetch_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_upbot_fetch_apply(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call, ngx_http_upbot_reply_t *reply);
static void ngx_http_upbot_fetch_failed(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call, ngx_uint_t status, const char *what,
    ngx_http_upbot_reply_t *reply, ngx_str_t *detail);
static void ngx_http_upbot_fetch_resume(ngx_http_request_t *r);
static ngx_int_t ngx_http_upbot_header(ngx_pool_t *pool, ngx_table_elt_t *h,
    const char *key, u_char *value, size_t len);
static ngx_int_t ngx_http_upbot_is_gone(ngx_uint_t source, ngx_int_t error);
static ngx_int_t ngx_http_upbot_fetch_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_upbot_fetch_read(ngx_http_upbot_call_t *call,
    ngx_buf_t *b, ngx_log_t *log);
static u_char *ngx_http_upbot_fetch_log_handler(ngx_http_request_t *r,
    ngx_http_request_t *sr, u_char *buf, size_t len);


ngx_int_t
ngx_http_upbot_fetch_init(ngx_conf_t *cf)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_upbot_fetch_body_filter;

    return NGX_OK;
}


/* every group in lk->fetch, grouped into calls by app */

ngx_int_t
ngx_http_upbot_fetch(ngx_http_request_t *r, ngx_http_upbot_lookup_t *lk)
{
    ngx_uint_t               i, j, k, n, *index;
    ngx_http_upbot_app_t    *app;
    ngx_http_upbot_call_t   *call;
    ngx_http_upbot_group_t  *groups;

    groups = lk->code->groups;

    index = ngx_palloc(r->pool, lk->nfetch * sizeof(ngx_uint_t));
    if (index == NULL) {
        return NGX_ERROR;
    }

    /* lk->fetch in pool order, regrouped by app: each app's groups in a row */

    n = 0;

    for (i = 0; i < lk->nfetch; i++) {
        app = groups[lk->fetch[i]].app;

        for (j = 0; j < i; j++) {
            if (groups[lk->fetch[j]].app == app) {
                break;
            }
        }

        if (j < i) {
            continue;                   /* that app is gathered already */
        }

        for (j = i; j < lk->nfetch; j++) {
            if (groups[lk->fetch[j]].app == app) {
                index[n++] = lk->fetch[j];
            }
        }
    }

    for (i = 0; i < n; i = k) {
        app = groups[index[i]].app;

        for (k = i + 1;
             k < n && groups[index[k]].app == app
             && (app->source == NGX_HTTP_UPBOT_SOURCE_TIM
                 && k - i < NGX_HTTP_UPBOT_TIM_BATCH);
             k++)
        {
            /* void */
        }

        call = ngx_pcalloc(r->pool, sizeof(ngx_http_upbot_call_t));
        if (call == NULL) {
            return NGX_ERROR;
        }

        call->lk = lk;
        call->app = app;
        call->index = &index[i];
        call->n = k - i;

        if ((app->source == NGX_HTTP_UPBOT_SOURCE_TIM
             ? ngx_http_upbot_fetch_tim(r, call)
             : ngx_http_upbot_fetch_yunxin(r, call))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        lk->pending++;
    }

    r->write_event_handler = ngx_http_upbot_fetch_resume;

    return NGX_OK;
}


/*
 * POST {location}?sdkappid=&identifier=&usersig=&random=&contenttype=json
 * with {"GroupIdList":[...],"ResponseFilter":{...}}.  The UserSig is made
 * once per worker and app, and remade at half its life.
 */

static ngx_int_t
ngx_http_upbot_fetch_tim(ngx_http_request_t *r, ngx_http_upbot_call_t *call)
{
    time_t                   now;
    uint32_t                 random;
    ngx_str_t                args, body, **ids;
    ngx_uint_t               i;
    ngx_table_elt_t          h[1];
    ngx_http_upbot_app_t    *app = call->app;
    ngx_http_upbot_group_t  *groups;

    now = ngx_time();

    if (app->usersig_len == 0
        || now - app->usersig_time >= app->expire / 2
        || now < app->usersig_time)
    {
        if (ngx_http_upbot_tim_usersig(&app->identifier, &app->app_id,
                                       &app->secret, now, app->expire,
                                       app->usersig, &app->usersig_len)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "upbot: %V: cannot make a UserSig", &app->name);
            return NGX_ERROR;
        }

        app->usersig_time = now;
    }

    if (RAND_bytes((u_char *) &random, sizeof(random)) != 1) {
        return NGX_ERROR;
    }

    args.len = sizeof("sdkappid=&identifier=&usersig=&random="
                      "&contenttype=json") - 1
               + app->app_id.len + app->identifier.len + app->usersig_len
               + NGX_INT32_LEN;

    args.data = ngx_pnalloc(r->pool, args.len);
    if (args.data == NULL) {
        return NGX_ERROR;
    }

    args.len = ngx_sprintf(args.data,
                           "sdkappid=%V&identifier=%V&usersig=%*s"
                           "&random=%uD&contenttype=json",
                           &app->app_id, &app->identifier,
                           app->usersig_len, app->usersig, random)
               - args.data;

    ids = ngx_palloc(r->pool, call->n * sizeof(ngx_str_t *));
    if (ids == NULL) {
        return NGX_ERROR;
    }

    groups = call->lk->code->groups;

    for (i = 0; i < call->n; i++) {
        ids[i] = &groups[call->index[i]].id;
    }

    if (ngx_http_upbot_tim_body(r->pool, ids, call->n, &app->url_field,
                                &body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_upbot_header(r->pool, &h[0], "Content-Type",
                              (u_char *) "application/json", 16)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_subrequest(r, call, &app->location, &args, &body,
                                     h, 1);
}


/*
 * GET {location}/{team_id}?team_type=N with AppKey, Nonce, CurTime,
 * CheckSum made fresh, and the trace id as X-custom-traceid.  nginx's
 * proxy escapes the team id in the path.
 */

static ngx_int_t
ngx_http_upbot_fetch_yunxin(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call)
{
    u_char                  *p, *nonce, *curtime, *sum;
    u_char                   rnd[NGX_HTTP_UPBOT_NONCE_LEN / 2];
    ngx_str_t                uri, args, n, t, *trace;
    ngx_uint_t               nh;
    ngx_table_elt_t          h[5];
    ngx_http_upbot_ctx_t    *ctx;
    ngx_http_upbot_app_t    *app = call->app;
    ngx_http_upbot_group_t  *group;

    group = &call->lk->code->groups[call->index[0]];

    uri.len = app->location.len + 1 + group->id.len;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(uri.data, app->location.data, app->location.len);

    if (p[-1] != '/') {
        *p++ = '/';
    }

    p = ngx_cpymem(p, group->id.data, group->id.len);
    uri.len = p - uri.data;

    args.data = ngx_pnalloc(r->pool, sizeof("team_type=") - 1 + NGX_INT_T_LEN);
    if (args.data == NULL) {
        return NGX_ERROR;
    }

    args.len = ngx_sprintf(args.data, "team_type=%ui", group->team_type)
               - args.data;

    nonce = ngx_pnalloc(r->pool, NGX_HTTP_UPBOT_NONCE_LEN + NGX_TIME_T_LEN
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

    if (ngx_http_upbot_header(r->pool, &h[0], "AppKey", app->app_id.data,
                              app->app_id.len)
        != NGX_OK
        || ngx_http_upbot_header(r->pool, &h[1], "Nonce", n.data, n.len)
           != NGX_OK
        || ngx_http_upbot_header(r->pool, &h[2], "CurTime", t.data, t.len)
           != NGX_OK
        || ngx_http_upbot_header(r->pool, &h[3], "CheckSum", sum, 40)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    nh = 4;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    trace = ngx_http_upbot_trace_id(r, ctx);
    if (trace == NULL) {
        return NGX_ERROR;
    }

    if (trace->len
        && ngx_http_upbot_header(r->pool, &h[nh++], "X-custom-traceid",
                                 trace->data, trace->len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_subrequest(r, call, &uri, &args, NULL, h, nh);
}


/*
 * A subrequest with its own method, headers and body: none of the
 * client's headers (its Authorization above all) goes to a provider.
 */

static ngx_int_t
ngx_http_upbot_subrequest(ngx_http_request_t *r, ngx_http_upbot_call_t *call,
    ngx_str_t *uri, ngx_str_t *args, ngx_str_t *body, ngx_table_elt_t *headers,
    ngx_uint_t nheaders)
{
    ngx_buf_t                    *b;
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

    if (ngx_http_subrequest(r, uri, args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the error lines of the request hide the calls' queries (a UserSig) */

    if (ngx_http_upbot_next_log_handler == NULL) {
        ngx_http_upbot_next_log_handler = r->main->log_handler;
    }

    if (r->main->log_handler == ngx_http_upbot_next_log_handler) {
        r->main->log_handler = ngx_http_upbot_fetch_log_handler;
    }

    if (ngx_http_upbot_reply_init(&call->reply, r->pool, call->app->source,
                                  &call->app->url_field, call->n)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    sr->headers_in.server = r->headers_in.server;
    sr->headers_in.content_length_n = body ? (off_t) body->len : -1;
    sr->headers_in.keep_alive_n = -1;

    if (ngx_list_init(&sr->headers_in.headers, r->pool, nheaders + 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < nheaders; i++) {
        h = ngx_list_push(&sr->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = headers[i];
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


static ngx_int_t
ngx_http_upbot_fetch_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_upbot_call_t *call = data;

    ngx_int_t                prc;
    ngx_str_t                detail;
    ngx_uint_t               status;
    ngx_http_request_t      *r;
    ngx_http_upbot_reply_t  *reply;

    /*
     * A subrequest's post handler may run again as it is finalized.  What
     * it returns is the subrequest's end: NGX_OK, whatever the provider
     * did, for NGX_ERROR would end the client's request too.
     */

    if (call->done) {
        return NGX_OK;
    }

    call->done = 1;
    call->lk->pending--;

    r = sr->parent;

    status = sr->headers_out.status;

    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE || status == 0) {
        status = (rc == NGX_HTTP_GATEWAY_TIME_OUT
                  || status == NGX_HTTP_GATEWAY_TIME_OUT)
                 ? NGX_HTTP_GATEWAY_TIME_OUT : NGX_HTTP_BAD_GATEWAY;

        ngx_str_set(&detail, "no answer (see the error above)");

        ngx_http_upbot_fetch_failed(r, call, status, "the call failed", NULL,
                                    &detail);
        return NGX_OK;
    }

    if (status != NGX_HTTP_OK) {
        detail.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 6);
        if (detail.data == NULL) {
            return NGX_ERROR;
        }

        detail.len = ngx_sprintf(detail.data, "HTTP %ui", status)
                     - detail.data;

        ngx_http_upbot_fetch_failed(r, call,
                                    status == NGX_HTTP_GATEWAY_TIME_OUT
                                    ? NGX_HTTP_GATEWAY_TIME_OUT
                                    : NGX_HTTP_BAD_GATEWAY,
                                    "the call failed", NULL, &detail);
        return NGX_OK;
    }

    reply = &call->reply;

    if (call->too_big) {
        ngx_str_set(&detail, "the answer is larger than 1 MB and than "
                             "subrequest_output_buffer_size");
        ngx_http_upbot_fetch_failed(r, call, NGX_HTTP_BAD_GATEWAY,
                                    "the call failed", NULL, &detail);
        return NGX_OK;
    }

    prc = ngx_http_upbot_reply_finish(reply);

    if (prc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (prc == NGX_DECLINED) {
        ngx_http_upbot_fetch_failed(r, call, NGX_HTTP_BAD_GATEWAY,
                                    "the answer is not understood", NULL,
                                    &reply->why);
        return NGX_OK;
    }

    ngx_http_upbot_fetch_apply(r, call, reply);

    return NGX_OK;
}


/* each group of the call: its facts, gone, or failed */

static void
ngx_http_upbot_fetch_apply(ngx_http_request_t *r, ngx_http_upbot_call_t *call,
    ngx_http_upbot_reply_t *reply)
{
    ngx_str_t                    detail, *trace;
    ngx_int_t                    ok;
    ngx_uint_t                   i, j, idx, missing, failed;
    ngx_http_upbot_facts_t      *facts;
    ngx_http_upbot_group_t      *group;
    ngx_http_upbot_lookup_t     *lk = call->lk;
    ngx_http_upbot_fetched_t    *f, *got;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    trace = ngx_http_upbot_trace_id(r,
                       ngx_http_get_module_ctx(r, ngx_http_upbot_module));
    if (trace == NULL) {
        return;
    }

    ok = (call->app->source == NGX_HTTP_UPBOT_SOURCE_TIM)
         ? reply->error == 0 : reply->error == 200;

    /* Yunxin's "team gone" is the whole answer's code */

    if (!ok && !(call->app->source == NGX_HTTP_UPBOT_SOURCE_YUNXIN
                 && ngx_http_upbot_is_gone(call->app->source, reply->error)))
    {
        ngx_str_set(&detail, "provider error");
        ngx_http_upbot_fetch_failed(r, call, NGX_HTTP_BAD_GATEWAY,
                                    "the provider refused the call", reply,
                                    &detail);
        return;
    }

    f = reply->groups.elts;
    missing = 0;
    failed = 0;

    for (i = 0; i < call->n; i++) {
        idx = call->index[i];
        group = &lk->code->groups[idx];

        got = NULL;

        if (call->app->source == NGX_HTTP_UPBOT_SOURCE_YUNXIN) {
            if (reply->groups.nelts == 0) {
                got = ngx_http_upbot_reply_group(reply);
                if (got == NULL) {
                    failed++;
                    continue;
                }
            }

            got = reply->groups.elts;
            got->error = ok ? 0 : reply->error;

        } else {
            for (j = 0; j < reply->groups.nelts; j++) {
                if (f[j].id.len == group->id.len
                    && ngx_strncmp(f[j].id.data, group->id.data,
                                   group->id.len) == 0)
                {
                    got = &f[j];
                    break;
                }
            }
        }

        if (got == NULL) {
            missing++;
            ngx_http_upbot_cache_fail(umcf, group, NGX_HTTP_BAD_GATEWAY);
            continue;
        }

        if (got->error
            && !ngx_http_upbot_is_gone(call->app->source, got->error))
        {
            failed++;
            ngx_http_upbot_cache_fail(umcf, group, NGX_HTTP_BAD_GATEWAY);

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "upbot: %V: group \"%V\" failed with provider "
                          "error %i, trace id \"%V\"", &call->app->name,
                          &group->id, got->error, trace);
            continue;
        }

        ngx_http_upbot_cache_store(umcf, group, got);

        /* the request has them even if the zone had no room */

        facts = &lk->live[idx];
        ngx_memzero(facts, sizeof(ngx_http_upbot_facts_t));

        facts->known = 1;
        facts->gone = got->error != 0;
        facts->name = got->name;
        facts->face_url = got->face_url;
        facts->url = got->url;
        facts->members = got->members > 0 ? got->members : 0;
        facts->max_members = got->max_members > 0 ? got->max_members : 0;
        facts->plain = ngx_http_upbot_facts_plain(got);

        lk->got[idx] = 1;
    }

    if (missing) {
        lk->failed = 1;

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upbot: %V: %ui of %ui groups missing from the answer",
                      &call->app->name, missing, call->n);
    }

    if (failed) {
        lk->failed = 1;
    }
}


/* one error-log line a failed call: provider, app, code, trace id */

static void
ngx_http_upbot_fetch_failed(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call, ngx_uint_t status, const char *what,
    ngx_http_upbot_reply_t *reply, ngx_str_t *detail)
{
    ngx_uint_t                   i;
    ngx_http_upbot_ctx_t        *ctx;
    ngx_http_upbot_lookup_t     *lk = call->lk;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    if (ngx_http_upbot_trace_id(r, ctx) == NULL) {
        return;
    }

    for (i = 0; i < call->n; i++) {
        ngx_http_upbot_cache_fail(umcf, &lk->code->groups[call->index[i]],
                                  status);
    }

    lk->failed = 1;

    if (status == NGX_HTTP_GATEWAY_TIME_OUT
        || lk->fail_status != NGX_HTTP_GATEWAY_TIME_OUT)
    {
        lk->fail_status = status;
    }

    if (reply) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upbot: %V: %s: provider error %i \"%V\" "
                      "(groups: %ui), trace id \"%V\"",
                      &call->app->name, what, reply->error, &reply->info,
                      call->n, &ctx->trace_safe);

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upbot: %V: %s: %V (groups: %ui), trace id \"%V\"",
                      &call->app->name, what, detail, call->n,
                      &ctx->trace_safe);
    }
}


/* the parent runs this when a subrequest ends; it goes on after the last */

static void
ngx_http_upbot_fetch_resume(ngx_http_request_t *r)
{
    ngx_http_upbot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    if (((ngx_http_upbot_lookup_t *) ctx->lookup)->pending) {
        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_upbot_media_info_resume(r);
}


/* groups the provider says are gone: skipped, and cached as such */

static ngx_int_t
ngx_http_upbot_is_gone(ngx_uint_t source, ngx_int_t error)
{
    if (source == NGX_HTTP_UPBOT_SOURCE_TIM) {
        return error == 10010 || error == 10015;
    }

    return error == 108404 || error == 108302;
}


static ngx_int_t
ngx_http_upbot_header(ngx_pool_t *pool, ngx_table_elt_t *h, const char *key,
    u_char *value, size_t len)
{
    ngx_memzero(h, sizeof(ngx_table_elt_t));

    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    h->lowcase_key = ngx_pnalloc(pool, h->key.len);
    if (h->lowcase_key == NULL) {
        return NGX_ERROR;
    }

    h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);

    return NGX_OK;
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
