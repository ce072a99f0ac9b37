
/*
 * Copyright (C) 2026, the upbot authors
 *
 * upbot_status: what a code would answer now and why (?code=X), or a
 * summary of all of them; JSON, or one self-contained HTML page for a
 * browser (Accept: text/html, ?format=html).  It only reads: no view is
 * taken, no fetch claimed, no provider called, nothing counted; the
 * facts are the cache's as they are.  No key, secret, UserSig or token is
 * among what it shows: apps are shown by name and counters only.
 */


#include "ngx_http_upbot.h"


/* how many codes the HTML summary lists besides the flagged ones */
#define NGX_HTTP_UPBOT_STATUS_CODES     100

/* how many expiring groups the summary lists */
#define NGX_HTTP_UPBOT_STATUS_EXPIRING  100

#define NGX_HTTP_UPBOT_ISO_LEN  sizeof("2026-12-08T10:00:00+08:00")


/* what the cache holds of a group, as the status page names it */
typedef enum {
    ngx_http_upbot_held_static = 0,
    ngx_http_upbot_held_fresh,
    ngx_http_upbot_held_stale,
    ngx_http_upbot_held_expired,
    ngx_http_upbot_held_none
} ngx_http_upbot_held_e;


typedef struct {
    ngx_http_upbot_group_t         *group;
    ngx_http_upbot_facts_t          facts;
    ngx_msec_int_t                  age;         /* ms, -1: none */
    ngx_http_upbot_held_e           held;
    ngx_http_upbot_state_e          state;
    unsigned                        fetching:1;  /* another's call */
    unsigned                        failed:1;    /* within "retry" */
} ngx_http_upbot_status_group_t;


/* a code as the status page shows it */
typedef struct {
    ngx_http_upbot_code_t          *code;
    ngx_http_upbot_status_group_t  *groups;
    ngx_int_t                       answer;      /* index, or -1 */
    ngx_http_upbot_picked_e         picked;
    ngx_http_upbot_funnel_t        *funnel;      /* NULL: none yet */
    time_t                          now;
} ngx_http_upbot_status_code_t;


static ngx_int_t ngx_http_upbot_status_html_wanted(ngx_http_request_t *r,
    ngx_uint_t *html);
static ngx_int_t ngx_http_upbot_status_send(ngx_http_upbot_out_t *out,
    ngx_uint_t html);
static ngx_int_t ngx_http_upbot_status_unknown(ngx_http_upbot_out_t *out,
    ngx_str_t *code, ngx_uint_t html);
static ngx_int_t ngx_http_upbot_status_gather(ngx_http_request_t *r,
    ngx_http_upbot_code_t *code, ngx_http_upbot_status_code_t *sc);
static ngx_int_t ngx_http_upbot_status_choose(ngx_http_request_t *r,
    ngx_http_upbot_status_code_t *sc);
static ngx_str_t *ngx_http_upbot_status_skipped(
    ngx_http_upbot_status_code_t *sc, ngx_uint_t i);
static void ngx_http_upbot_status_steps(ngx_http_upbot_funnel_t *f,
    ngx_uint_t slot, ngx_atomic_uint_t *steps);
static ngx_int_t ngx_http_upbot_status_code_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_status_code_t *sc);
static ngx_int_t ngx_http_upbot_status_group_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_status_group_t *sg,
    ngx_uint_t i);
static ngx_int_t ngx_http_upbot_status_answer_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_status_code_t *sc);
static ngx_int_t ngx_http_upbot_status_funnel_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_status_code_t *sc);
static ngx_int_t ngx_http_upbot_status_steps_json(ngx_http_upbot_out_t *out,
    ngx_atomic_uint_t *steps);
static ngx_int_t ngx_http_upbot_status_summary_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf);
static ngx_int_t ngx_http_upbot_status_expiring_json(
    ngx_http_upbot_out_t *out, ngx_http_upbot_main_conf_t *umcf);
static ngx_int_t ngx_http_upbot_status_apps_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf);
static ngx_int_t ngx_http_upbot_status_code_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_status_code_t *sc);
static ngx_int_t ngx_http_upbot_status_pool_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_status_code_t *sc);
static ngx_int_t ngx_http_upbot_status_funnel_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_status_code_t *sc);
static ngx_int_t ngx_http_upbot_status_bars_html(ngx_http_upbot_out_t *out,
    ngx_atomic_uint_t *steps);
static ngx_int_t ngx_http_upbot_status_summary_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf);
static ngx_int_t ngx_http_upbot_status_health_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf);
static ngx_int_t ngx_http_upbot_status_codes_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf);
static ngx_int_t ngx_http_upbot_status_code_row_html(
    ngx_http_upbot_out_t *out, ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_code_t *code);
static ngx_int_t ngx_http_upbot_status_head_html(ngx_http_upbot_out_t *out,
    ngx_str_t *title);
static ngx_int_t ngx_http_upbot_status_link_html(ngx_http_upbot_out_t *out,
    ngx_str_t *code);
static ngx_int_t ngx_http_upbot_status_str(ngx_http_upbot_out_t *out,
    const char *before, ngx_str_t *value);
static u_char *ngx_http_upbot_status_iso(u_char *p, time_t t,
    ngx_int_t offset);
static ngx_str_t *ngx_http_upbot_status_source(ngx_http_upbot_group_t *group);
static ngx_str_t *ngx_http_upbot_status_held_name(ngx_http_upbot_held_e held);


static ngx_str_t  ngx_http_upbot_status_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_upbot_status_html_type =
    ngx_string("text/html; charset=utf-8");


ngx_int_t
ngx_http_upbot_status_handler(ngx_http_request_t *r)
{
    u_char                        *dst, *src;
    ngx_int_t                      rc;
    ngx_str_t                      arg, name;
    ngx_uint_t                     html;
    ngx_http_upbot_out_t           out;
    ngx_http_upbot_code_t         *code;
    ngx_http_upbot_status_code_t   sc;
    ngx_http_upbot_main_conf_t    *umcf;

    rc = ngx_http_upbot_out_init(r, &out);

    if (rc != NGX_OK) {
        return rc;
    }

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    if (ngx_http_upbot_status_html_wanted(r, &html) != NGX_OK) {
        out.status = NGX_HTTP_BAD_REQUEST;

        if (ngx_http_upbot_out_str(&out, "{\"error\":\"format= is json or "
                                   "html\"}\n") != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_upbot_status_send(&out, 0);
    }

    if (ngx_http_arg(r, (u_char *) "code", 4, &arg) != NGX_OK) {

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upbot: status: summary, html %ui", html);

        rc = html ? ngx_http_upbot_status_summary_html(&out, umcf)
                  : ngx_http_upbot_status_summary_json(&out, umcf);

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_upbot_status_send(&out, html);
    }

    /* the argument as a client escaped it: "%23" for "#", and so on */

    name.data = ngx_pnalloc(r->pool, arg.len);
    if (name.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    dst = name.data;
    src = arg.data;

    ngx_unescape_uri(&dst, &src, arg.len, 0);

    name.len = dst - name.data;

    code = ngx_http_upbot_codes_find(umcf, &name);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: status of code \"%V\": %s, html %ui", &name,
                   code ? "found" : "unknown", html);

    if (code == NULL) {
        return ngx_http_upbot_status_unknown(&out, &name, html);
    }

    if (ngx_http_upbot_status_gather(r, code, &sc) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = html ? ngx_http_upbot_status_code_html(&out, umcf, &sc)
              : ngx_http_upbot_status_code_json(&out, umcf, &sc);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_upbot_status_send(&out, html);
}


/*
 * ?format=html or ?format=json, else HTML when the client accepts it
 * (a browser's Accept lists text/html); NGX_DECLINED: another format.
 */

static ngx_int_t
ngx_http_upbot_status_html_wanted(ngx_http_request_t *r, ngx_uint_t *html)
{
    ngx_str_t         format;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    *html = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {

        if (format.len == 4 && ngx_strncmp(format.data, "html", 4) == 0) {
            *html = 1;
            return NGX_OK;
        }

        if (format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0) {
            return NGX_OK;
        }

        return NGX_DECLINED;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept", 6) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "text/html", 9 - 1)
               != NULL)
        {
            *html = 1;
            break;
        }
    }

    return NGX_OK;
}


/* the answer depends on Accept, and is of the moment */

static ngx_int_t
ngx_http_upbot_status_send(ngx_http_upbot_out_t *out, ngx_uint_t html)
{
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r = out->r;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Vary");
    ngx_str_set(&h->value, "Accept");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: status: %uz bytes, HTTP %ui", out->size,
                   out->status ? out->status : NGX_HTTP_OK);

    return ngx_http_upbot_out_send(out, html
                                        ? &ngx_http_upbot_status_html_type
                                        : &ngx_http_upbot_status_json_type);
}


static ngx_int_t
ngx_http_upbot_status_unknown(ngx_http_upbot_out_t *out, ngx_str_t *code,
    ngx_uint_t html)
{
    static ngx_str_t  title = ngx_string("upbot: unknown code");

    out->status = NGX_HTTP_NOT_FOUND;

    if (html) {
        if (ngx_http_upbot_status_head_html(out, &title) != NGX_OK
            || ngx_http_upbot_status_str(out, "<h1>Unknown code</h1>\n"
                                         "<p>No code <code>", NULL)
               != NGX_OK
            || ngx_http_upbot_out_html(out, code) != NGX_OK
            || ngx_http_upbot_out_str(out, "</code> in the codes table. "
                                      "<a href=\"?format=html\">All "
                                      "codes</a></p>\n</body>\n</html>\n")
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_upbot_status_send(out, 1);
    }

    if (ngx_http_upbot_status_str(out, "{\"error\":\"unknown code\","
                                  "\"code\":", code) != NGX_OK
        || ngx_http_upbot_out_str(out, "}\n") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_upbot_status_send(out, 0);
}


/*
 * The pool's groups with their facts and states now: a live pool's in one
 * hold of the zone's mutex, looked at without a claim (no fetch is
 * started, none is waited for), then the group an anonymous first-time
 * visitor would get, and the code's funnel.
 */

static ngx_int_t
ngx_http_upbot_status_gather(ngx_http_request_t *r,
    ngx_http_upbot_code_t *code, ngx_http_upbot_status_code_t *sc)
{
    ngx_uint_t                      i;
    ngx_msec_int_t                  age;
    ngx_http_upbot_facts_t          numbers;
    ngx_http_upbot_cached_t         cached;
    ngx_http_upbot_status_group_t  *sg;
    ngx_http_upbot_main_conf_t     *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    sc->code = code;
    sc->now = ngx_time();
    sc->groups = ngx_pcalloc(r->pool, code->ngroups
                                      * sizeof(ngx_http_upbot_status_group_t));
    if (sc->groups == NULL) {
        return NGX_ERROR;
    }

    if (code->live) {
        ngx_http_upbot_cache_begin(umcf);
    }

    for (i = 0; i < code->ngroups; i++) {
        sg = &sc->groups[i];
        sg->group = &code->groups[i];
        sg->age = -1;

        if (sg->group->live == NULL) {
            sg->facts = *ngx_http_upbot_static_facts(sg->group);
            sg->held = ngx_http_upbot_held_static;
            continue;
        }

        ngx_http_upbot_cache_look(umcf, r->pool, sg->group, 0, &cached);
        ngx_http_upbot_cache_peek(umcf, sg->group, &numbers, &age);

        sg->facts = cached.facts;
        sg->age = age;
        sg->fetching = cached.busy;
        sg->failed = cached.failed;

        sg->held = (cached.state == NGX_HTTP_UPBOT_FACTS_FRESH)
                   ? ngx_http_upbot_held_fresh
                   : (cached.state == NGX_HTTP_UPBOT_FACTS_STALE)
                     ? ngx_http_upbot_held_stale
                     : cached.expired ? ngx_http_upbot_held_expired
                                      : ngx_http_upbot_held_none;
    }

    if (code->live) {
        ngx_http_upbot_cache_end(umcf);
    }

    for (i = 0; i < code->ngroups; i++) {
        sg = &sc->groups[i];
        sg->state = ngx_http_upbot_group_state(sg->group, &sg->facts, sc->now,
                                               umcf->time_offset);

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upbot: status: group %ui \"%V\": %V, cache %V", i,
                       &sg->group->id, ngx_http_upbot_state_name(sg->state),
                       ngx_http_upbot_status_held_name(sg->held));
    }

    if (ngx_http_upbot_status_choose(r, sc) != NGX_OK) {
        return NGX_ERROR;
    }

    sc->funnel = ngx_http_upbot_funnel_find(umcf, &code->code);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: status: code \"%V\" would answer %i, funnel %p",
                   &code->code, sc->answer, sc->funnel);

    return NGX_OK;
}


/*
 * The pick's choice in "first" mode (ngx_http_upbot_choose(), which takes
 * no view of max_views=), from the facts gathered.
 */

static ngx_int_t
ngx_http_upbot_status_choose(ngx_http_request_t *r,
    ngx_http_upbot_status_code_t *sc)
{
    ngx_uint_t                   i;
    ngx_http_upbot_facts_t     **facts;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    facts = ngx_palloc(r->pool,
                       sc->code->ngroups * sizeof(ngx_http_upbot_facts_t *));
    if (facts == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < sc->code->ngroups; i++) {
        facts[i] = &sc->groups[i].facts;
    }

    sc->picked = ngx_http_upbot_picked_exhausted;
    sc->answer = ngx_http_upbot_choose(sc->code->groups, facts,
                                       sc->code->ngroups,
                                       NGX_HTTP_UPBOT_PICK_FIRST, NULL,
                                       sc->now, umcf->time_offset,
                                       &sc->picked);
    return NGX_OK;
}


/* why the pick passed over group i: its state, or it is the fallback */

static ngx_str_t *
ngx_http_upbot_status_skipped(ngx_http_upbot_status_code_t *sc, ngx_uint_t i)
{
    static ngx_str_t  fallback = ngx_string("fallback");

    if (sc->groups[i].state == ngx_http_upbot_state_usable) {
        return &fallback;   /* usable, kept for when all else fails */
    }

    return ngx_http_upbot_state_name(sc->groups[i].state);
}


/* a funnel slot's steps, or their sum over the slots (slot -1) */

static void
ngx_http_upbot_status_steps(ngx_http_upbot_funnel_t *f, ngx_uint_t slot,
    ngx_atomic_uint_t *steps)
{
    ngx_uint_t  s, k;

    ngx_memzero(steps, NGX_HTTP_UPBOT_STEPS * sizeof(ngx_atomic_uint_t));

    if (f == NULL) {
        return;
    }

    for (s = 0; s < f->nslots; s++) {
        if (slot != (ngx_uint_t) -1 && s != slot) {
            continue;
        }

        for (k = 0; k < NGX_HTTP_UPBOT_STEPS; k++) {
            steps[k] += f->slots[s].steps[k];
        }
    }
}


/* JSON: a code */

static ngx_int_t
ngx_http_upbot_status_code_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_status_code_t *sc)
{
    u_char                  now[NGX_HTTP_UPBOT_ISO_LEN], *last;
    ngx_uint_t              i;
    ngx_http_upbot_code_t  *code = sc->code;

    last = ngx_http_upbot_status_iso(now, sc->now, umcf->time_offset);

    if (ngx_http_upbot_status_str(out, "{\"code\":", &code->code) != NGX_OK
        || ngx_http_upbot_out_printf(out, ",\"media_type\":%ui,"
                                     "\"metrics\":%s,\"sticky\":%s,"
                                     "\"now\":\"%*s\",\"now_unix\":%T,"
                                     "\"pool\":[\n",
                                     code->media_type,
                                     code->metrics ? "true" : "false",
                                     umcf->sticky && !code->sticky_off
                                     ? "true" : "false",
                                     (size_t) (last - now), now, sc->now)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < code->ngroups; i++) {
        if (ngx_http_upbot_status_group_json(out, umcf, &sc->groups[i], i)
            != NGX_OK
            || ngx_http_upbot_out_str(out, i + 1 < code->ngroups ? ",\n"
                                                                 : "\n")
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_out_str(out, "],\n") != NGX_OK
        || ngx_http_upbot_status_answer_json(out, sc) != NGX_OK
        || ngx_http_upbot_status_funnel_json(out, sc) != NGX_OK
        || ngx_http_upbot_out_str(out, "}\n") != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a group of a pool: what is configured, what the cache says, its state */

static ngx_int_t
ngx_http_upbot_status_group_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_status_group_t *sg,
    ngx_uint_t i)
{
    u_char                   exp[NGX_HTTP_UPBOT_ISO_LEN], *last;
    ngx_http_upbot_group_t  *g = sg->group;
    ngx_http_upbot_facts_t  *f = &sg->facts;
    ngx_http_upbot_more_t   *more = ngx_http_upbot_group_more(g);

    if (ngx_http_upbot_out_printf(out, "{\"index\":%ui", i + 1) != NGX_OK
        || ngx_http_upbot_status_str(out, ",\"id\":", &g->id) != NGX_OK
        || ngx_http_upbot_status_str(out, ",\"source\":",
                                     ngx_http_upbot_status_source(g))
           != NGX_OK
        || ngx_http_upbot_status_str(out, ",\"configured\":{\"url\":",
                                     &g->url) != NGX_OK
        || ngx_http_upbot_status_str(out, ",\"name\":", &g->name) != NGX_OK
        || ngx_http_upbot_status_str(out, ",\"background\":", &more->background)
           != NGX_OK
        || ngx_http_upbot_out_str(out, "},\"options\":{\"threshold\":")
           != NGX_OK
        || (more->threshold
            ? ngx_http_upbot_out_printf(out, "%ui", more->threshold)
            : ngx_http_upbot_out_str(out, "null")) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if ((more->max_views
         ? ngx_http_upbot_out_printf(out, ",\"max_views\":%ui,\"views\":%uA",
                                     more->max_views, more->tally->views)
         : ngx_http_upbot_out_str(out, ",\"max_views\":null,\"views\":null"))
        != NGX_OK
        || (more->max_scans
            ? ngx_http_upbot_out_printf(out, ",\"max_scans\":%ui,"
                                        "\"scans\":%uA",
                                        more->max_scans, more->tally->scans)
            : ngx_http_upbot_out_str(out, ",\"max_scans\":null,"
                                     "\"scans\":null")) != NGX_OK)
    {
        return NGX_ERROR;
    }

    last = ngx_http_upbot_status_iso(exp, more->expires, umcf->time_offset);

    if ((more->expires
         ? ngx_http_upbot_out_printf(out, ",\"expires\":\"%*s\","
                                     "\"expires_unix\":%T",
                                     (size_t) (last - exp), exp, more->expires)
         : ngx_http_upbot_out_str(out, ",\"expires\":null,"
                                  "\"expires_unix\":null")) != NGX_OK
        || (more->hours
            ? ngx_http_upbot_out_printf(out, ",\"hours\":\"%02ui:%02ui-"
                                        "%02ui:%02ui\"",
                                        more->opens / 3600,
                                        more->opens / 60 % 60,
                                        more->closes / 3600,
                                        more->closes / 60 % 60)
            : ngx_http_upbot_out_str(out, ",\"hours\":null")) != NGX_OK
        || ngx_http_upbot_out_printf(out, ",\"down\":%s,\"fallback\":%s},",
                                     g->down ? "true" : "false",
                                     g->fallback ? "true" : "false")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!f->known) {
        if (ngx_http_upbot_out_str(out, "\"facts\":null") != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (ngx_http_upbot_status_str(out, "\"facts\":{\"name\":",
                                         &f->name) != NGX_OK
               || ngx_http_upbot_status_str(out, ",\"url\":", &f->url)
                  != NGX_OK
               || ngx_http_upbot_status_str(out, ",\"background\":",
                                            &f->face_url) != NGX_OK
               || ngx_http_upbot_out_printf(out, ",\"members\":%ui,"
                                            "\"max_members\":%ui,"
                                            "\"gone\":%s}", f->members,
                                            f->max_members,
                                            f->gone ? "true" : "false")
                  != NGX_OK)
    {
        return NGX_ERROR;
    }

    if ((sg->age >= 0
         ? ngx_http_upbot_out_printf(out, ",\"age_ms\":%M",
                                     (ngx_msec_t) sg->age)
         : ngx_http_upbot_out_str(out, ",\"age_ms\":null")) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_out_printf(out, ",\"cache\":\"%V\","
                                     "\"fetching\":%s,\"failed\":%s,"
                                     "\"state\":\"%V\"}",
                                     ngx_http_upbot_status_held_name(
                                         sg->held),
                                     sg->fetching ? "true" : "false",
                                     sg->failed ? "true" : "false",
                                     ngx_http_upbot_state_name(sg->state));
}


/*
 * The group an anonymous first-time visitor would get now, and why each
 * group before it was passed over (every other group, for the fallback or
 * none).  A request would first fetch the facts of a group it needs that
 * the cache has none of, or none younger than ttl + stale: "fetch" lists
 * them, as they may change the answer.
 */

static ngx_int_t
ngx_http_upbot_status_answer_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_status_code_t *sc)
{
    ngx_uint_t                      i, n, first;
    ngx_http_upbot_answer_t         answer;
    ngx_http_upbot_status_group_t  *sg;

    n = (sc->answer >= 0 && sc->picked != ngx_http_upbot_picked_fallback)
        ? (ngx_uint_t) sc->answer : sc->code->ngroups;

    if (sc->answer < 0) {
        if (ngx_http_upbot_out_str(out, "\"answer\":null,\"why\":\"no usable "
                                   "group and no usable fallback\"")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        sg = &sc->groups[sc->answer];
        ngx_http_upbot_answer(sg->group, &sg->facts, &answer);

        if (ngx_http_upbot_out_printf(out, "\"answer\":{\"index\":%i,",
                                      sc->answer + 1) != NGX_OK
            || ngx_http_upbot_status_str(out, "\"id\":", &sg->group->id)
               != NGX_OK
            || ngx_http_upbot_out_printf(out, ",\"pick\":\"%V\",",
                                         ngx_http_upbot_picked_name(
                                             sc->picked)) != NGX_OK
            || ngx_http_upbot_status_str(out, "\"url\":", &answer.url)
               != NGX_OK
            || ngx_http_upbot_status_str(out, ",\"name\":", &answer.name)
               != NGX_OK
            || ngx_http_upbot_status_str(out, ",\"background\":",
                                         &answer.background) != NGX_OK
            || ngx_http_upbot_out_str(out, "}") != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_out_str(out, ",\n\"skipped\":[") != NGX_OK) {
        return NGX_ERROR;
    }

    for (first = 1, i = 0; i < n; i++) {
        if ((ngx_int_t) i == sc->answer) {
            continue;
        }

        if (ngx_http_upbot_out_printf(out, "%s{\"index\":%ui,",
                                      first ? "" : ",", i + 1) != NGX_OK
            || ngx_http_upbot_status_str(out, "\"id\":",
                                         &sc->groups[i].group->id) != NGX_OK
            || ngx_http_upbot_out_printf(out, ",\"reason\":\"%V\"}",
                                         ngx_http_upbot_status_skipped(sc, i))
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        first = 0;
    }

    if (ngx_http_upbot_out_str(out, "],\"fetch\":[") != NGX_OK) {
        return NGX_ERROR;
    }

    n = (sc->answer >= 0 && sc->picked != ngx_http_upbot_picked_fallback)
        ? (ngx_uint_t) sc->answer + 1 : sc->code->ngroups;

    for (first = 1, i = 0; i < n; i++) {
        sg = &sc->groups[i];

        if (sg->held != ngx_http_upbot_held_none
            && sg->held != ngx_http_upbot_held_expired)
        {
            continue;
        }

        if (ngx_http_upbot_status_str(out, first ? "" : ",", &sg->group->id)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        first = 0;
    }

    return ngx_http_upbot_out_str(out, "],\n");
}


/* by slot: the groups of the pool when the funnel was made, then "" */

static ngx_int_t
ngx_http_upbot_status_funnel_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_status_code_t *sc)
{
    ngx_str_t                 none = ngx_null_string, *group;
    ngx_uint_t                s, first;
    ngx_atomic_uint_t         steps[NGX_HTTP_UPBOT_STEPS];
    ngx_http_upbot_funnel_t  *f = sc->funnel;

    ngx_http_upbot_status_steps(f, (ngx_uint_t) -1, steps);

    if (ngx_http_upbot_out_str(out, "\"funnel\":{\"total\":") != NGX_OK
        || ngx_http_upbot_status_steps_json(out, steps) != NGX_OK
        || ngx_http_upbot_out_str(out, ",\"groups\":[") != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (first = 1, s = 1; f && s <= f->nslots; s++) {

        /* slot 0, events tied to no group, last */

        group = (s == f->nslots) ? &none
                                 : ngx_http_upbot_funnel_group(sc->code, f, s);

        if (group == NULL) {
            continue;       /* no longer in the pool */
        }

        ngx_http_upbot_status_steps(f, s == f->nslots ? 0 : s, steps);

        if (ngx_http_upbot_status_str(out, first ? "\n{\"id\":"
                                                 : ",\n{\"id\":", group)
            != NGX_OK
            || ngx_http_upbot_out_str(out, ",\"steps\":") != NGX_OK
            || ngx_http_upbot_status_steps_json(out, steps) != NGX_OK
            || ngx_http_upbot_out_str(out, "}") != NGX_OK)
        {
            return NGX_ERROR;
        }

        first = 0;
    }

    return ngx_http_upbot_out_str(out, "]}");
}


static ngx_int_t
ngx_http_upbot_status_steps_json(ngx_http_upbot_out_t *out,
    ngx_atomic_uint_t *steps)
{
    return ngx_http_upbot_out_printf(out, "{\"%V\":%uA,\"%V\":%uA,"
                                     "\"%V\":%uA,\"%V\":%uA}",
                                     ngx_http_upbot_step_name(0), steps[0],
                                     ngx_http_upbot_step_name(1), steps[1],
                                     ngx_http_upbot_step_name(2), steps[2],
                                     ngx_http_upbot_step_name(3), steps[3]);
}


/* JSON: the summary */

static ngx_int_t
ngx_http_upbot_status_summary_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf)
{
    size_t                    used, size;
    time_t                    now;
    u_char                    iso[NGX_HTTP_UPBOT_ISO_LEN], *last;
    ngx_uint_t                i, k, states[NGX_HTTP_UPBOT_STATES], expiring;
    ngx_atomic_uint_t         steps[NGX_HTTP_UPBOT_STEPS];
    ngx_http_upbot_code_t   **flagged;

    now = ngx_time();
    last = ngx_http_upbot_status_iso(iso, now, umcf->time_offset);

    ngx_http_upbot_groups_now(umcf, states, &expiring);
    ngx_http_upbot_cache_usage(umcf, &used, &size);

    if (ngx_http_upbot_out_printf(out, "{\"version\":\"%s\",\"now\":\"%*s\","
                                  "\"now_unix\":%T,\"codes\":%ui,"
                                  "\n\"groups\":{",
                                  NGX_HTTP_UPBOT_VERSION,
                                  (size_t) (last - iso), iso, now,
                                  umcf->ncodes) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_UPBOT_STATES; i++) {
        if (ngx_http_upbot_out_printf(out, "\"%V\":%ui,",
                                      ngx_http_upbot_state_name(i), states[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_out_printf(out, "\"expiring\":%ui},\n", expiring)
        != NGX_OK
        || ngx_http_upbot_status_expiring_json(out, umcf) != NGX_OK
        || ngx_http_upbot_status_apps_json(out, umcf) != NGX_OK
        || ngx_http_upbot_out_printf(out, "\"zone\":{\"used\":%uz,"
                                     "\"size\":%uz},\n\"cache\":{\"ttl_ms\":"
                                     "%M,\"stale_ms\":%M},\n\"funnels\":[",
                                     used, size, umcf->ttl, umcf->stale)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    flagged = umcf->flagged.elts;

    for (k = 0; k < umcf->flagged.nelts; k++) {
        ngx_http_upbot_status_steps(
            ngx_http_upbot_funnel_find(umcf, &flagged[k]->code),
            (ngx_uint_t) -1, steps);

        if (ngx_http_upbot_status_str(out, k ? ",\n{\"code\":"
                                             : "\n{\"code\":",
                                      &flagged[k]->code) != NGX_OK
            || ngx_http_upbot_out_str(out, ",\"steps\":") != NGX_OK
            || ngx_http_upbot_status_steps_json(out, steps) != NGX_OK
            || ngx_http_upbot_out_str(out, "}") != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_upbot_out_str(out, "]}\n");
}


/* the groups that expire within a day, the first 100 of them */

static ngx_int_t
ngx_http_upbot_status_expiring_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf)
{
    time_t                   now, expires;
    u_char                   iso[NGX_HTTP_UPBOT_ISO_LEN], *last;
    ngx_uint_t               slot, i, n;
    ngx_http_upbot_code_t   *code;
    ngx_http_upbot_group_t  *g;

    now = ngx_time();
    n = 0;

    if (ngx_http_upbot_out_str(out, "\"expiring\":[") != NGX_OK) {
        return NGX_ERROR;
    }

    for (slot = 0; umcf->ncodes && slot <= umcf->codes_mask; slot++) {
        code = umcf->codes[slot];

        for (i = 0; code && i < code->ngroups; i++) {
            g = &code->groups[i];
            expires = ngx_http_upbot_group_more(g)->expires;

            if (expires <= now || expires - now >= 86400
                || n++ >= NGX_HTTP_UPBOT_STATUS_EXPIRING)
            {
                continue;
            }

            last = ngx_http_upbot_status_iso(iso, expires,
                                             umcf->time_offset);

            if (ngx_http_upbot_status_str(out, n > 1 ? ",\n{\"code\":"
                                                     : "\n{\"code\":",
                                          &code->code) != NGX_OK
                || ngx_http_upbot_status_str(out, ",\"id\":", &g->id)
                   != NGX_OK
                || ngx_http_upbot_out_printf(out, ",\"expires\":\"%*s\","
                                             "\"expires_unix\":%T}",
                                             (size_t) (last - iso), iso,
                                             expires)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    n = ngx_min(n, NGX_HTTP_UPBOT_STATUS_EXPIRING);

    return ngx_http_upbot_out_printf(out, "],\"expiring_listed\":%ui,\n", n);
}


/* each app's calls by outcome and what they said of groups: counters only */

static ngx_int_t
ngx_http_upbot_status_apps_json(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf)
{
    ngx_uint_t                  i, k;
    ngx_http_upbot_app_t       *apps;
    ngx_http_upbot_app_node_t  *am;

    apps = umcf->apps.elts;

    if (ngx_http_upbot_out_str(out, "\"providers\":[") != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < umcf->apps.nelts; i++) {
        am = apps[i].metrics;

        if (ngx_http_upbot_status_str(out, i ? ",\n{\"app\":" : "\n{\"app\":",
                                      &apps[i].name) != NGX_OK
            || ngx_http_upbot_out_printf(out, ",\"provider\":\"%V\","
                                         "\"calls\":{",
                                         &apps[i].provider->name) != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (k = 0; k < NGX_HTTP_UPBOT_OUTCOMES; k++) {
            if (ngx_http_upbot_out_printf(out, "%s\"%V\":%uA", k ? "," : "",
                                          ngx_http_upbot_outcome_name(k),
                                          am->calls[k]) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ngx_http_upbot_out_printf(out, "},\"groups\":{\"ok\":%uA,"
                                      "\"gone\":%uA,\"missing\":%uA,"
                                      "\"other\":%uA", am->ok, am->gone,
                                      am->missing, am->other_errors)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (k = 0; k < NGX_HTTP_UPBOT_APP_ERRORS && am->error[k]; k++) {
            if (ngx_http_upbot_out_printf(out, ",\"%i\":%uA",
                                          (ngx_int_t) am->error[k],
                                          am->errors[k]) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ngx_http_upbot_out_str(out, "}}") != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_upbot_out_str(out, "],\n");
}


/* HTML: a code's page */

static ngx_int_t
ngx_http_upbot_status_code_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_status_code_t *sc)
{
    u_char                          now[NGX_HTTP_UPBOT_ISO_LEN], *last;
    ngx_str_t                       title;
    ngx_http_upbot_answer_t         answer;
    ngx_http_upbot_status_group_t  *sg;

    title.len = sizeof("upbot: code ") - 1 + sc->code->code.len;
    title.data = ngx_pnalloc(out->pool, title.len);
    if (title.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(title.data, "upbot: code %V", &sc->code->code);

    last = ngx_http_upbot_status_iso(now, sc->now, umcf->time_offset);

    if (ngx_http_upbot_status_head_html(out, &title) != NGX_OK
        || ngx_http_upbot_out_str(out, "<p><a href=\"?format=html\">All "
                                  "codes</a></p>\n<h1>Code <code>")
           != NGX_OK
        || ngx_http_upbot_out_html(out, &sc->code->code) != NGX_OK
        || ngx_http_upbot_out_printf(out, "</code></h1>\n<p>media_type %ui"
                                     "%s%s &middot; %*s</p>\n"
                                     "<h2>Answered now</h2>\n",
                                     sc->code->media_type,
                                     sc->code->metrics ? " &middot; metrics"
                                                       : "",
                                     umcf->sticky && !sc->code->sticky_off
                                     ? " &middot; sticky" : "",
                                     (size_t) (last - now), now) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (sc->answer < 0) {
        if (ngx_http_upbot_out_str(out, "<p class=\"answer none\" "
                                   "id=\"answer\">None: no usable group and "
                                   "no usable fallback.</p>\n") != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        sg = &sc->groups[sc->answer];
        ngx_http_upbot_answer(sg->group, &sg->facts, &answer);

        if (ngx_http_upbot_out_printf(out, "<p class=\"answer\" "
                                      "id=\"answer\">Group %i, <b>",
                                      sc->answer + 1) != NGX_OK
            || ngx_http_upbot_out_html(out, &sg->group->id) != NGX_OK
            || ngx_http_upbot_out_printf(out, "</b> (%V): ",
                                         ngx_http_upbot_picked_name(
                                             sc->picked)) != NGX_OK
            || ngx_http_upbot_out_html(out, &answer.name) != NGX_OK
            || ngx_http_upbot_out_str(out, " &middot; <code>") != NGX_OK
            || ngx_http_upbot_out_html(out, &answer.url) != NGX_OK
            || ngx_http_upbot_out_str(out, "</code></p>\n") != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_out_str(out, "<p class=\"note\">For an anonymous "
                               "first-time visitor, in pool order "
                               "(upbot_pick first); a returning sticky "
                               "visitor keeps its group while it is "
                               "usable.</p>\n") != NGX_OK
        || ngx_http_upbot_status_pool_html(out, umcf, sc) != NGX_OK
        || ngx_http_upbot_status_funnel_html(out, sc) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_out_str(out, "</body>\n</html>\n");
}


/* the pool as a table: a row per group, its state and why it was skipped */

static ngx_int_t
ngx_http_upbot_status_pool_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_status_code_t *sc)
{
    ngx_str_t                       why, *name;
    ngx_uint_t                      i, skipped, cap;
    ngx_http_upbot_more_t          *more;
    ngx_http_upbot_status_group_t  *sg;

    static ngx_str_t  answered = ngx_string("answered");

    if (ngx_http_upbot_out_str(out, "<h2>Pool</h2>\n<table id=\"pool\">\n"
                               "<tr><th>#</th><th>group</th><th>source"
                               "</th><th>name</th><th>members</th>"
                               "<th>views</th><th>scans</th><th>cache</th>"
                               "<th>state</th><th>pick, or skipped for</th>"
                               "</tr>\n")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < sc->code->ngroups; i++) {
        sg = &sc->groups[i];
        more = ngx_http_upbot_group_more(sg->group);
        name = sg->group->name.len ? &sg->group->name : &sg->facts.name;
        cap = more->threshold ? more->threshold : sg->facts.max_members;

        skipped = (sc->answer < 0
                   || sc->picked == ngx_http_upbot_picked_fallback
                   || (ngx_int_t) i < sc->answer)
                  && (ngx_int_t) i != sc->answer;

        ngx_str_null(&why);

        if ((ngx_int_t) i == sc->answer) {
            why = answered;

        } else if (skipped) {
            why = *ngx_http_upbot_status_skipped(sc, i);
        }

        if (ngx_http_upbot_out_printf(out, "<tr class=\"%s\"><td>%ui</td>"
                                      "<td><code>",
                                      (ngx_int_t) i == sc->answer
                                      ? "answer" : "", i + 1) != NGX_OK
            || ngx_http_upbot_out_html(out, &sg->group->id) != NGX_OK
            || ngx_http_upbot_out_str(out, "</code></td><td>") != NGX_OK
            || ngx_http_upbot_out_html(out,
                                       ngx_http_upbot_status_source(sg->group))
               != NGX_OK
            || ngx_http_upbot_out_str(out, "</td><td>") != NGX_OK
            || ngx_http_upbot_out_html(out, name) != NGX_OK
            || (!sg->facts.known
                ? ngx_http_upbot_out_str(out, "</td><td>&ndash;")
                : cap ? ngx_http_upbot_out_printf(out, "</td><td>%ui / %ui",
                                                  sg->facts.members, cap)
                      : ngx_http_upbot_out_printf(out, "</td><td>%ui",
                                                  sg->facts.members))
               != NGX_OK
            || (more->max_views
                ? ngx_http_upbot_out_printf(out, "</td><td>%uA / %ui",
                                            more->tally->views,
                                            more->max_views)
                : ngx_http_upbot_out_str(out, "</td><td>&ndash;")) != NGX_OK
            || (more->max_scans
                ? ngx_http_upbot_out_printf(out, "</td><td>%uA / %ui",
                                            more->tally->scans,
                                            more->max_scans)
                : ngx_http_upbot_out_str(out, "</td><td>&ndash;")) != NGX_OK
            || ngx_http_upbot_out_printf(out, "</td><td>%V",
                                         ngx_http_upbot_status_held_name(
                                             sg->held)) != NGX_OK
            || (sg->age >= 0
                ? ngx_http_upbot_out_printf(out, ", %M ms",
                                            (ngx_msec_t) sg->age)
                : NGX_OK) != NGX_OK
            || ngx_http_upbot_out_printf(out, "</td><td class=\"state "
                                         "s-%V\">%V</td><td>%V</td></tr>\n",
                                         ngx_http_upbot_state_name(sg->state),
                                         ngx_http_upbot_state_name(sg->state),
                                         &why) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_upbot_out_str(out, "</table>\n");
}


/* a bar chart per slot of the funnel, the code's total first */

static ngx_int_t
ngx_http_upbot_status_funnel_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_status_code_t *sc)
{
    ngx_str_t                 none = ngx_string("(tied to no group)");
    ngx_str_t                *group;
    ngx_uint_t                s;
    ngx_atomic_uint_t         steps[NGX_HTTP_UPBOT_STEPS];
    ngx_http_upbot_funnel_t  *f = sc->funnel;

    ngx_http_upbot_status_steps(f, (ngx_uint_t) -1, steps);

    if (ngx_http_upbot_out_str(out, "<h2>Funnel</h2>\n<div id=\"funnel\">"
                               "<div class=\"slot\"><h3>All groups</h3>\n")
        != NGX_OK
        || ngx_http_upbot_status_bars_html(out, steps) != NGX_OK
        || ngx_http_upbot_out_str(out, "</div>\n") != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (s = 1; f && s <= f->nslots; s++) {
        group = (s == f->nslots) ? &none
                                 : ngx_http_upbot_funnel_group(sc->code, f, s);

        if (group == NULL) {
            continue;
        }

        ngx_http_upbot_status_steps(f, s == f->nslots ? 0 : s, steps);

        if (ngx_http_upbot_out_str(out, "<div class=\"slot\"><h3>") != NGX_OK
            || ngx_http_upbot_out_html(out, group) != NGX_OK
            || ngx_http_upbot_out_str(out, "</h3>\n") != NGX_OK
            || ngx_http_upbot_status_bars_html(out, steps) != NGX_OK
            || ngx_http_upbot_out_str(out, "</div>\n") != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_upbot_out_str(out, "</div>\n");
}


/* the four steps as bars, their widths in proportion to the largest */

static ngx_int_t
ngx_http_upbot_status_bars_html(ngx_http_upbot_out_t *out,
    ngx_atomic_uint_t *steps)
{
    ngx_uint_t         k, width;
    ngx_atomic_uint_t  top;

    top = 0;

    for (k = 0; k < NGX_HTTP_UPBOT_STEPS; k++) {
        top = ngx_max(top, steps[k]);
    }

    if (ngx_http_upbot_out_str(out, "<table class=\"bars\">\n") != NGX_OK) {
        return NGX_ERROR;
    }

    for (k = 0; k < NGX_HTTP_UPBOT_STEPS; k++) {
        width = top ? (ngx_uint_t) (steps[k] * 100 / top) : 0;

        if (steps[k] && width == 0) {
            width = 1;      /* a count is never an empty bar */
        }

        if (ngx_http_upbot_out_printf(out, "<tr class=\"step\"><th>%V</th>"
                                      "<td class=\"n\">%uA</td><td class="
                                      "\"track\"><div class=\"bar b%ui\" "
                                      "style=\"width:%ui%%\"></div></td>"
                                      "</tr>\n", ngx_http_upbot_step_name(k),
                                      steps[k], k, width) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_upbot_out_str(out, "</table>\n");
}


/* HTML: the summary */

static ngx_int_t
ngx_http_upbot_status_summary_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf)
{
    time_t      now;
    u_char      iso[NGX_HTTP_UPBOT_ISO_LEN], *last;
    ngx_uint_t  i, states[NGX_HTTP_UPBOT_STATES], expiring;

    static ngx_str_t  title = ngx_string("upbot status");

    now = ngx_time();
    last = ngx_http_upbot_status_iso(iso, now, umcf->time_offset);

    ngx_http_upbot_groups_now(umcf, states, &expiring);

    if (ngx_http_upbot_status_head_html(out, &title) != NGX_OK
        || ngx_http_upbot_out_printf(out, "<h1>upbot status</h1>\n<p>"
                                     "upbot %s &middot; nginx %s &middot; "
                                     "%*s &middot; %ui codes</p>\n"
                                     "<h2>Groups now</h2>\n"
                                     "<table id=\"groups\"><tr>",
                                     NGX_HTTP_UPBOT_VERSION, NGINX_VERSION,
                                     (size_t) (last - iso), iso, umcf->ncodes)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_UPBOT_STATES; i++) {
        if (ngx_http_upbot_out_printf(out, "<th class=\"state s-%V\">%V</th>",
                                      ngx_http_upbot_state_name(i),
                                      ngx_http_upbot_state_name(i))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_out_str(out, "<th>expiring within 24 h</th></tr>\n"
                               "<tr>") != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_UPBOT_STATES; i++) {
        if (ngx_http_upbot_out_printf(out, "<td>%ui</td>", states[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_out_printf(out, "<td>%ui</td></tr>\n</table>\n",
                                  expiring) != NGX_OK
        || ngx_http_upbot_status_health_html(out, umcf) != NGX_OK
        || ngx_http_upbot_status_codes_html(out, umcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_out_str(out, "</body>\n</html>\n");
}


/* the groups expiring soon, the providers' calls, the zone */

static ngx_int_t
ngx_http_upbot_status_health_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf)
{
    size_t                      used, size;
    time_t                      now, expires;
    u_char                      iso[NGX_HTTP_UPBOT_ISO_LEN], *last;
    ngx_uint_t                  slot, i, k, n;
    ngx_http_upbot_app_t       *apps;
    ngx_http_upbot_code_t      *code;
    ngx_http_upbot_group_t     *g;
    ngx_http_upbot_app_node_t  *am;

    now = ngx_time();
    n = 0;

    if (ngx_http_upbot_out_str(out, "<h2>Expiring within 24 h</h2>\n"
                               "<table id=\"expiring\"><tr><th>code</th>"
                               "<th>group</th><th>expires</th></tr>\n")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (slot = 0; umcf->ncodes && slot <= umcf->codes_mask; slot++) {
        code = umcf->codes[slot];

        for (i = 0; code && i < code->ngroups; i++) {
            g = &code->groups[i];
            expires = ngx_http_upbot_group_more(g)->expires;

            if (expires <= now || expires - now >= 86400
                || n++ >= NGX_HTTP_UPBOT_STATUS_EXPIRING)
            {
                continue;
            }

            last = ngx_http_upbot_status_iso(iso, expires,
                                             umcf->time_offset);

            if (ngx_http_upbot_out_str(out, "<tr><td>") != NGX_OK
                || ngx_http_upbot_status_link_html(out, &code->code)
                   != NGX_OK
                || ngx_http_upbot_out_str(out, "</td><td><code>") != NGX_OK
                || ngx_http_upbot_out_html(out, &g->id) != NGX_OK
                || ngx_http_upbot_out_printf(out, "</code></td><td>%*s"
                                             "</td></tr>\n",
                                             (size_t) (last - iso), iso)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (ngx_http_upbot_out_printf(out, "</table>\n<p class=\"note\">%ui "
                                  "listed, the first %d at most.</p>\n"
                                  "<h2>Providers</h2>\n<table id=\"apps\">"
                                  "<tr><th>app</th>",
                                  ngx_min(n, NGX_HTTP_UPBOT_STATUS_EXPIRING),
                                  NGX_HTTP_UPBOT_STATUS_EXPIRING) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (k = 0; k < NGX_HTTP_UPBOT_OUTCOMES; k++) {
        if (ngx_http_upbot_out_printf(out, "<th>%V</th>",
                                      ngx_http_upbot_outcome_name(k))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_out_str(out, "<th>groups ok / gone / missing / "
                               "errors</th></tr>\n") != NGX_OK)
    {
        return NGX_ERROR;
    }

    apps = umcf->apps.elts;

    for (i = 0; i < umcf->apps.nelts; i++) {
        am = apps[i].metrics;

        if (ngx_http_upbot_out_str(out, "<tr><td>") != NGX_OK
            || ngx_http_upbot_out_html(out, &apps[i].name) != NGX_OK
            || ngx_http_upbot_out_str(out, "</td>") != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (k = 0; k < NGX_HTTP_UPBOT_OUTCOMES; k++) {
            if (ngx_http_upbot_out_printf(out, "<td>%uA</td>", am->calls[k])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ngx_http_upbot_out_printf(out, "<td>%uA / %uA / %uA / %uA</td>"
                                      "</tr>\n", am->ok, am->gone,
                                      am->missing,
                                      am->other_errors) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_http_upbot_cache_usage(umcf, &used, &size);

    return ngx_http_upbot_out_printf(out, "</table>\n<h2>Zone</h2>\n"
                                     "<p id=\"zone\">%uz of %uz bytes in "
                                     "use</p><div class=\"track wide\"><div "
                                     "class=\"bar b0\" style=\"width:%uz%%\">"
                                     "</div></div>\n", used, size,
                                     size ? used * 100 / size : 0);
}


/*
 * The codes flagged "metrics", then the first 100 of the others in the
 * index's order (not the table's): a page stays small with 100,000 codes,
 * and ?code=X shows any of them.
 */

static ngx_int_t
ngx_http_upbot_status_codes_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf)
{
    ngx_uint_t               k, slot, n, others;
    ngx_http_upbot_code_t  **flagged, *code;

    flagged = umcf->flagged.elts;
    others = umcf->ncodes - umcf->flagged.nelts;

    if (ngx_http_upbot_out_printf(out, "<h2>Codes flagged \"metrics\" (%ui)"
                                  "</h2>\n<table class=\"codes\" "
                                  "id=\"flagged\">\n",
                                  umcf->flagged.nelts) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (k = 0; k < umcf->flagged.nelts; k++) {
        if (ngx_http_upbot_status_code_row_html(out, umcf, flagged[k])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upbot_out_printf(out, "</table>\n<h2>Other codes</h2>\n"
                                  "<p class=\"note\">%ui of %ui, in the "
                                  "index's order; <code>?code=CODE</code> "
                                  "shows any code.</p>\n<table class=\""
                                  "codes\" id=\"others\">\n",
                                  ngx_min(others,
                                          NGX_HTTP_UPBOT_STATUS_CODES),
                                  others) != NGX_OK)
    {
        return NGX_ERROR;
    }

    n = 0;

    for (slot = 0; umcf->ncodes && slot <= umcf->codes_mask; slot++) {
        code = umcf->codes[slot];

        if (code == NULL || code->metrics) {
            continue;
        }

        if (n++ == NGX_HTTP_UPBOT_STATUS_CODES) {
            break;
        }

        if (ngx_http_upbot_status_code_row_html(out, umcf, code) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_upbot_out_str(out, "</table>\n");
}


static ngx_int_t
ngx_http_upbot_status_code_row_html(ngx_http_upbot_out_t *out,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_code_t *code)
{
    ngx_atomic_uint_t  steps[NGX_HTTP_UPBOT_STEPS];

    ngx_http_upbot_status_steps(ngx_http_upbot_funnel_find(umcf, &code->code),
                                (ngx_uint_t) -1, steps);

    if (ngx_http_upbot_out_str(out, "<tr><td class=\"code\">") != NGX_OK
        || ngx_http_upbot_status_link_html(out, &code->code) != NGX_OK
        || ngx_http_upbot_out_printf(out, "<br><small>%ui group%s</small>"
                                     "</td><td>", code->ngroups,
                                     code->ngroups == 1 ? "" : "s")
           != NGX_OK
        || ngx_http_upbot_status_bars_html(out, steps) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_out_str(out, "</td></tr>\n");
}


/* the page's head: inline CSS only, nothing fetched from elsewhere */

static ngx_int_t
ngx_http_upbot_status_head_html(ngx_http_upbot_out_t *out, ngx_str_t *title)
{
    if (ngx_http_upbot_out_str(out, "<!DOCTYPE html>\n<html lang=\"en\">\n"
                               "<head>\n<meta charset=\"utf-8\">\n"
                               "<title>") != NGX_OK
        || ngx_http_upbot_out_html(out, title) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_out_str(out, "</title>\n<style>\n"
        "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;"
        "max-width:70em}\n"
        "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}"
        "h3{font-size:1em;margin:.8em 0 .2em}\n"
        "table{border-collapse:collapse}"
        "th,td{text-align:left;padding:.2em .6em;"
        "border-bottom:1px solid #ddd;vertical-align:top}\n"
        "tr.answer td{background:#eef8ee;font-weight:bold}\n"
        ".state{font-weight:bold}.s-usable{color:#17702a}"
        ".s-full{color:#a55a00}.s-down,.s-gone{color:#b00020}"
        ".s-expired,.s-closed,.s-unknown{color:#666}\n"
        ".bars th{font-weight:normal;width:7em;border:0}"
        ".bars td{border:0}.n{text-align:right;width:4em}\n"
        ".track{width:20em;background:#f0f0f0}.wide{width:40em}\n"
        "#funnel{display:flex;flex-wrap:wrap;gap:0 2em}"
        "#funnel .track{width:10em}\n"
        ".bar{height:.9em}.b0{background:#4a7bd0}.b1{background:#39a0a0}"
        ".b2{background:#d08a2a}.b3{background:#9a5bc2}\n"
        ".note{color:#666;font-size:.9em}.answer{font-size:1.1em}"
        ".none{color:#b00020}\n"
        "</style>\n</head>\n<body>\n");
}


/* a code as a link to its page: escaped for the URL, then for HTML */

static ngx_int_t
ngx_http_upbot_status_link_html(ngx_http_upbot_out_t *out, ngx_str_t *code)
{
    ngx_str_t  arg;

    arg.len = code->len
              + 2 * ngx_escape_uri(NULL, code->data, code->len,
                                   NGX_ESCAPE_ARGS);
    arg.data = ngx_pnalloc(out->pool, arg.len);
    if (arg.data == NULL) {
        return NGX_ERROR;
    }

    ngx_escape_uri(arg.data, code->data, code->len, NGX_ESCAPE_ARGS);

    if (ngx_http_upbot_out_str(out, "<a href=\"?format=html&amp;code=")
        != NGX_OK
        || ngx_http_upbot_out_html(out, &arg) != NGX_OK
        || ngx_http_upbot_out_str(out, "\"><code>") != NGX_OK
        || ngx_http_upbot_out_html(out, code) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_out_str(out, "</code></a>");
}


/* "before", then a JSON string of value when there is one */

static ngx_int_t
ngx_http_upbot_status_str(ngx_http_upbot_out_t *out, const char *before,
    ngx_str_t *value)
{
    if (ngx_http_upbot_out_str(out, before) != NGX_OK) {
        return NGX_ERROR;
    }

    if (value == NULL) {
        return NGX_OK;
    }

    if (ngx_http_upbot_out_str(out, "\"") != NGX_OK
        || ngx_http_upbot_out_json(out, value) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upbot_out_str(out, "\"");
}


/* ISO 8601 at the offset of upbot_time_offset: 2026-12-08T10:00:00+08:00 */

static u_char *
ngx_http_upbot_status_iso(u_char *p, time_t t, ngx_int_t offset)
{
    ngx_tm_t  tm;

    ngx_gmtime(t + offset, &tm);

    p = ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02d",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    if (offset == 0) {
        *p++ = 'Z';
        return p;
    }

    return ngx_sprintf(p, "%c%02i:%02i", offset < 0 ? '-' : '+',
                       ngx_abs(offset) / 3600, ngx_abs(offset) / 60 % 60);
}


/* "static", or the app's name as rows write it: "tim:prod" */

static ngx_str_t *
ngx_http_upbot_status_source(ngx_http_upbot_group_t *group)
{
    static ngx_str_t  source = ngx_string("static");

    return group->live ? &group->live->source : &source;
}


static ngx_str_t *
ngx_http_upbot_status_held_name(ngx_http_upbot_held_e held)
{
    static ngx_str_t  names[] = {
        ngx_string("static"),
        ngx_string("fresh"),
        ngx_string("stale"),
        ngx_string("expired"),
        ngx_string("none")
    };

    return &names[held];
}
