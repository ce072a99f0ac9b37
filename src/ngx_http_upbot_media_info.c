
/*
 * Copyright (C) 2026, the upbot authors
 *
 * GetMediaInfo (seed 000): look up the code, pick a group of its pool,
 * answer with the group's join url, name and background.
 */


#include "ngx_http_upbot.h"


static void ngx_http_upbot_media_info_note(ngx_http_upbot_ctx_t *ctx);
static ngx_int_t ngx_http_upbot_media_info_process(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx);


const ngx_http_upbot_api_t  ngx_http_upbot_media_info_api = {
    ngx_string("GetMediaInfo"),
    &ngx_http_upbot_media_info_shape,
    sizeof(ngx_http_upbot_media_info_req_t),
    0,
    ngx_http_upbot_media_info_note,
    ngx_http_upbot_media_info_process
};


static void
ngx_http_upbot_media_info_note(ngx_http_upbot_ctx_t *ctx)
{
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    ctx->code = req->code;
    ctx->trace_id = req->trace_id;
}


static ngx_int_t
ngx_http_upbot_media_info_process(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx)
{
    ngx_int_t                         i;
    ngx_http_upbot_code_t            *code;
    ngx_http_upbot_answer_t           answer;
    ngx_http_upbot_loc_conf_t        *ulcf;
    ngx_http_upbot_main_conf_t       *umcf;
    ngx_http_upbot_media_info_req_t  *req = ctx->req;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);
    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upbot_module);

    code = ngx_http_upbot_codes_find(umcf, &req->code);

    if (code == NULL) {
        return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_NO_CODE, 0,
                                   "unknown code \"%V\"", &req->code);
    }

    if ((ngx_uint_t) req->media_type != code->media_type) {
        return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_NO_CODE, 0,
                                   "code \"%V\" is of media_type %ui, "
                                   "not %L", &req->code, code->media_type,
                                   req->media_type);
    }

    i = ngx_http_upbot_pick(code->groups, code->facts, code->ngroups,
                            ulcf->pick, &req->account_info.openid);

    if (i == NGX_DECLINED) {
        return ngx_http_upbot_fail(r, ctx, NGX_HTTP_UPBOT_POOL_FULL, 0,
                                   "no usable group in the pool of code "
                                   "\"%V\" (%ui groups: full, gone or down)",
                                   &req->code, code->ngroups);
    }

    ctx->group = code->groups[i].id;

    ngx_http_upbot_answer(&code->groups[i], code->facts[i], &answer);

    return ngx_http_upbot_send(r, ctx, NGX_HTTP_UPBOT_OK, 0, &answer);
}
