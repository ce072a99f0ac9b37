
/*
 * Copyright (C) 2026, the upbot authors
 *
 * upbot_metrics: the zone's counters in Prometheus' text format 0.0.4,
 * with the gauges of the moment (groups by state, the zone's use, codes)
 * read as the scrape is made.  Label values are escaped as the format
 * says; no key, secret or UserSig is among them.
 */


#include "ngx_http_upbot.h"


/* what a number that could not be written is: the scrape says so */
static ngx_str_t  ngx_http_upbot_nan = ngx_string("NaN");


static ngx_int_t ngx_http_upbot_scrape_requests(ngx_http_upbot_out_t *out,
    ngx_http_upbot_metrics_t *m);
static ngx_int_t ngx_http_upbot_scrape_providers(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf);
static ngx_int_t ngx_http_upbot_scrape_events(ngx_http_upbot_out_t *out,
    ngx_http_upbot_metrics_t *m);
static ngx_int_t ngx_http_upbot_scrape_gauges(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf);
static ngx_int_t ngx_http_upbot_scrape_funnels(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf);
static ngx_int_t ngx_http_upbot_scrape_histogram(ngx_http_upbot_out_t *out,
    const char *name, ngx_str_t *labels, ngx_http_upbot_histogram_t *h);
static ngx_str_t *ngx_http_upbot_seconds(ngx_pool_t *pool, ngx_uint_t ms);
static ngx_int_t ngx_http_upbot_scrape_family(ngx_http_upbot_out_t *out,
    const char *name, const char *type, const char *help);
static ngx_int_t ngx_http_upbot_scrape_app_labels(ngx_http_upbot_out_t *out,
    ngx_http_upbot_app_t *app, ngx_str_t *labels);


ngx_int_t
ngx_http_upbot_scrape_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_upbot_out_t         out;
    ngx_http_upbot_main_conf_t  *umcf;

    static ngx_str_t  type = ngx_string("text/plain; version=0.0.4; "
                                        "charset=utf-8");

    rc = ngx_http_upbot_out_init(r, &out);

    if (rc != NGX_OK) {
        return rc;
    }

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    if (ngx_http_upbot_out_printf(&out, "# HELP upbot_build_info The "
                                  "module's version, and nginx's.\n"
                                  "# TYPE upbot_build_info gauge\n"
                                  "upbot_build_info{version=\"%s\","
                                  "nginx_version=\"%s\"} 1\n",
                                  NGX_HTTP_UPBOT_VERSION, NGINX_VERSION)
        != NGX_OK
        || ngx_http_upbot_scrape_requests(&out, umcf->metrics) != NGX_OK
        || ngx_http_upbot_scrape_providers(&out, umcf) != NGX_OK
        || ngx_http_upbot_scrape_events(&out, umcf->metrics) != NGX_OK
        || ngx_http_upbot_scrape_gauges(&out, umcf) != NGX_OK
        || ngx_http_upbot_scrape_funnels(&out, umcf) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: scrape of %uz bytes", out.size);

    return ngx_http_upbot_out_send(&out, &type);
}


static ngx_int_t
ngx_http_upbot_scrape_requests(ngx_http_upbot_out_t *out,
    ngx_http_upbot_metrics_t *m)
{
    ngx_str_t    labels, *name;
    ngx_uint_t   api, row, i;
    u_char       buf[64];

    static ngx_str_t  apis[NGX_HTTP_UPBOT_APIS] = {
        ngx_string("GetMediaInfo"),
        ngx_string("ReportMediaEvent")
    };

    if (ngx_http_upbot_scrape_family(out, "upbot_requests_total", "counter",
                                     "Requests of the API locations, by "
                                     "API and the ret answered (none: "
                                     "nginx answered an error).")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (api = 0; api < NGX_HTTP_UPBOT_APIS; api++) {
        for (row = 0; row <= NGX_HTTP_UPBOT_NERRORS; row++) {

            /* rets are 0 and 1001 on, one a row of the error table */

            if (row == NGX_HTTP_UPBOT_NERRORS) {
                if (ngx_http_upbot_out_printf(out, "upbot_requests_total"
                                              "{api=\"%V\",ret=\"none\"} "
                                              "%uA\n", &apis[api],
                                              m->requests[api][row])
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                continue;
            }

            if (ngx_http_upbot_out_printf(out, "upbot_requests_total"
                                          "{api=\"%V\",ret=\"%ui\"} %uA\n",
                                          &apis[api],
                                          row ? 1000 + row : 0,
                                          m->requests[api][row])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (ngx_http_upbot_scrape_family(out, "upbot_request_duration_seconds",
                                     "histogram", "Time from a request to "
                                     "its answer, provider calls "
                                     "included.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (api = 0; api < NGX_HTTP_UPBOT_APIS; api++) {
        labels.data = buf;
        labels.len = ngx_sprintf(buf, "api=\"%V\"", &apis[api]) - buf;

        if (ngx_http_upbot_scrape_histogram(out,
                                            "upbot_request_duration_seconds",
                                            &labels, &m->duration[api])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_scrape_family(out, "upbot_cache_lookups_total",
                                     "counter", "GetMediaInfo answers from "
                                     "live pools, by the facts cache's "
                                     "status ($upbot_cache_status).")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = NGX_HTTP_UPBOT_CACHE_HIT; i < NGX_HTTP_UPBOT_CACHE_STATUSES; i++)
    {
        if (ngx_http_upbot_out_printf(out, "upbot_cache_lookups_total"
                                      "{status=\"%V\"} %uA\n",
                                      ngx_http_upbot_cache_status_name(i),
                                      m->cache[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_scrape_family(out, "upbot_picks_total", "counter",
                                     "GetMediaInfo picks, by how the group "
                                     "was picked ($upbot_pick).")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = ngx_http_upbot_picked_first; i < NGX_HTTP_UPBOT_PICKS; i++) {
        name = ngx_http_upbot_picked_name(i);

        if (ngx_http_upbot_out_printf(out, "upbot_picks_total"
                                      "{outcome=\"%V\"} %uA\n", name,
                                      m->picks[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_scrape_providers(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf)
{
    ngx_str_t                   labels;
    ngx_uint_t                  i, k;
    ngx_http_upbot_app_t       *apps;
    ngx_http_upbot_app_node_t  *am;

    apps = umcf->apps.elts;

    if (ngx_http_upbot_scrape_family(out, "upbot_provider_calls_total",
                                     "counter", "Calls to the providers, "
                                     "by app and outcome.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < umcf->apps.nelts; i++) {
        am = apps[i].metrics;

        if (ngx_http_upbot_scrape_app_labels(out, &apps[i], &labels)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (k = 0; k < NGX_HTTP_UPBOT_OUTCOMES; k++) {
            if (ngx_http_upbot_out_printf(out, "upbot_provider_calls_total"
                                          "{%V,outcome=\"%V\"} %uA\n",
                                          &labels,
                                          ngx_http_upbot_outcome_name(k),
                                          am->calls[k])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (ngx_http_upbot_scrape_family(out,
                                     "upbot_provider_call_duration_seconds",
                                     "histogram", "Time a provider call "
                                     "took, to its answer or deadline.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < umcf->apps.nelts; i++) {
        if (ngx_http_upbot_scrape_app_labels(out, &apps[i], &labels)
            != NGX_OK
            || ngx_http_upbot_scrape_histogram(out,
                   "upbot_provider_call_duration_seconds", &labels,
                   &apps[i].metrics->duration)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_scrape_family(out, "upbot_provider_groups_total",
                                     "counter", "What the providers' "
                                     "answers said of each group asked "
                                     "about: ok, gone, missing, or the "
                                     "provider's error code.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < umcf->apps.nelts; i++) {
        am = apps[i].metrics;

        if (ngx_http_upbot_scrape_app_labels(out, &apps[i], &labels)
            != NGX_OK
            || ngx_http_upbot_out_printf(out,
                   "upbot_provider_groups_total{%V,result=\"ok\"} %uA\n"
                   "upbot_provider_groups_total{%V,result=\"gone\"} %uA\n"
                   "upbot_provider_groups_total{%V,result=\"missing\"} %uA\n"
                   "upbot_provider_groups_total{%V,result=\"other\"} %uA\n",
                   &labels, am->ok, &labels, am->gone, &labels, am->missing,
                   &labels, am->other_errors)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (k = 0; k < NGX_HTTP_UPBOT_APP_ERRORS && am->error[k]; k++) {
            if (ngx_http_upbot_out_printf(out, "upbot_provider_groups_total"
                                          "{%V,result=\"%i\"} %uA\n",
                                          &labels, (ngx_int_t) am->error[k],
                                          am->errors[k])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_scrape_events(ngx_http_upbot_out_t *out,
    ngx_http_upbot_metrics_t *m)
{
    ngx_uint_t  i;

    if (ngx_http_upbot_scrape_family(out, "upbot_events_total", "counter",
                                     "Events stored, by event_id: the "
                                     "funnel's three, and other.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_UPBOT_EVENT_KINDS; i++) {
        if (ngx_http_upbot_out_printf(out, "upbot_events_total"
                                      "{event_id=\"%V\"} %uA\n",
                                      ngx_http_upbot_event_kind_name(i),
                                      m->events[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_scrape_family(out, "upbot_event_log_bytes_total",
                                     "counter", "Bytes written to the "
                                     "event logs.") != NGX_OK
        || ngx_http_upbot_out_printf(out, "upbot_event_log_bytes_total %uA\n",
                                     m->event_log_bytes) != NGX_OK
        || ngx_http_upbot_scrape_family(out, "upbot_event_log_errors_total",
                                        "counter", "Batches not stored: "
                                        "the write or the sync failed.")
           != NGX_OK
        || ngx_http_upbot_out_printf(out, "upbot_event_log_errors_total "
                                     "%uA\n", m->event_log_errors) != NGX_OK
        || ngx_http_upbot_scrape_family(out, "upbot_funnel_dropped_total",
                                        "counter", "Funnel steps not "
                                        "counted: no room left for their "
                                        "code's funnel.") != NGX_OK
        || ngx_http_upbot_out_printf(out, "upbot_funnel_dropped_total %uA\n",
                                     m->funnel_dropped) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_scrape_gauges(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf)
{
    size_t      used, size;
    ngx_uint_t  i, states[NGX_HTTP_UPBOT_STATES], expiring;

    ngx_http_upbot_groups_now(umcf, states, &expiring);

    if (ngx_http_upbot_scrape_family(out, "upbot_groups", "gauge",
                                     "The groups of the pools (a group in "
                                     "two pools counts twice) by state "
                                     "now; expiring: within 24 h, also "
                                     "counted in its state.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_UPBOT_STATES; i++) {
        if (ngx_http_upbot_out_printf(out, "upbot_groups{state=\"%V\"} %ui\n",
                                      ngx_http_upbot_state_name(i),
                                      states[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_http_upbot_cache_usage(umcf, &used, &size);

    if (ngx_http_upbot_out_printf(out, "upbot_groups{state=\"expiring\"} "
                                  "%ui\n", expiring) != NGX_OK
        || ngx_http_upbot_scrape_family(out, "upbot_zone_bytes", "gauge",
                                        "upbot_zone's size, and the pages "
                                        "of it in use.") != NGX_OK
        || ngx_http_upbot_out_printf(out,
                                     "upbot_zone_bytes{kind=\"used\"} %uz\n"
                                     "upbot_zone_bytes{kind=\"size\"} %uz\n",
                                     used, size) != NGX_OK
        || ngx_http_upbot_scrape_family(out, "upbot_codes", "gauge",
                                        "Codes in the codes table.")
           != NGX_OK
        || ngx_http_upbot_out_printf(out, "upbot_codes %ui\n", umcf->ncodes)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the funnels of the codes flagged "metrics": the operator's cardinality */

static ngx_int_t
ngx_http_upbot_scrape_funnels(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf)
{
    ngx_str_t                 none = ngx_null_string, *group;
    ngx_uint_t                i, s, k;
    ngx_http_upbot_code_t   **codes, *code;
    ngx_http_upbot_funnel_t  *f;

    if (ngx_http_upbot_scrape_family(out, "upbot_code_funnel_total",
                                     "counter", "The funnel of each code "
                                     "flagged \"metrics\": answers, then "
                                     "exposures, long-presses and jumps, "
                                     "by the group shown (\"\": tied to "
                                     "none).")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    codes = umcf->flagged.elts;

    for (i = 0; i < umcf->flagged.nelts; i++) {
        code = codes[i];

        f = ngx_http_upbot_funnel_find(umcf, &code->code);

        if (f == NULL) {
            continue;
        }

        for (s = 0; s < f->nslots; s++) {
            group = ngx_http_upbot_funnel_group(code, f, s);

            if (s == 0) {
                group = &none;

            } else if (group == NULL) {
                continue;       /* no longer in the pool */
            }

            for (k = 0; k < NGX_HTTP_UPBOT_STEPS; k++) {
                if (ngx_http_upbot_out_str(out, "upbot_code_funnel_total"
                                           "{code=\"") != NGX_OK
                    || ngx_http_upbot_out_label(out, &code->code) != NGX_OK
                    || ngx_http_upbot_out_str(out, "\",group=\"") != NGX_OK
                    || ngx_http_upbot_out_label(out, group) != NGX_OK
                    || ngx_http_upbot_out_printf(out, "\",step=\"%V\"} %uA\n",
                                                 ngx_http_upbot_step_name(k),
                                                 f->slots[s].steps[k])
                       != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }
        }
    }

    return NGX_OK;
}


/* the buckets cumulative, then _sum and _count; ms as seconds */

static ngx_int_t
ngx_http_upbot_scrape_histogram(ngx_http_upbot_out_t *out, const char *name,
    ngx_str_t *labels, ngx_http_upbot_histogram_t *h)
{
    ngx_uint_t         i, ms;
    ngx_atomic_uint_t  total, sum;

    total = 0;

    for (i = 0; i < NGX_HTTP_UPBOT_BUCKETS; i++) {
        total += h->bucket[i];

        if (i == NGX_HTTP_UPBOT_BUCKETS - 1) {
            if (ngx_http_upbot_out_printf(out, "%s_bucket{%V,le=\"+Inf\"} "
                                          "%uA\n", name, labels, total)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            break;
        }

        ms = ngx_http_upbot_bucket_ms(i);

        if (ngx_http_upbot_out_printf(out, "%s_bucket{%V,le=\"%V\"} %uA\n",
                                      name, labels,
                                      ngx_http_upbot_seconds(out->pool, ms),
                                      total)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    sum = h->sum;

    return ngx_http_upbot_out_printf(out, "%s_sum{%V} %V\n"
                                     "%s_count{%V} %uA\n",
                                     name, labels,
                                     ngx_http_upbot_seconds(out->pool, sum),
                                     name, labels, total);
}


/* ms as seconds, as Prometheus writes them: "0.005", "1", "2.5" */

static ngx_str_t *
ngx_http_upbot_seconds(ngx_pool_t *pool, ngx_uint_t ms)
{
    u_char     *p;
    ngx_str_t  *s;

    s = ngx_palloc(pool, sizeof(ngx_str_t) + NGX_INT_T_LEN + 5);
    if (s == NULL) {
        return &ngx_http_upbot_nan;
    }

    s->data = (u_char *) (s + 1);

    p = ngx_sprintf(s->data, "%ui.%03ui", ms / 1000, ms % 1000);

    while (p[-1] == '0') {
        p--;
    }

    if (p[-1] == '.') {
        p--;
    }

    s->len = p - s->data;

    return s;
}


static ngx_int_t
ngx_http_upbot_scrape_family(ngx_http_upbot_out_t *out, const char *name,
    const char *type, const char *help)
{
    return ngx_http_upbot_out_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
                                     name, help, name, type);
}


/* provider="tim",app="prod", escaped, in the request's pool */

static ngx_int_t
ngx_http_upbot_scrape_app_labels(ngx_http_upbot_out_t *out,
    ngx_http_upbot_app_t *app, ngx_str_t *labels)
{
    u_char     *p;
    ngx_str_t   name;

    name.data = app->name.data + app->provider->name.len + 1;
    name.len = app->name.len - app->provider->name.len - 1;

    p = ngx_pnalloc(out->pool, sizeof("provider=\"\",app=\"\"")
                               + 2 * app->name.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    labels->data = p;

    p = ngx_sprintf(p, "provider=\"%V\",app=\"", &app->provider->name);
    p = ngx_http_upbot_label_escape(p, &name);
    *p++ = '"';

    labels->len = p - labels->data;

    return NGX_OK;
}
