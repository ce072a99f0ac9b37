
/*
 * Copyright (C) 2026, the upbot authors
 *
 * ngx_http_upbot_module: the directives, the configuration and the
 * $upbot_* variables.  The work itself is in the other files, one a step.
 */


#include "ngx_http_upbot.h"


static ngx_int_t ngx_http_upbot_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_upbot_variable_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upbot_variable_number(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upbot_variable_cache_status(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upbot_variable_pick(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static void *ngx_http_upbot_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_upbot_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_upbot_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_upbot_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_upbot_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upbot_pick_mode(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upbot_sticky(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upbot_attribution(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_upbot_needs_zone(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf, ngx_uint_t on, const char *what,
    ngx_str_t *file, ngx_uint_t line);
static char *ngx_http_upbot_limit_visitor(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upbot_time_offset(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upbot_check_bounds(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_upbot_shown(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_upbot_init(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_upbot_pick_modes[] = {
    { ngx_string("first"), NGX_HTTP_UPBOT_PICK_FIRST },
    { ngx_string("spread"), NGX_HTTP_UPBOT_PICK_SPREAD },
    { ngx_null_string, 0 }
};

static ngx_conf_num_bounds_t  ngx_http_upbot_code_length_bounds = {
    ngx_http_upbot_check_bounds, 1, NGX_HTTP_UPBOT_CODE_HARD_MAX
};

static ngx_conf_num_bounds_t  ngx_http_upbot_items_bounds = {
    ngx_http_upbot_check_bounds, 1, 100000
};

static ngx_conf_num_bounds_t  ngx_http_upbot_depth_bounds = {
    ngx_http_upbot_check_bounds, 3, 1024
};


static ngx_command_t  ngx_http_upbot_commands[] = {

    { ngx_string("upbot_codes"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_NOARGS,
      ngx_http_upbot_codes_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upbot_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_upbot_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upbot_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_upbot_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    /* the providers: "upbot_" and the provider's name, its table */

    { ngx_string("upbot_tim"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_upbot_app,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) &ngx_http_upbot_tim_provider },

    { ngx_string("upbot_yunxin"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_upbot_app,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) &ngx_http_upbot_yunxin_provider },

    { ngx_string("upbot_max_code_length"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_upbot_main_conf_t, max_code_length),
      &ngx_http_upbot_code_length_bounds },

    { ngx_string("upbot_sticky"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_upbot_sticky,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upbot_limit_visitor"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_upbot_limit_visitor,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upbot_attribution"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_upbot_attribution,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upbot_time_offset"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_upbot_time_offset,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upbot_get_media_info"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_upbot_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      (void *) &ngx_http_upbot_media_info_api },

    { ngx_string("upbot_report_media_event"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_upbot_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      (void *) &ngx_http_upbot_media_event_api },

    { ngx_string("upbot_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_upbot_shown,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_upbot_scrape_handler },

    { ngx_string("upbot_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_upbot_shown,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_upbot_status_handler },

    { ngx_string("upbot_auth_tokens"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upbot_auth_tokens,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upbot_event_log"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_upbot_event_log,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upbot_pick"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upbot_pick_mode,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upbot_max_items"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upbot_loc_conf_t, max_items),
      &ngx_http_upbot_items_bounds },

    { ngx_string("upbot_max_string_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upbot_loc_conf_t, max_string_length),
      NULL },

    { ngx_string("upbot_max_json_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upbot_loc_conf_t, max_json_depth),
      &ngx_http_upbot_depth_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upbot_module_ctx = {
    ngx_http_upbot_add_variables,          /* preconfiguration */
    ngx_http_upbot_init,                   /* postconfiguration */

    ngx_http_upbot_create_main_conf,       /* create main configuration */
    ngx_http_upbot_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_upbot_create_loc_conf,        /* create location configuration */
    ngx_http_upbot_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_upbot_module = {
    NGX_MODULE_V1,
    &ngx_http_upbot_module_ctx,            /* module context */
    ngx_http_upbot_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_upbot_warm_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_upbot_warm_exit_process,      /* exit process */
    ngx_http_upbot_warm_exit_master,       /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_upbot_vars[] = {

    { ngx_string("upbot_code"), NULL, ngx_http_upbot_variable_str,
      offsetof(ngx_http_upbot_ctx_t, code), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upbot_trace_id"), NULL, ngx_http_upbot_variable_str,
      offsetof(ngx_http_upbot_ctx_t, trace_id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upbot_group"), NULL, ngx_http_upbot_variable_str,
      offsetof(ngx_http_upbot_ctx_t, group), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upbot_error"), NULL, ngx_http_upbot_variable_str,
      offsetof(ngx_http_upbot_ctx_t, error), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upbot_token_label"), NULL, ngx_http_upbot_variable_str,
      offsetof(ngx_http_upbot_ctx_t, token_label),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upbot_ret"), NULL, ngx_http_upbot_variable_number,
      offsetof(ngx_http_upbot_ctx_t, ret), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upbot_views"), NULL, ngx_http_upbot_variable_number,
      offsetof(ngx_http_upbot_ctx_t, views), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upbot_cache_status"), NULL,
      ngx_http_upbot_variable_cache_status, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upbot_pick"), NULL,
      ngx_http_upbot_variable_pick, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_upbot_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_upbot_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_variable_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             *s;
    ngx_http_upbot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    /*
     * code and trace id are the client's bytes: a variable may end up in a
     * header, so control characters are shown as "?"
     */

    if (ngx_http_upbot_is_printable(s->data, s->len, 0)) {
        v->data = s->data;

    } else {
        v->data = ngx_pnalloc(r->pool, s->len);
        if (v->data == NULL) {
            return NGX_ERROR;
        }

        ngx_http_upbot_printable(v->data, s->data, s->len, 0);
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* a number of the request's, none while it is negative */

static ngx_int_t
ngx_http_upbot_variable_number(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    ngx_int_t              n;
    ngx_http_upbot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = *(ngx_int_t *) ((u_char *) ctx + data);

    if (n < 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%i", n) - p;
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static void *
ngx_http_upbot_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upbot_main_conf_t));
    if (umcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     umcf->load = NULL;
     *     umcf->ncodes = 0;
     */

    umcf->max_code_length = NGX_CONF_UNSET_UINT;
    umcf->request_id_index = NGX_ERROR;
    umcf->ttl = NGX_CONF_UNSET_MSEC;
    umcf->stale = NGX_CONF_UNSET_MSEC;
    umcf->lock_timeout = NGX_CONF_UNSET_MSEC;
    umcf->retry = NGX_CONF_UNSET_MSEC;
    umcf->state_interval = NGX_CONF_UNSET_MSEC;
    umcf->time_offset = NGX_CONF_UNSET;
    umcf->sticky = NGX_CONF_UNSET;
    umcf->attribution = NGX_CONF_UNSET;
    umcf->limit_rate = NGX_CONF_UNSET_UINT;

    if (ngx_array_init(&umcf->apps, cf->pool, 2, sizeof(ngx_http_upbot_app_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&umcf->callers, cf->pool, 1,
                       sizeof(ngx_http_upbot_caller_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&umcf->syncers, cf->pool, 1,
                       sizeof(ngx_http_upbot_syncer_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&umcf->flagged, cf->pool, 4,
                       sizeof(ngx_http_upbot_code_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return umcf;
}


static char *
ngx_http_upbot_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    static ngx_str_t  request_id = ngx_string("request_id");

    ngx_conf_init_uint_value(umcf->max_code_length, 64);
    ngx_conf_init_msec_value(umcf->ttl, 60000);
    ngx_conf_init_msec_value(umcf->stale, 600000);
    ngx_conf_init_msec_value(umcf->lock_timeout, 5000);
    ngx_conf_init_msec_value(umcf->retry, 1000);
    ngx_conf_init_value(umcf->time_offset, 8 * 3600);   /* +08:00 */
    ngx_conf_init_value(umcf->sticky, 0);
    ngx_conf_init_value(umcf->attribution, 0);
    ngx_conf_init_uint_value(umcf->limit_rate, 0);

    if (ngx_http_upbot_needs_zone(cf, umcf, umcf->shown_line != 0,
                                  "the metrics and the status page need "
                                  "\"upbot_zone\" for their counters",
                                  &umcf->shown_file, umcf->shown_line)
        != NGX_OK
        || ngx_http_upbot_needs_zone(cf, umcf, umcf->sticky != 0,
                                  "\"upbot_sticky\" needs \"upbot_zone\" to "
                                  "remember visitors",
                                  &umcf->sticky_file, umcf->sticky_line)
        != NGX_OK
        || ngx_http_upbot_needs_zone(cf, umcf, umcf->attribution != 0,
                                     "\"upbot_attribution\" needs "
                                     "\"upbot_zone\" to remember the groups "
                                     "shown",
                                     &umcf->attribution_file,
                                     umcf->attribution_line)
           != NGX_OK
        || ngx_http_upbot_needs_zone(cf, umcf, umcf->limit_rate != 0,
                                     "\"upbot_limit_visitor\" needs "
                                     "\"upbot_zone\" to count visitors' "
                                     "requests",
                                     &umcf->limit_file, umcf->limit_line)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_upbot_codes_init(cf, umcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    umcf->request_id_index = ngx_http_get_variable_index(cf, &request_id);
    if (umcf->request_id_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_upbot_respond_init(cf, umcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* once every server's locations are in place */

static ngx_int_t
ngx_http_upbot_init(ngx_conf_t *cf)
{
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upbot_module);

    if (ngx_http_upbot_app_locations(cf, umcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_upbot_metrics_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_upbot_fetch_init(cf);
}


static void *
ngx_http_upbot_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_upbot_loc_conf_t  *ulcf;

    ulcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upbot_loc_conf_t));
    if (ulcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     ulcf->api = NULL;
     */

    ulcf->tokens = NGX_CONF_UNSET_PTR;
    ulcf->event_log = NGX_CONF_UNSET_PTR;
    ulcf->pick = NGX_CONF_UNSET_UINT;
    ulcf->max_items = NGX_CONF_UNSET_UINT;
    ulcf->max_string_length = NGX_CONF_UNSET_SIZE;
    ulcf->max_json_depth = NGX_CONF_UNSET_UINT;

    return ulcf;
}


static char *
ngx_http_upbot_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_upbot_loc_conf_t *prev = parent;
    ngx_http_upbot_loc_conf_t *conf = child;

    /* no default: left unset, an API location must say (see below) */
    ngx_conf_merge_ptr_value(conf->tokens, prev->tokens, NGX_CONF_UNSET_PTR);
    ngx_conf_merge_ptr_value(conf->event_log, prev->event_log, NULL);

    ngx_conf_merge_uint_value(conf->pick, prev->pick,
                              NGX_HTTP_UPBOT_PICK_FIRST);
    ngx_conf_merge_uint_value(conf->max_items, prev->max_items, 100);
    ngx_conf_merge_size_value(conf->max_string_length,
                              prev->max_string_length, 256);
    ngx_conf_merge_uint_value(conf->max_json_depth, prev->max_json_depth, 16);

    if (conf->api == NULL) {
        return NGX_CONF_OK;
    }

    /* an API location must say who may call it and, for events, where */

    if (conf->tokens == NGX_CONF_UNSET_PTR) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "%V needs \"upbot_auth_tokens\" (or "
                      "\"upbot_auth_tokens off\") in %V:%ui",
                      &conf->api->name, &conf->api_file, conf->api_line);
        return NGX_CONF_ERROR;
    }

    if (conf->api->needs_event_log && conf->event_log == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "%V needs \"upbot_event_log\" in %V:%ui",
                      &conf->api->name, &conf->api_file, conf->api_line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_upbot_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_loc_conf_t *ulcf = conf;

    ngx_uint_t                   i;
    ngx_http_core_srv_conf_t    *cscf;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_upbot_caller_t     *caller;
    ngx_http_upbot_main_conf_t  *umcf;

    if (ulcf->api) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* upbot_metrics or upbot_status written first: either order fails */

    if (clcf->handler == ngx_http_upbot_scrape_handler
        || clcf->handler == ngx_http_upbot_status_handler)
    {
        return "is not allowed in an upbot_metrics or upbot_status location";
    }

    ulcf->api = cmd->post;
    ulcf->api_file = cf->conf_file->file.name;
    ulcf->api_line = cf->conf_file->line;

    /* its server must route provider calls: checked once locations are set */

    if (ulcf->api == &ngx_http_upbot_media_info_api) {
        umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upbot_module);
        cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

        caller = umcf->callers.elts;

        for (i = 0; i < umcf->callers.nelts; i++) {
            if (caller[i].server == cscf) {
                break;
            }
        }

        if (i == umcf->callers.nelts) {
            caller = ngx_array_push(&umcf->callers);
            if (caller == NULL) {
                return NGX_CONF_ERROR;
            }

            caller->server = cscf;
            caller->file = ulcf->api_file;
            caller->line = ulcf->api_line;
        }
    }

    clcf->handler = ngx_http_upbot_handler;

    return NGX_CONF_OK;
}


/* "upbot_metrics", "upbot_status": a location that shows the counters */

static char *
ngx_http_upbot_shown(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_loc_conf_t *ulcf = conf;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_upbot_main_conf_t  *umcf;

    if (ulcf->api) {
        return "is not allowed in an API location";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == (ngx_http_handler_pt) cmd->post) {
        return "is duplicate";
    }

    /* one location, one answer: not both upbot_metrics and upbot_status */

    if (clcf->handler == ngx_http_upbot_scrape_handler
        || clcf->handler == ngx_http_upbot_status_handler)
    {
        return "is not allowed in an upbot_metrics or upbot_status location";
    }

    clcf->handler = (ngx_http_handler_pt) cmd->post;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upbot_module);

    if (umcf->shown_line == 0) {
        umcf->shown_file = cf->conf_file->file.name;
        umcf->shown_line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


/*
 * Not ngx_conf_set_enum_slot(): it would take "First" as well, and its
 * error does not name the modes.
 */

static char *
ngx_http_upbot_pick_mode(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_loc_conf_t *ulcf = conf;

    ngx_str_t        *value;
    ngx_conf_enum_t  *e;

    if (ulcf->pick != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = ngx_http_upbot_pick_modes; e->name.len; e++) {
        if (ngx_strcmp(e->name.data, value[1].data) == 0) {
            ulcf->pick = e->value;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\", it must be "
                       "\"first\" or \"spread\"", &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


/*
 * "upbot_sticky ttl=7d | off": a visitor gets the group answered before,
 * while it is usable, for ttl
 */

static char *
ngx_http_upbot_sticky(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    time_t      ttl;
    ngx_str_t  *value, v;

    if (umcf->sticky != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        umcf->sticky = 0;
        return NGX_CONF_OK;
    }

    if (value[1].len < 4 || ngx_strncmp(value[1].data, "ttl=", 4) != 0) {
        ngx_http_upbot_conf_unplaced(cf, "ttl=TIME or off",
                                     "invalid parameter 1 of \"%V\"",
                                     &cmd->name);
        return NGX_CONF_ERROR;
    }

    v.data = value[1].data + 4;
    v.len = value[1].len - 4;

    ttl = ngx_parse_time(&v, 1);

    if (ttl == (time_t) NGX_ERROR || ttl == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value in \"%V\", expected a time of a "
                           "second or more", &value[1]);
        return NGX_CONF_ERROR;
    }

    umcf->sticky = ttl;
    umcf->sticky_file = cf->conf_file->file.name;
    umcf->sticky_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * "upbot_limit_visitor rate=20r/m [burst=10] | off": GetMediaInfo answers a
 * visitor at rate, and burst more at once; the rest are refused at once
 * (limit_req's leaky bucket, as with its nodelay)
 */

static char *
ngx_http_upbot_limit_visitor(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    u_char      *p;
    ngx_int_t    rate, burst;
    ngx_str_t   *value, rate_text;
    ngx_uint_t   i;

    if (umcf->limit_rate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2
        && value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0)
    {
        umcf->limit_rate = 0;
        return NGX_CONF_OK;
    }

    rate = NGX_CONF_UNSET;
    burst = NGX_CONF_UNSET;
    ngx_str_null(&rate_text);

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len >= 5 && ngx_strncmp(value[i].data, "rate=", 5) == 0) {

            if (rate != NGX_CONF_UNSET) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" has rate= twice", &cmd->name);
                return NGX_CONF_ERROR;
            }

            rate = ngx_http_upbot_parse_rate(value[i].data + 5,
                                             value[i].len - 5);

            if (rate == NGX_ERROR) {
                goto invalid_rate;
            }

            rate_text.data = value[i].data + 5;
            rate_text.len = value[i].len - 5;

            continue;
        }

        if (value[i].len >= 6 && ngx_strncmp(value[i].data, "burst=", 6) == 0)
        {
            if (burst != NGX_CONF_UNSET) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" has burst= twice", &cmd->name);
                return NGX_CONF_ERROR;
            }

            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (burst == NGX_ERROR || burst > NGX_HTTP_UPBOT_RATE_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\" in \"%V\", expected "
                                   "burst=N, N from 0 to %d", &value[i],
                                   &cmd->name, NGX_HTTP_UPBOT_RATE_MAX);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_http_upbot_conf_unplaced(cf,
                                     "rate=Nr/s, rate=Nr/m, burst=N or off",
                                     "invalid parameter %ui of \"%V\"",
                                     i, &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (rate == NGX_CONF_UNSET) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs rate=Nr/s or rate=Nr/m",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (burst == NGX_CONF_UNSET) {
        burst = 0;
    }

    /* the reason of a refusal names it, $upbot_error */

    p = ngx_pnalloc(cf->pool, sizeof("rate= burst=") - 1 + rate_text.len
                              + NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    umcf->limit_text.data = p;
    umcf->limit_text.len = ngx_sprintf(p, "rate=%V burst=%i", &rate_text,
                                       burst)
                           - p;

    umcf->limit_rate = rate;
    umcf->limit_burst = burst * 1000;
    umcf->limit_file = cf->conf_file->file.name;
    umcf->limit_line = cf->conf_file->line;

    return NGX_CONF_OK;

invalid_rate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid rate \"%V\" in \"%V\", expected rate=Nr/s or "
                       "rate=Nr/m, N from 1 to %d", &value[i], &cmd->name,
                       NGX_HTTP_UPBOT_RATE_MAX);
    return NGX_CONF_ERROR;
}


/* a directive that keeps what it knows in the zone, said without one */

static ngx_int_t
ngx_http_upbot_needs_zone(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf,
    ngx_uint_t on, const char *what, ngx_str_t *file, ngx_uint_t line)
{
    if (on && umcf->zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "%s, in %V:%ui", what, file,
                      line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * "upbot_attribution on | off | window=TIME": events are tied to the group
 * GetMediaInfo showed for their code and trace id within the window
 */

static char *
ngx_http_upbot_attribution(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    time_t      window;
    ngx_str_t  *value, v;

    if (umcf->attribution != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        umcf->attribution = 0;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "on") == 0) {
        window = 30 * 60;

    } else if (ngx_strncmp(value[1].data, "window=", 7) == 0) {
        v.data = value[1].data + 7;
        v.len = value[1].len - 7;

        window = ngx_parse_time(&v, 1);

        if (window == (time_t) NGX_ERROR || window == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value in \"%V\", expected a time "
                               "of a second or more", &value[1]);
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_http_upbot_conf_unplaced(cf, "on, off or window=TIME",
                                     "invalid parameter 1 of \"%V\"",
                                     &cmd->name);
        return NGX_CONF_ERROR;
    }

    umcf->attribution = window;
    umcf->attribution_file = cf->conf_file->file.name;
    umcf->attribution_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* "upbot_time_offset +08:00": the clock of the rows' "hours=" */

static char *
ngx_http_upbot_time_offset(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    ngx_int_t    offset;
    ngx_str_t   *value;
    const char  *why;

    if (umcf->time_offset != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    offset = ngx_http_upbot_parse_offset(value[1].data, value[1].len, &why);

    if (offset == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\": %s",
                           &value[1], &cmd->name, why);
        return NGX_CONF_ERROR;
    }

    umcf->time_offset = offset;

    return NGX_CONF_OK;
}


/*
 * A word that the module cannot place is never shown, only where it is:
 * it may be a secret written into the wrong place (a bare key, "key:...",
 * a base64 key whose "=" looks like an option's).
 */

void
ngx_http_upbot_conf_unplaced(ngx_conf_t *cf, const char *expected,
    const char *fmt, ...)
{
    u_char   *p, buf[NGX_MAX_CONF_ERRSTR];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "%*s (not shown: it may be a secret), expected %s",
                       p - buf, buf, expected);
}


/*
 * ngx_conf_check_num_bounds() does not name the directive; nginx prefixes
 * a returned string with it
 */

static char *
ngx_http_upbot_check_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t  *bounds = post;
    ngx_int_t              *np = data;

    u_char  *msg;

    if (*np >= bounds->low && *np <= bounds->high) {
        return NGX_CONF_OK;
    }

    msg = ngx_pnalloc(cf->pool, sizeof("must be between  and ")
                                + 2 * NGX_INT_T_LEN);
    if (msg == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(msg, "must be between %i and %i%Z", bounds->low, bounds->high);

    return (char *) msg;
}


static ngx_int_t
ngx_http_upbot_variable_cache_status(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             *name;
    ngx_http_upbot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    if (ctx == NULL || ctx->cache_status == NGX_HTTP_UPBOT_CACHE_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    name = ngx_http_upbot_cache_status_name(ctx->cache_status);

    v->data = name->data;
    v->len = name->len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_variable_pick(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             *name;
    ngx_http_upbot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);

    if (ctx == NULL || ctx->picked == ngx_http_upbot_picked_none) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = ngx_http_upbot_picked_name(ctx->picked);

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = name->data;
    v->len = name->len;

    return NGX_OK;
}
