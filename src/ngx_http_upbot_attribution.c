
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Events tied to the group shown: GetMediaInfo notes which group it
 * answered for a code and trace id (a visitor entry of the zone, kept for
 * upbot_attribution's window); an event of the same code and trace id
 * finds it, gets the group in its line, and a long-press counts toward
 * the group's "max_scans=".  An entry that is gone (evicted, or older than
 * the window) gives no group: never a wrong one.
 */


#include "ngx_http_upbot.h"


/* what an entry holds: the group's tally (or NULL), then its id */
#define NGX_HTTP_UPBOT_ATTRIBUTION_ID_MAX  256

#define NGX_HTTP_UPBOT_LONG_PRESS  "1110204"


static ngx_int_t ngx_http_upbot_attribution_key(ngx_http_request_t *r,
    ngx_str_t *code, ngx_str_t *trace_id, ngx_str_t *key);


/*
 * The group a code and trace id were shown, for the events that follow.
 * Both functions are called only with upbot_attribution on: the callers
 * check, which saves a call that would find it off (27 instructions).
 */

void
ngx_http_upbot_attribution_note(ngx_http_request_t *r, ngx_str_t *code,
    ngx_str_t *trace_id, ngx_http_upbot_group_t *group)
{
    u_char                      *value;
    size_t                       len;
    ngx_str_t                    key;
    ngx_http_upbot_more_t       *more;
    ngx_http_upbot_tally_t      *tally;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    if (group->id.len > NGX_HTTP_UPBOT_ATTRIBUTION_ID_MAX
        || ngx_http_upbot_attribution_key(r, code, trace_id, &key) != NGX_OK)
    {
        return;
    }

    len = sizeof(ngx_http_upbot_tally_t *) + group->id.len;

    value = ngx_pnalloc(r->pool, len);
    if (value == NULL) {
        return;
    }

    more = ngx_http_upbot_group_more(group);
    tally = more->max_scans ? more->tally : NULL;

    ngx_memcpy(value, &tally, sizeof(ngx_http_upbot_tally_t *));
    ngx_memcpy(value + sizeof(ngx_http_upbot_tally_t *), group->id.data,
               group->id.len);

    ngx_http_upbot_visitor_put(umcf, &key, value, len,
                               ngx_time() + umcf->attribution);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: noted: trace \"%V\" was shown group \"%V\"",
                   trace_id, &group->id);
}


/*
 * The group an event's code and trace id were shown, in item->group, and
 * the group's tally when its long-presses count (*tally, else NULL).
 */

void
ngx_http_upbot_attribution_find(ngx_http_request_t *r,
    ngx_http_upbot_event_item_t *item, ngx_http_upbot_tally_t **tally)
{
    u_char                       buf[sizeof(ngx_http_upbot_tally_t *)
                                     + NGX_HTTP_UPBOT_ATTRIBUTION_ID_MAX];
    u_char                      *id;
    ngx_int_t                    len;
    ngx_str_t                    key;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    *tally = NULL;

    if (!NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_CODE)
        || !NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_TRACE_ID)
        || ngx_http_upbot_attribution_key(r, &item->code, &item->trace_id,
                                          &key)
           != NGX_OK)
    {
        return;
    }

    len = ngx_http_upbot_visitor_get(umcf, &key, buf, sizeof(buf));

    if (len == NGX_DECLINED || len > (ngx_int_t) sizeof(buf)
        || len <= (ngx_int_t) sizeof(ngx_http_upbot_tally_t *))
    {
        return;
    }

    len -= sizeof(ngx_http_upbot_tally_t *);

    id = ngx_pnalloc(r->pool, len);
    if (id == NULL) {
        return;
    }

    ngx_memcpy(id, buf + sizeof(ngx_http_upbot_tally_t *), len);

    item->group.data = id;
    item->group.len = len;

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_EVENT_ID)
        && item->event_id.len == sizeof(NGX_HTTP_UPBOT_LONG_PRESS) - 1
        && ngx_strncmp(item->event_id.data, NGX_HTTP_UPBOT_LONG_PRESS,
                       item->event_id.len) == 0)
    {
        ngx_memcpy(tally, buf, sizeof(ngx_http_upbot_tally_t *));
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: attributed: trace \"%V\" to group \"%V\"%s",
                   &item->trace_id, &item->group,
                   *tally ? ", a scan" : "");
}


/* "t", the code, the trace id */

static ngx_int_t
ngx_http_upbot_attribution_key(ngx_http_request_t *r, ngx_str_t *code,
    ngx_str_t *trace_id, ngx_str_t *key)
{
    u_char  *p;

    if (trace_id->len == 0) {
        return NGX_DECLINED;
    }

    key->len = 1 + code->len + 1 + trace_id->len;

    key->data = ngx_pnalloc(r->pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = key->data;
    *p++ = 't';
    p = ngx_cpymem(p, code->data, code->len);
    *p++ = '\0';
    ngx_memcpy(p, trace_id->data, trace_id->len);

    return NGX_OK;
}
