
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Types shared by the parts of ngx_http_upbot_module.  A request goes
 * body (method, type, read) -> parse -> auth -> codes (look up) -> pick ->
 * respond for GetMediaInfo, and body -> parse -> events (store) -> respond
 * for ReportMediaEvent.
 */


#ifndef _NGX_HTTP_UPBOT_H_INCLUDED_
#define _NGX_HTTP_UPBOT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_upbot_parse.h"


/* the "ret" values of the API; see the error table in README.md */
#define NGX_HTTP_UPBOT_OK               0
#define NGX_HTTP_UPBOT_BAD_REQUEST      1001
#define NGX_HTTP_UPBOT_UNAUTHORIZED     1002
#define NGX_HTTP_UPBOT_NO_CODE          1003
#define NGX_HTTP_UPBOT_POOL_FULL        1004
#define NGX_HTTP_UPBOT_PROVIDER_FAILED  1005
#define NGX_HTTP_UPBOT_STORE_FAILED     1006
#define NGX_HTTP_UPBOT_BAD_METHOD       1007


#define NGX_HTTP_UPBOT_PICK_FIRST       0
#define NGX_HTTP_UPBOT_PICK_SPREAD      1

#define NGX_HTTP_UPBOT_SOURCE_STATIC    0

#define NGX_HTTP_UPBOT_CODE_HARD_MAX    255


/* what the provider (or, for static groups, the configuration) says */
typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       face_url;
    ngx_str_t                       url;
    ngx_uint_t                      members;
    ngx_uint_t                      max_members;
    unsigned                        known:1;
    unsigned                        gone:1;
} ngx_http_upbot_facts_t;


/* one row of the codes table */
typedef struct {
    ngx_str_t                       id;          /* as written */
    ngx_str_t                       url;         /* configured overrides */
    ngx_str_t                       name;
    ngx_str_t                       background;
    ngx_uint_t                      threshold;   /* 0: provider maximum */
    uint32_t                        hash;        /* of id, for spreading */
    ngx_uint_t                      source;
    ngx_http_upbot_facts_t          facts;       /* static groups */
    unsigned                        down:1;
} ngx_http_upbot_group_t;


typedef struct ngx_http_upbot_code_s  ngx_http_upbot_code_t;

struct ngx_http_upbot_code_s {
    ngx_str_t                       code;
    ngx_uint_t                      media_type;
    ngx_http_upbot_group_t         *groups;      /* the pool, in order */
    ngx_http_upbot_facts_t        **facts;       /* static pools */
    ngx_uint_t                      ngroups;
    ngx_http_upbot_code_t          *next;        /* same letters, other case */
};


typedef struct {
    u_char                          digest[32];  /* SHA-256 of the token */
    ngx_str_t                       label;
} ngx_http_upbot_token_t;


typedef struct {
    ngx_list_t                     *rows;        /* parsing only */
    ngx_uint_t                      nrows;
    ngx_hash_t                      codes;
    ngx_uint_t                      ncodes;
    ngx_uint_t                      max_code_length;
    ngx_int_t                       request_id_index;
    ngx_str_t                       bodies[8];   /* a row of the error table */
} ngx_http_upbot_main_conf_t;


typedef struct ngx_http_upbot_api_s  ngx_http_upbot_api_t;


typedef struct {
    const ngx_http_upbot_api_t     *api;         /* which API, if any */
    ngx_str_t                       api_file;    /* where it was enabled */
    ngx_uint_t                      api_line;
    ngx_array_t                    *tokens;      /* NULL: "off" */
    ngx_open_file_t                *event_log;   /* NULL: "off" */
    ngx_uint_t                      pick;
    ngx_uint_t                      max_items;
    size_t                          max_string_length;
    ngx_uint_t                      max_json_depth;
    unsigned                        tokens_set:1;
    unsigned                        event_log_set:1;
} ngx_http_upbot_loc_conf_t;


/* per request; also what the $upbot_* variables show */
typedef struct {
    const ngx_http_upbot_api_t     *api;
    void                           *req;         /* the parsed body */
    ngx_str_t                       code;
    ngx_str_t                       trace_id;
    ngx_str_t                       group;
    ngx_str_t                       error;
    ngx_str_t                       token_label;
    ngx_int_t                       ret;         /* -1 until answered */
} ngx_http_upbot_ctx_t;


struct ngx_http_upbot_api_s {
    ngx_str_t                       name;
    const ngx_http_upbot_shape_t   *shape;
    size_t                          req_size;
    ngx_uint_t                      needs_event_log;
    /* code and trace id for logs, also from a body that was refused */
    void                          (*note)(ngx_http_upbot_ctx_t *ctx);
    ngx_int_t                     (*process)(ngx_http_request_t *r,
                                             ngx_http_upbot_ctx_t *ctx);
};


/* the answer of GetMediaInfo */
typedef struct {
    ngx_str_t                       url;
    ngx_str_t                       name;
    ngx_str_t                       background;
} ngx_http_upbot_answer_t;


/* body */
ngx_int_t ngx_http_upbot_handler(ngx_http_request_t *r);

/* auth */
char *ngx_http_upbot_auth_tokens(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upbot_authenticate(ngx_http_request_t *r,
    ngx_http_upbot_loc_conf_t *ulcf, ngx_http_upbot_ctx_t *ctx);

/* codes */
char *ngx_http_upbot_codes_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upbot_codes_init(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf);
ngx_http_upbot_code_t *ngx_http_upbot_codes_find(
    ngx_http_upbot_main_conf_t *umcf, ngx_str_t *code);

/* pick */
ngx_int_t ngx_http_upbot_usable(ngx_http_upbot_group_t *group,
    ngx_http_upbot_facts_t *facts);
ngx_int_t ngx_http_upbot_pick(ngx_http_upbot_group_t *groups,
    ngx_http_upbot_facts_t **facts, ngx_uint_t n, ngx_uint_t mode,
    ngx_str_t *openid);
void ngx_http_upbot_answer(ngx_http_upbot_group_t *group,
    ngx_http_upbot_facts_t *facts, ngx_http_upbot_answer_t *answer);

/* respond */
yajl_gen ngx_http_upbot_gen_create(ngx_pool_t *pool);
yajl_gen_status ngx_http_upbot_gen_str(yajl_gen g, const char *key,
    ngx_str_t *value);
ngx_int_t ngx_http_upbot_respond_init(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf);
ngx_int_t ngx_http_upbot_send(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_uint_t ret, ngx_uint_t status,
    ngx_http_upbot_answer_t *answer);
ngx_int_t ngx_http_upbot_fail(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_uint_t ret, ngx_uint_t status,
    const char *fmt, ...);

/* events */
char *ngx_http_upbot_event_log(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upbot_events_store(ngx_http_request_t *r,
    ngx_http_upbot_loc_conf_t *ulcf, ngx_http_upbot_media_event_req_t *req);


extern ngx_module_t                 ngx_http_upbot_module;
extern const ngx_http_upbot_api_t   ngx_http_upbot_media_info_api;
extern const ngx_http_upbot_api_t   ngx_http_upbot_media_event_api;


#endif /* _NGX_HTTP_UPBOT_H_INCLUDED_ */
