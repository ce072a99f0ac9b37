
/*
 * Copyright (C) 2026, the upbot authors
 *
 * ReportMediaEvent (seed 001): tie each item to the group its code and
 * trace id were shown (upbot_attribution), store every item of the batch,
 * count the long-presses toward their groups' "max_scans=", then answer
 * (with "fsync=on", once a sync covers it).  Nothing is acknowledged, or
 * counted, unless the whole batch is stored.
 */


#include "ngx_http_upbot.h"


static void ngx_http_upbot_media_event_identify(ngx_http_upbot_ctx_t *ctx);
static ngx_int_t ngx_http_upbot_media_event_process(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx);
static void ngx_http_upbot_media_event_synced(ngx_http_request_t *r,
    ngx_int_t rc);


const ngx_http_upbot_api_t  ngx_http_upbot_media_event_api = {
    ngx_string("ReportMediaEvent"),
    1,
    &ngx_http_upbot_media_event_shape,
    sizeof(ngx_http_upbot_media_event_req_t),
    1,
    ngx_http_upbot_media_event_identify,
    ngx_http_upbot_media_event_process
};


/* a batch is logged by its first item's code and trace id */

static void
ngx_http_upbot_media_event_identify(ngx_http_upbot_ctx_t *ctx)
{
    ngx_http_upbot_event_item_t       *item;
    ngx_http_upbot_media_event_req_t  *req = ctx->req;

    if (req->items == NULL || req->items->nelts == 0) {
        return;
    }

    item = req->items->elts;

    ctx->code = item->code;
    ctx->trace_id = item->trace_id;
}


static ngx_int_t
ngx_http_upbot_media_event_process(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx)
{
    ngx_int_t                          rc;
    ngx_uint_t                         i;
    ngx_http_upbot_tally_t           **scans;
    ngx_http_upbot_loc_conf_t         *ulcf;
    ngx_http_upbot_main_conf_t        *umcf;
    ngx_http_upbot_event_item_t       *items;
    ngx_http_upbot_media_event_req_t  *req = ctx->req;

    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: batch of %ui items", req->items->nelts);

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    items = req->items->elts;
    scans = NULL;

    if (umcf->attribution) {
        scans = ngx_palloc(r->pool, req->items->nelts
                                    * sizeof(ngx_http_upbot_tally_t *));
        if (scans == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < req->items->nelts; i++) {
            ngx_http_upbot_attribution_find(r, &items[i], &scans[i]);
        }
    }

    rc = ngx_http_upbot_events_store(r, ulcf, req,
                                     ngx_http_upbot_media_event_synced);

    if (scans && (rc == NGX_OK || rc == NGX_AGAIN)) {
        for (i = 0; i < req->items->nelts; i++) {
            if (scans[i]) {
                (void) ngx_atomic_fetch_add(&scans[i]->scans, 1);
            }
        }
    }

    if (rc == NGX_OK || rc == NGX_AGAIN) {
        ngx_http_upbot_metrics_events(r, req);
    }

    if (rc == NGX_AGAIN) {
        /* fsync=on: answered once a sync covers the batch */
        return NGX_DONE;
    }

    if (rc != NGX_OK) {
        return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_STORE_FAILED, 0,
                                   "%ui events not stored: the event log "
                                   "could not be written",
                                   req->items->nelts);
    }

    return ngx_http_upbot_send(r, ctx, NGX_HTTP_UPBOT_OK, 0, NULL);
}


/* fsync=on: the sync that covers the batch is done, or failed */

static void
ngx_http_upbot_media_event_synced(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_upbot_ctx_t              *ctx;
    ngx_http_upbot_media_event_req_t  *req;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upbot_module);
    req = ctx->req;

    if (rc != NGX_OK) {
        ngx_http_upbot_metrics_event_log(r, 0, 1);

        rc = ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_STORE_FAILED, 0,
                                 "%ui events written but not acknowledged: "
                                 "the event log could not be synced",
                                 req->items->nelts);

    } else {
        rc = ngx_http_upbot_send(r, ctx, NGX_HTTP_UPBOT_OK, 0, NULL);
    }

    ngx_http_finalize_request(r, rc);
}
