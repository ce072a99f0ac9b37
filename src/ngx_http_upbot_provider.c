
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The apps of the IM providers, declared with "upbot_tim" and
 * "upbot_yunxin", and how codes table rows name them ("tim:NAME",
 * "yunxin:NAME").  Secrets may be inline or in a file; either way they
 * never reach a log.
 */


#include "ngx_http_upbot.h"


static ngx_http_upbot_app_t *ngx_http_upbot_app_create(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf,
    const ngx_http_upbot_provider_t *provider, ngx_str_t *name);
static char *ngx_http_upbot_app_option(ngx_conf_t *cf,
    ngx_http_upbot_app_t *app, ngx_uint_t n, ngx_str_t *secret_file);
static char *ngx_http_upbot_app_secret(ngx_conf_t *cf,
    ngx_http_upbot_app_t *app, ngx_str_t *secret_file);
static ngx_uint_t ngx_http_upbot_is_option(ngx_str_t *name,
    const char *option, const char *suffix);
static ngx_http_core_loc_conf_t *ngx_http_upbot_find_location(
    ngx_http_core_loc_conf_t *pclcf, ngx_str_t *uri, ngx_uint_t *final);
static ngx_uint_t ngx_http_upbot_same_path(ngx_str_t *a, ngx_str_t *b);
static void *ngx_http_upbot_yajl_malloc(void *ctx, size_t size);
static void *ngx_http_upbot_yajl_realloc(void *ctx, void *ptr, size_t size);
static void ngx_http_upbot_yajl_free(void *ctx, void *ptr);
static ngx_int_t ngx_http_upbot_walk_status(ngx_http_upbot_walk_t *w,
    yajl_status st, u_char *data, size_t len, ngx_str_t *error);


/*
 * "tim" of "tim:prod": its provider, or NULL.  The providers are the
 * module's directives that declare apps, each with its provider's table:
 * adding one is its file (see ngx_http_upbot_tim.c) and its directive.
 */

const ngx_http_upbot_provider_t *
ngx_http_upbot_provider_find(ngx_str_t *name)
{
    ngx_command_t                    *cmd;
    const ngx_http_upbot_provider_t  *p;

    for (cmd = ngx_http_upbot_module.commands; cmd->name.len; cmd++) {
        if (cmd->set != ngx_http_upbot_app) {
            continue;
        }

        p = cmd->post;

        if (p->name.len == name->len
            && ngx_strncmp(p->name.data, name->data, name->len) == 0)
        {
            return p;
        }
    }

    return NULL;
}


/* ", \"tim:APP\" or \"yunxin:APP\"": the sources a row may name, for errors */

u_char *
ngx_http_upbot_provider_sources(u_char *p, u_char *last)
{
    ngx_command_t                    *cmd, *next;
    const ngx_http_upbot_provider_t  *provider;

    for (cmd = ngx_http_upbot_module.commands; cmd->name.len; cmd++) {
        if (cmd->set != ngx_http_upbot_app) {
            continue;
        }

        provider = cmd->post;

        for (next = cmd + 1; next->name.len; next++) {
            if (next->set == ngx_http_upbot_app) {
                break;
            }
        }

        p = ngx_slprintf(p, last, "%s\"%V:APP\"",
                         next->name.len ? ", " : " or ", &provider->name);
    }

    return p;
}


/* upbot_tim NAME sdkappid=N identifier=ID key=K|key_file=F location=URI
 *           [expire=TIME] [timeout=TIME] [url_field=KEY] [rate=RATE]
 *           [rate_wait=TIME];
 * upbot_yunxin NAME appkey=K secret=S|secret_file=F location=URI
 *           [timeout=TIME] [url_field=KEY] [rate=RATE] [rate_wait=TIME]; */

char *
ngx_http_upbot_app(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    char                             *rv;
    ngx_str_t                        *value, secret_file;
    ngx_uint_t                        i;
    ngx_http_upbot_app_t             *app;
    const ngx_http_upbot_provider_t  *provider;

    value = cf->args->elts;
    provider = cmd->post;

    app = ngx_http_upbot_app_create(cf, umcf, provider, &value[1]);
    if (app == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&secret_file);

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_http_upbot_app_option(cf, app, i, &secret_file);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (app->app_id.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "app \"%V\" has no \"%s=\"", &app->name,
                           provider->id_option);
        return NGX_CONF_ERROR;
    }

    if (provider->init_app) {
        rv = provider->init_app(cf, app);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (app->location.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "app \"%V\" has no \"location=\"", &app->name);
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_upbot_app_secret(cf, app, &secret_file);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (app->url_field.len == 0) {
        ngx_str_set(&app->url_field, "url");
    }

    ngx_conf_init_msec_value(app->timeout, NGX_HTTP_UPBOT_CALL_TIMEOUT);
    ngx_conf_init_msec_value(app->rate_wait, NGX_HTTP_UPBOT_RATE_WAIT);

    if (app->rate == NGX_CONF_UNSET_UINT) {
        app->rate = provider->rate * 1000;
        app->rate_text.data = ngx_pnalloc(cf->pool, NGX_INT_T_LEN + 3);
        if (app->rate_text.data == NULL) {
            return NGX_CONF_ERROR;
        }

        app->rate_text.len = ngx_sprintf(app->rate_text.data, "%uir/s",
                                         provider->rate)
                             - app->rate_text.data;
    }

    return NGX_CONF_OK;
}


/* a new app "PROVIDER:NAME", unless the name is bad or taken */

static ngx_http_upbot_app_t *
ngx_http_upbot_app_create(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf,
    const ngx_http_upbot_provider_t *provider, ngx_str_t *name)
{
    u_char                *p;
    ngx_uint_t             i;
    ngx_http_upbot_app_t  *app, *apps;

    for (p = name->data; p < name->data + name->len; p++) {
        if (*p <= ' ' || *p == ':' || *p == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid app name \"%V\"", name);
            return NULL;
        }
    }

    app = ngx_array_push(&umcf->apps);
    if (app == NULL) {
        return NULL;
    }

    ngx_memzero(app, sizeof(ngx_http_upbot_app_t));

    app->provider = provider;
    app->timeout = NGX_CONF_UNSET_MSEC;
    app->rate = NGX_CONF_UNSET_UINT;
    app->rate_wait = NGX_CONF_UNSET_MSEC;
    app->file = cf->conf_file->file.name;
    app->line = cf->conf_file->line;

    app->name.len = provider->name.len + 1 + name->len;
    app->name.data = ngx_pnalloc(cf->pool, app->name.len);
    if (app->name.data == NULL) {
        return NULL;
    }

    p = ngx_cpymem(app->name.data, provider->name.data, provider->name.len);
    *p++ = ':';
    ngx_memcpy(p, name->data, name->len);

    apps = umcf->apps.elts;

    for (i = 0; i < umcf->apps.nelts - 1; i++) {
        if (apps[i].name.len == app->name.len
            && ngx_strncmp(apps[i].name.data, app->name.data,
                           app->name.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate app \"%V\"", &app->name);
            return NULL;
        }
    }

    if (provider->create_app) {
        app->conf = provider->create_app(cf);
        if (app->conf == NULL) {
            return NULL;
        }
    }

    return app;
}


/*
 * The directive's n-th parameter, NAME=VALUE.  The provider sees it first:
 * it takes its own options, and may refuse a common option's value.
 */

static char *
ngx_http_upbot_app_option(ngx_conf_t *cf, ngx_http_upbot_app_t *app,
    ngx_uint_t n, ngx_str_t *secret_file)
{
    u_char                           *eq;
    ngx_int_t                         rc;
    ngx_str_t                         name, value, *option, *target;
    const ngx_http_upbot_provider_t  *provider = app->provider;

    option = (ngx_str_t *) cf->args->elts + n;

    eq = ngx_strlchr(option->data, option->data + option->len, '=');
    if (eq == NULL) {
        goto unknown;
    }

    name.data = option->data;
    name.len = eq - option->data;
    value.data = eq + 1;
    value.len = option->data + option->len - value.data;

    rc = provider->app_option ? provider->app_option(cf, app, &name, &value)
                              : NGX_DECLINED;

    switch (rc) {

    case NGX_OK:
        return NGX_CONF_OK;

    case NGX_ERROR:
        return NGX_CONF_ERROR;

    case NGX_ABORT:
        goto invalid;

    default: /* NGX_DECLINED */
        break;
    }

    if (ngx_http_upbot_is_option(&name, provider->id_option, "")) {
        target = &app->app_id;

    } else if (ngx_http_upbot_is_option(&name, provider->secret_option, "")) {
        target = &app->secret;

    } else if (ngx_http_upbot_is_option(&name, provider->secret_option,
                                        "_file"))
    {
        target = secret_file;

    } else if (ngx_http_upbot_is_option(&name, "location", "")) {
        if (value.data[0] != '/') {
            goto invalid;
        }

        target = &app->location;

    } else if (ngx_http_upbot_is_option(&name, "url_field", "")) {
        target = &app->url_field;

    } else if (ngx_http_upbot_is_option(&name, "rate", "")) {
        if (app->rate != NGX_CONF_UNSET_UINT) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate \"rate=\" of app \"%V\"",
                               &app->name);
            return NGX_CONF_ERROR;
        }

        rc = ngx_http_upbot_parse_rate(value.data, value.len);
        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"rate=%V\" of app \"%V\", "
                               "expected rate=Nr/s or rate=Nr/m, N from 1 "
                               "to %d", &value, &app->name,
                               NGX_HTTP_UPBOT_RATE_MAX);
            return NGX_CONF_ERROR;
        }

        app->rate = rc;
        app->rate_text = value;

        return NGX_CONF_OK;

    } else if (ngx_http_upbot_is_option(&name, "rate_wait", "")) {
        if (app->rate_wait != NGX_CONF_UNSET_MSEC) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate \"rate_wait=\" of app \"%V\"",
                               &app->name);
            return NGX_CONF_ERROR;
        }

        rc = ngx_parse_time(&value, 0);
        if (rc == NGX_ERROR) {
            goto invalid;
        }

        app->rate_wait = (ngx_msec_t) rc;

        return NGX_CONF_OK;

    } else if (ngx_http_upbot_is_option(&name, "timeout", "")) {
        if (app->timeout != NGX_CONF_UNSET_MSEC) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate \"timeout=\" of app \"%V\"",
                               &app->name);
            return NGX_CONF_ERROR;
        }

        rc = ngx_parse_time(&value, 0);
        if (rc == NGX_ERROR || rc == 0) {
            goto invalid;
        }

        app->timeout = (ngx_msec_t) rc;

        return NGX_CONF_OK;

    } else {
        goto unknown;
    }

    rc = ngx_http_upbot_app_set(cf, app, target, &name, &value);

    if (rc == NGX_ABORT) {
        goto invalid;
    }

    return rc == NGX_OK ? NGX_CONF_OK : NGX_CONF_ERROR;

invalid:

    /* a known option's name is no secret; its value may be */

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V=...\" of app \"%V\"%s",
                       &name, &app->name,
                       value.len == 0 ? ": empty value" : "");
    return NGX_CONF_ERROR;

unknown:

    /* not a known NAME=VALUE */

    ngx_http_upbot_conf_unplaced(cf, provider->options,
                                 "invalid parameter %ui of app \"%V\"",
                                 n, &app->name);
    return NGX_CONF_ERROR;
}


/*
 * An option's string, once: NGX_OK, NGX_ABORT for an empty value (the
 * caller says it is invalid), NGX_ERROR when said before.
 */

ngx_int_t
ngx_http_upbot_app_set(ngx_conf_t *cf, ngx_http_upbot_app_t *app,
    ngx_str_t *target, ngx_str_t *name, ngx_str_t *value)
{
    if (value->len == 0) {
        return NGX_ABORT;
    }

    if (target->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate \"%V=\" of app \"%V\"", name,
                           &app->name);
        return NGX_ERROR;
    }

    *target = *value;

    return NGX_OK;
}


/* "name" is option followed by suffix */

static ngx_uint_t
ngx_http_upbot_is_option(ngx_str_t *name, const char *option,
    const char *suffix)
{
    size_t  len, slen;

    len = ngx_strlen(option);
    slen = ngx_strlen(suffix);

    return name->len == len + slen
           && ngx_strncmp(name->data, option, len) == 0
           && ngx_strncmp(name->data + len, suffix, slen) == 0;
}


/* the secret: inline, or read from its file */

static char *
ngx_http_upbot_app_secret(ngx_conf_t *cf, ngx_http_upbot_app_t *app,
    ngx_str_t *secret_file)
{
    const char  *option = app->provider->secret_option;

    if (secret_file->len) {
        if (app->secret.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "app \"%V\" has both \"%s=\" and \"%s_file=\"",
                               &app->name, option, option);
            return NGX_CONF_ERROR;
        }

        if (ngx_conf_full_name(cf->cycle, secret_file, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_upbot_read_file(cf, secret_file, cf->pool, &app->secret)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        /* a trailing newline is the editor's, not the secret's */

        while (app->secret.len
               && (app->secret.data[app->secret.len - 1] == '\n'
                   || app->secret.data[app->secret.len - 1] == '\r'
                   || app->secret.data[app->secret.len - 1] == ' '
                   || app->secret.data[app->secret.len - 1] == '\t'))
        {
            app->secret.len--;
        }

        if (app->secret.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "app \"%V\": \"%V\" is empty", &app->name,
                               secret_file);
            return NGX_CONF_ERROR;
        }
    }

    if (app->secret.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "app \"%V\" has no \"%s=\" or \"%s_file=\"",
                           &app->name, option, option);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "tim:prod" in a codes table row: the app, or NULL */

ngx_http_upbot_app_t *
ngx_http_upbot_app_find(ngx_http_upbot_main_conf_t *umcf, ngx_str_t *name)
{
    ngx_uint_t             i;
    ngx_http_upbot_app_t  *apps;

    apps = umcf->apps.elts;

    for (i = 0; i < umcf->apps.nelts; i++) {
        if (apps[i].name.len == name->len
            && ngx_strncmp(apps[i].name.data, name->data, name->len) == 0)
        {
            return &apps[i];
        }
    }

    return NULL;
}


/*
 * Every server that serves GetMediaInfo must route each app's calls to the
 * location written for them, with a handler (proxy_pass): otherwise a call
 * would fall to the static handler, or to a catch-all location that proxies
 * elsewhere, UserSig and all.  The call's URI is resolved the way nginx
 * resolves a request's, once the servers' location trees are built.
 */

ngx_int_t
ngx_http_upbot_app_locations(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf)
{
    u_char                    *p;
    ngx_str_t                  uri;
    ngx_uint_t                 i, k, final;
    ngx_http_upbot_app_t      *app;
    ngx_http_upbot_caller_t   *caller;
    ngx_http_core_loc_conf_t  *clcf, *server;

    app = umcf->apps.elts;
    caller = umcf->callers.elts;

    for (k = 0; k < umcf->apps.nelts; k++) {

        /* a call goes to the location itself, or below it */

        uri = app[k].location;

        if (app[k].provider->id_in_path) {
            uri.data = ngx_pnalloc(cf->temp_pool, app[k].location.len + 2);
            if (uri.data == NULL) {
                return NGX_ERROR;
            }

            p = ngx_cpymem(uri.data, app[k].location.data,
                           app[k].location.len);
            if (p[-1] != '/') {
                *p++ = '/';
            }

            *p++ = '1';
            uri.len = p - uri.data;
        }

        for (i = 0; i < umcf->callers.nelts; i++) {
            server = caller[i].server->ctx->loc_conf[ngx_http_core_module
                                                     .ctx_index];

            clcf = ngx_http_upbot_find_location(server, &uri, &final);

            if (clcf == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "app \"%V\": no location \"%V\" in the server "
                              "of upbot_get_media_info in %V:%ui "
                              "(its calls would be served as static files)",
                              &app[k].name, &app[k].location,
                              &caller[i].file, caller[i].line);
                return NGX_ERROR;
            }

            if (!ngx_http_upbot_same_path(&clcf->name, &app[k].location)) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "app \"%V\": no location \"%V\" in the server "
                              "of upbot_get_media_info in %V:%ui "
                              "(its calls would go to location \"%V\")",
                              &app[k].name, &app[k].location,
                              &caller[i].file, caller[i].line, &clcf->name);
                return NGX_ERROR;
            }

            if (clcf->handler == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "app \"%V\": location \"%V\" in the server "
                              "of upbot_get_media_info in %V:%ui has no "
                              "proxy_pass", &app[k].name, &clcf->name,
                              &caller[i].file, caller[i].line);
                return NGX_ERROR;
            }

            if (!clcf->internal) {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "app \"%V\": location \"%V\" in the server "
                              "of upbot_get_media_info in %V:%ui is not "
                              "\"internal\", so clients can reach it",
                              &app[k].name, &clcf->name,
                              &caller[i].file, caller[i].line);
            }
        }
    }

    return NGX_OK;
}


/*
 * The location that serves "uri" below pclcf, as ngx_http_core_find_location()
 * finds it for a request (it needs one, so it can't be called here): the
 * static tree first, its nested locations, then regular expressions unless
 * "^~".  NULL: none, the request would be served by pclcf itself.  *final:
 * an exact or regex match, which ends the search.
 */

static ngx_http_core_loc_conf_t *
ngx_http_upbot_find_location(ngx_http_core_loc_conf_t *pclcf, ngx_str_t *uri,
    ngx_uint_t *final)
{
    u_char                         *p;
    size_t                          n, len;
    ngx_int_t                       rc;
    ngx_uint_t                      noregex;
    ngx_http_core_loc_conf_t       *found, *nested;
    ngx_http_location_tree_node_t  *node;
#if (NGX_PCRE)
    ngx_http_core_loc_conf_t      **regex;
#endif

    *final = 0;
    found = NULL;

    node = pclcf->static_locations;
    p = uri->data;
    len = uri->len;

    while (node) {
        n = ngx_min(len, (size_t) node->len);

        rc = ngx_filename_cmp(p, node->name, n);

        if (rc != 0) {
            node = (rc < 0) ? node->left : node->right;
            continue;
        }

        if (len > (size_t) node->len) {
            if (node->inclusive) {
                found = node->inclusive;
                node = node->tree;
                p += n;
                len -= n;
                continue;
            }

            node = node->right;
            continue;
        }

        if (len == (size_t) node->len) {
            if (node->exact) {
                *final = 1;
                return node->exact;
            }

            found = node->inclusive;
            break;
        }

        node = node->left;
    }

    noregex = 0;

    if (found) {
        noregex = found->noregex;

        nested = ngx_http_upbot_find_location(found, uri, final);

        if (*final) {
            return nested;
        }

        if (nested) {
            found = nested;
        }
    }

#if (NGX_PCRE)

    if (noregex == 0 && pclcf->regex_locations) {

        for (regex = pclcf->regex_locations; *regex; regex++) {

            if (ngx_regex_exec((*regex)->regex->regex, uri, NULL, 0) < 0) {
                continue;
            }

            nested = ngx_http_upbot_find_location(*regex, uri, final);
            *final = 1;

            return nested ? nested : *regex;
        }
    }

#endif

    return found;
}


/* "/_upbot/yunxin" and "/_upbot/yunxin/" name the same location */

static ngx_uint_t
ngx_http_upbot_same_path(ngx_str_t *a, ngx_str_t *b)
{
    size_t  alen, blen;

    alen = a->len;
    blen = b->len;

    if (alen && a->data[alen - 1] == '/') {
        alen--;
    }

    if (blen && b->data[blen - 1] == '/') {
        blen--;
    }

    return alen == blen && ngx_filename_cmp(a->data, b->data, alen) == 0;
}


/*
 * The walker: yajl's callbacks keep the key path; the provider's scalar
 * and map callbacks decide what a value at that path means.  Answers are
 * parsed from whatever pieces they arrive in and never built into a tree.
 */

static int
ngx_http_upbot_walk_null(void *ctx)
{
    ngx_http_upbot_walk_t  *w = ctx;

    return w->scalar(w, ngx_http_upbot_reply_null, NULL, 0, 0) == NGX_OK;
}


static int
ngx_http_upbot_walk_boolean(void *ctx, int b)
{
    ngx_http_upbot_walk_t  *w = ctx;

    return w->scalar(w, ngx_http_upbot_reply_bool, NULL, 0, b) == NGX_OK;
}


static int
ngx_http_upbot_walk_integer(void *ctx, long long n)
{
    ngx_http_upbot_walk_t  *w = ctx;

    return w->scalar(w, ngx_http_upbot_reply_int, NULL, 0, n) == NGX_OK;
}


static int
ngx_http_upbot_walk_double(void *ctx, double d)
{
    ngx_http_upbot_walk_t  *w = ctx;

    return w->scalar(w, ngx_http_upbot_reply_other, NULL, 0, 0) == NGX_OK;
}


static int
ngx_http_upbot_walk_string(void *ctx, const unsigned char *s, size_t len)
{
    ngx_http_upbot_walk_t  *w = ctx;

    return w->scalar(w, ngx_http_upbot_reply_string, s, len, 0) == NGX_OK;
}


static int
ngx_http_upbot_walk_open(ngx_http_upbot_walk_t *w, ngx_uint_t array)
{
    w->depth++;

    if (w->depth <= NGX_HTTP_UPBOT_WALK_DEPTH) {
        w->key_len[w->depth] = 0;

        if (array) {
            w->array |= (ngx_uint_t) 1 << w->depth;

        } else {
            w->array &= ~((ngx_uint_t) 1 << w->depth);
        }
    }

    return 1;
}


static int
ngx_http_upbot_walk_start_map(void *ctx)
{
    ngx_http_upbot_walk_t  *w = ctx;

    ngx_http_upbot_walk_open(w, 0);

    return w->map == NULL || w->map(w, 1) == NGX_OK;
}


static int
ngx_http_upbot_walk_map_key(void *ctx, const unsigned char *key, size_t len)
{
    ngx_http_upbot_walk_t  *w = ctx;

    if (w->depth > NGX_HTTP_UPBOT_WALK_DEPTH) {
        return 1;
    }

    /* a key too long to be one we look for matches none */

    if (len > NGX_HTTP_UPBOT_WALK_KEY) {
        w->key_len[w->depth] = 0;
        return 1;
    }

    ngx_memcpy(w->keys[w->depth], key, len);
    w->key_len[w->depth] = len;

    return 1;
}


static int
ngx_http_upbot_walk_end_map(void *ctx)
{
    ngx_http_upbot_walk_t  *w = ctx;

    if (w->map && w->map(w, 0) != NGX_OK) {
        return 0;
    }

    w->depth--;

    return 1;
}


static int
ngx_http_upbot_walk_start_array(void *ctx)
{
    return ngx_http_upbot_walk_open(ctx, 1);
}


static int
ngx_http_upbot_walk_end_array(void *ctx)
{
    ngx_http_upbot_walk_t  *w = ctx;

    w->depth--;

    return 1;
}


static yajl_callbacks  ngx_http_upbot_walk_callbacks = {
    ngx_http_upbot_walk_null,
    ngx_http_upbot_walk_boolean,
    ngx_http_upbot_walk_integer,
    ngx_http_upbot_walk_double,
    NULL,
    ngx_http_upbot_walk_string,
    ngx_http_upbot_walk_start_map,
    ngx_http_upbot_walk_map_key,
    ngx_http_upbot_walk_end_map,
    ngx_http_upbot_walk_start_array,
    ngx_http_upbot_walk_end_array
};


ngx_int_t
ngx_http_upbot_walk_start(ngx_http_upbot_walk_t *w)
{
    yajl_alloc_funcs  afs;

    /* yajl's memory is the pool's: nothing to free by hand */

    afs.malloc = ngx_http_upbot_yajl_malloc;
    afs.realloc = ngx_http_upbot_yajl_realloc;
    afs.free = ngx_http_upbot_yajl_free;
    afs.ctx = w->reply->pool;

    w->handle = yajl_alloc(&ngx_http_upbot_walk_callbacks, &afs, w);

    return w->handle ? NGX_OK : NGX_ERROR;
}


/* NGX_OK, NGX_DECLINED with a reason in "error", or NGX_ERROR */

ngx_int_t
ngx_http_upbot_walk_feed(ngx_http_upbot_walk_t *w, u_char *data, size_t len,
    ngx_str_t *error)
{
    return ngx_http_upbot_walk_status(w, yajl_parse(w->handle, data, len),
                                      data, len, error);
}


ngx_int_t
ngx_http_upbot_walk_finish(ngx_http_upbot_walk_t *w, ngx_str_t *error)
{
    return ngx_http_upbot_walk_status(w, yajl_complete_parse(w->handle),
                                      NULL, 0, error);
}


/* a whole document in one buffer */

ngx_int_t
ngx_http_upbot_walk(ngx_http_upbot_walk_t *w, u_char *data, size_t len,
    ngx_str_t *error)
{
    ngx_int_t  rc;

    rc = ngx_http_upbot_walk_start(w);

    if (rc == NGX_OK) {
        rc = ngx_http_upbot_walk_feed(w, data, len, error);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_upbot_walk_finish(w, error);
    }

    return rc;
}


static ngx_int_t
ngx_http_upbot_walk_status(ngx_http_upbot_walk_t *w, yajl_status st,
    u_char *data, size_t len, ngx_str_t *error)
{
    u_char     *msg;
    ngx_int_t   rc;

    if (st == yajl_status_ok) {
        return NGX_OK;
    }

    if (st == yajl_status_client_canceled) {
        ngx_str_set(error, "unexpected JSON shape");
        return NGX_DECLINED;
    }

    msg = yajl_get_error(w->handle, 0, data, len);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_upbot_copy(w->reply->pool, error, msg, ngx_strlen(msg));

    yajl_free_error(w->handle, msg);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /* yajl's message ends with a newline */

    while (error->len && (error->data[error->len - 1] == '\n'
                          || error->data[error->len - 1] == ' '))
    {
        error->len--;
    }

    return NGX_DECLINED;
}


/*
 * A reply of Tencent (a list of groups) or Yunxin (one team), read from
 * the pieces of a subrequest's answer as they come.
 */

ngx_int_t
ngx_http_upbot_reply_init(ngx_http_upbot_reply_t *reply, ngx_pool_t *pool,
    const ngx_http_upbot_provider_t *provider, ngx_str_t *url_field,
    ngx_uint_t n)
{
    ngx_memzero(reply, sizeof(ngx_http_upbot_reply_t));

    reply->pool = pool;
    reply->provider = provider;
    reply->url_field = *url_field;
    reply->error = -1;

    if (ngx_array_init(&reply->groups, pool, n,
                       sizeof(ngx_http_upbot_fetched_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    reply->walk = ngx_pcalloc(pool, sizeof(ngx_http_upbot_walk_t));
    if (reply->walk == NULL) {
        return NGX_ERROR;
    }

    reply->walk->reply = reply;
    reply->walk->scalar = provider->scalar;
    reply->walk->map = provider->map;

    return ngx_http_upbot_walk_start(reply->walk);
}


/* NGX_ERROR only for a lack of memory; a bad answer is reply->bad */

ngx_int_t
ngx_http_upbot_reply_feed(ngx_http_upbot_reply_t *reply, u_char *data,
    size_t len)
{
    ngx_int_t  rc;

    if (reply->bad || len == 0) {
        return NGX_OK;
    }

    reply->size += len;

    rc = ngx_http_upbot_walk_feed(reply->walk, data, len, &reply->why);

    if (rc == NGX_DECLINED) {
        reply->bad = 1;
        return NGX_OK;
    }

    return rc;
}


/* the answer is all in: NGX_OK, NGX_DECLINED (reply->why), NGX_ERROR */

ngx_int_t
ngx_http_upbot_reply_finish(ngx_http_upbot_reply_t *reply)
{
    ngx_int_t  rc;

    if (reply->bad) {
        return NGX_DECLINED;
    }

    rc = ngx_http_upbot_walk_finish(reply->walk, &reply->why);

    if (rc == NGX_OK) {
        rc = reply->provider->check(reply);
    }

    if (rc == NGX_DECLINED) {
        reply->bad = 1;
    }

    return rc;
}


/*
 * What the provider said of a group, as facts: its strings stay where the
 * answer put them; whether they need escaping in answers is worked out
 * once, here, rather than on every answer.
 */

void
ngx_http_upbot_facts_from(ngx_http_upbot_facts_t *facts,
    ngx_http_upbot_fetched_t *f)
{
    ngx_memzero(facts, sizeof(ngx_http_upbot_facts_t));

    facts->known = 1;
    facts->gone = f->error != 0;
    facts->name = f->name;
    facts->face_url = f->face_url;
    facts->url = f->url;
    facts->members = f->members > 0 ? f->members : 0;
    facts->max_members = f->max_members > 0 ? f->max_members : 0;
    facts->json_safe =
        ngx_http_upbot_json_safe(f->name.data, f->name.len)
        && ngx_http_upbot_json_safe(f->face_url.data, f->face_url.len)
        && ngx_http_upbot_json_safe(f->url.data, f->url.len);
}


/* a new group at the end of a reply, its numbers not said yet */

ngx_http_upbot_fetched_t *
ngx_http_upbot_reply_group(ngx_http_upbot_reply_t *reply)
{
    ngx_http_upbot_fetched_t  *g;

    g = ngx_array_push(&reply->groups);
    if (g == NULL) {
        return NULL;
    }

    ngx_memzero(g, sizeof(ngx_http_upbot_fetched_t));
    g->members = -1;
    g->max_members = -1;

    return g;
}


/* a header of the call's request */

ngx_int_t
ngx_http_upbot_call_header(ngx_http_upbot_call_t *call, const char *key,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    if (call->nheaders == NGX_HTTP_UPBOT_CALL_HEADERS) {
        return NGX_ERROR;
    }

    h = &call->headers[call->nheaders++];

    ngx_memzero(h, sizeof(ngx_table_elt_t));

    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    h->lowcase_key = ngx_pnalloc(call->pool, h->key.len);
    if (h->lowcase_key == NULL) {
        return NGX_ERROR;
    }

    h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);

    return NGX_OK;
}


ngx_int_t
ngx_http_upbot_copy(ngx_pool_t *pool, ngx_str_t *dst, const u_char *s,
    size_t len)
{
    dst->data = ngx_pnalloc(pool, len);
    if (dst->data == NULL && len) {
        return NGX_ERROR;
    }

    if (len) {
        ngx_memcpy(dst->data, s, len);
    }

    dst->len = len;

    return NGX_OK;
}


ngx_int_t
ngx_http_upbot_copy_printable(ngx_pool_t *pool, ngx_str_t *dst,
    const u_char *s, size_t len)
{
    dst->data = ngx_pnalloc(pool, len);
    if (dst->data == NULL && len) {
        return NGX_ERROR;
    }

    ngx_http_upbot_printable(dst->data, s, len, 1);

    dst->len = len;

    return NGX_OK;
}


/*
 * yajl's buffers grow by realloc: each block remembers its size so that
 * realloc can copy it; the pool frees everything with the request.
 */

static void *
ngx_http_upbot_yajl_malloc(void *ctx, size_t size)
{
    size_t  *block;

    block = ngx_palloc(ctx, sizeof(size_t) + size);
    if (block == NULL) {
        return NULL;
    }

    *block = size;

    return block + 1;
}


static void *
ngx_http_upbot_yajl_realloc(void *ctx, void *ptr, size_t size)
{
    size_t  *block;
    void    *fresh;

    if (ptr == NULL) {
        return ngx_http_upbot_yajl_malloc(ctx, size);
    }

    block = (size_t *) ptr - 1;

    if (*block >= size) {
        return ptr;
    }

    fresh = ngx_http_upbot_yajl_malloc(ctx, size);
    if (fresh == NULL) {
        return NULL;
    }

    ngx_memcpy(fresh, ptr, *block);
    ngx_pfree(ctx, block);

    return fresh;
}


static void
ngx_http_upbot_yajl_free(void *ctx, void *ptr)
{
    if (ptr) {
        ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}
