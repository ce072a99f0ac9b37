
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The event log: one JSON line per accepted item.  The file is one of
 * nginx's open files (O_APPEND, reopened by "nginx -s reopen" like access
 * logs); a batch goes out in a single write(), so lines of concurrent
 * workers never interleave, and a batch is acknowledged only when that
 * write took all of it.
 */


#include "ngx_http_upbot.h"


static yajl_gen_status ngx_http_upbot_gen_int(yajl_gen g, const char *key,
    int64_t value);
static yajl_gen_status ngx_http_upbot_gen_item(yajl_gen g,
    ngx_http_upbot_event_item_t *item);


char *
ngx_http_upbot_event_log(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_loc_conf_t *ulcf = conf;

    ngx_str_t  *value;

    if (ulcf->event_log_set) {
        return "is duplicate";
    }

    ulcf->event_log_set = 1;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ulcf->event_log = NULL;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "syslog:", 7) == 0) {
        return "takes a file path; \"syslog:\" targets are not supported";
    }

    ulcf->event_log = ngx_conf_open_file(cf->cycle, &value[1]);
    if (ulcf->event_log == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_upbot_events_store(ngx_http_request_t *r,
    ngx_http_upbot_loc_conf_t *ulcf, ngx_http_upbot_media_event_req_t *req)
{
    size_t                        len;
    ssize_t                       n;
    yajl_gen                      g;
    ngx_str_t                     request_id, client;
    ngx_uint_t                    i;
    ngx_time_t                   *tp;
    yajl_gen_status               st;
    const unsigned char          *buf;
    ngx_http_variable_value_t    *vv;
    ngx_http_upbot_device_t      *device;
    ngx_http_upbot_account_t     *account;
    ngx_http_upbot_main_conf_t   *umcf;
    ngx_http_upbot_event_item_t  *items;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    vv = ngx_http_get_indexed_variable(r, umcf->request_id_index);
    if (vv == NULL || vv->not_found) {
        ngx_str_null(&request_id);

    } else {
        request_id.data = vv->data;
        request_id.len = vv->len;
    }

    client = r->connection->addr_text;
    tp = ngx_timeofday();

    account = &req->head.account_info;
    device = &req->head.device_info;

    g = ngx_http_upbot_gen_create(r->pool);
    if (g == NULL) {
        return NGX_ERROR;
    }

    items = req->items->elts;
    st = yajl_gen_status_ok;

    for (i = 0; i < req->items->nelts; i++) {

        st |= yajl_gen_map_open(g);
        st |= ngx_http_upbot_gen_int(g, "received_ms",
                                     (int64_t) tp->sec * 1000 + tp->msec);
        st |= ngx_http_upbot_gen_str(g, "request_id", &request_id);
        st |= ngx_http_upbot_gen_str(g, "client_addr", &client);
        st |= ngx_http_upbot_gen_int(g, "account_type",
                                     account->account_type);
        st |= ngx_http_upbot_gen_str(g, "appid", &account->appid);
        st |= ngx_http_upbot_gen_str(g, "openid", &account->openid);

        if (NGX_HTTP_UPBOT_PRESENT(device, NGX_HTTP_UPBOT_DEVICE_TYPE)) {
            st |= ngx_http_upbot_gen_int(g, "device_type",
                                         device->device_type);
        }

        if (NGX_HTTP_UPBOT_PRESENT(device, NGX_HTTP_UPBOT_DEVICE_UUID)) {
            st |= ngx_http_upbot_gen_str(g, "uuid", &device->uuid);
        }

        st |= ngx_http_upbot_gen_item(g, &items[i]);
        st |= yajl_gen_map_close(g);

        /* ends this line; the next map starts a new top-level value */
        yajl_gen_reset(g, "\n");
    }

    st |= yajl_gen_get_buf(g, &buf, &len);

    if (st != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    n = ngx_write_fd(ulcf->event_log->fd, (void *) buf, len);

    if (n == -1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "upbot: " ngx_write_fd_n " to \"%V\" failed",
                      &ulcf->event_log->name);
        return NGX_ERROR;
    }

    if ((size_t) n != len) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upbot: " ngx_write_fd_n " to \"%V\" was incomplete: "
                      "%z of %uz", &ulcf->event_log->name, n, len);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* only the fields the client sent */

static yajl_gen_status
ngx_http_upbot_gen_item(yajl_gen g, ngx_http_upbot_event_item_t *item)
{
    yajl_gen_status  st;

    st = yajl_gen_status_ok;

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_EVENT_ID)) {
        st |= ngx_http_upbot_gen_str(g, "event_id", &item->event_id);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_EVENT_TIME)) {
        st |= ngx_http_upbot_gen_int(g, "event_time", item->event_time);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_MEDIA_TYPE)) {
        st |= ngx_http_upbot_gen_int(g, "media_type", item->media_type);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_CODE)) {
        st |= ngx_http_upbot_gen_str(g, "code", &item->code);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_TRACE_ID)) {
        st |= ngx_http_upbot_gen_str(g, "trace_id", &item->trace_id);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_DURATION)) {
        st |= ngx_http_upbot_gen_int(g, "duration", item->duration);
    }

    return st;
}


static yajl_gen_status
ngx_http_upbot_gen_int(yajl_gen g, const char *key, int64_t value)
{
    yajl_gen_status  st;

    st = yajl_gen_string(g, (const unsigned char *) key, ngx_strlen(key));
    st |= yajl_gen_integer(g, value);

    return st;
}
