
/*
 * Copyright (C) 2026, the upbot authors
 *
 * An IM provider is a table of functions, as nginx's proxy and fastcgi
 * fill u->create_request and u->process_header: how its apps are
 * configured, how a codes table row names its groups, how a call is made,
 * how its answer is read and what the answer says of each group.  The
 * providers are ngx_http_upbot_tim.c and ngx_http_upbot_yunxin.c; the
 * code that runs the calls (ngx_http_upbot_fetch.c) and the rest of the
 * module never ask which provider they hold.
 */


#ifndef _NGX_HTTP_UPBOT_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_UPBOT_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>


#define NGX_HTTP_UPBOT_WALK_DEPTH       8
#define NGX_HTTP_UPBOT_WALK_KEY         32

/* the most headers a provider's call carries */
#define NGX_HTTP_UPBOT_CALL_HEADERS     8


typedef struct ngx_http_upbot_app_s       ngx_http_upbot_app_t;
typedef struct ngx_http_upbot_group_s     ngx_http_upbot_group_t;
typedef struct ngx_http_upbot_provider_s  ngx_http_upbot_provider_t;
typedef struct ngx_http_upbot_walk_s      ngx_http_upbot_walk_t;


/* one group of a provider's answer */
typedef struct {
    ngx_str_t                       id;
    ngx_int_t                       error;       /* provider's, 0: none */
    ngx_str_t                       name;
    ngx_str_t                       face_url;
    ngx_str_t                       url;
    ngx_int_t                       members;     /* -1: not said */
    ngx_int_t                       max_members;
} ngx_http_upbot_fetched_t;


/* a provider's whole answer, parsed as its pieces arrive */
typedef struct {
    const ngx_http_upbot_provider_t *provider;
    ngx_array_t                     groups;      /* ngx_http_upbot_fetched_t */
    ngx_int_t                       error;       /* top level, -1: not said */
    ngx_str_t                       info;        /* its message */
    ngx_str_t                       status;      /* Tencent's ActionStatus */
    ngx_str_t                       url_field;   /* custom field with url */
    ngx_str_t                       extension;   /* Yunxin's, to parse */
    ngx_pool_t                     *pool;
    ngx_http_upbot_walk_t          *walk;
    size_t                          size;        /* bytes fed */
    ngx_str_t                       why;         /* not understood: why */
    unsigned                        bad:1;
} ngx_http_upbot_reply_t;


typedef enum {
    ngx_http_upbot_reply_null = 0,
    ngx_http_upbot_reply_bool,
    ngx_http_upbot_reply_int,
    ngx_http_upbot_reply_string,
    ngx_http_upbot_reply_other
} ngx_http_upbot_reply_type_e;


/* a scalar at keys[1..depth]; a map opened or closed at depth */
typedef ngx_int_t (*ngx_http_upbot_walk_scalar_pt)(ngx_http_upbot_walk_t *w,
    ngx_http_upbot_reply_type_e type, const u_char *s, size_t len,
    long long n);
typedef ngx_int_t (*ngx_http_upbot_walk_map_pt)(ngx_http_upbot_walk_t *w,
    ngx_uint_t open);


struct ngx_http_upbot_walk_s {
    ngx_uint_t                      depth;       /* containers open */
    u_char                          keys[NGX_HTTP_UPBOT_WALK_DEPTH + 1]
                                        [NGX_HTTP_UPBOT_WALK_KEY];
    size_t                          key_len[NGX_HTTP_UPBOT_WALK_DEPTH + 1];
    ngx_uint_t                      array;       /* bit N: depth N array */
    ngx_http_upbot_reply_t         *reply;
    ngx_http_upbot_fetched_t       *group;       /* being filled */

    ngx_http_upbot_walk_scalar_pt   scalar;
    ngx_http_upbot_walk_map_pt      map;

    /* Tencent's AppDefinedData pair being read */
    ngx_str_t                       pair_key;
    ngx_str_t                       pair_value;

    yajl_handle                     handle;
};


/* the key at depth d is "name" */
#define ngx_http_upbot_walk_key(w, d, name)                                  \
    ((w)->depth >= (d) && (w)->key_len[d] == sizeof(name) - 1                \
     && ngx_strncmp((w)->keys[d], name, sizeof(name) - 1) == 0)


/*
 * One call to a provider: the groups it asks about, the HTTP request the
 * provider makes of them (create_request), and the answer as it is read.
 * When the call ends, result[i] is what the answer says of groups[i]
 * (NULL: nothing usable, see "status").
 */
typedef struct {
    ngx_http_upbot_app_t           *app;
    ngx_http_upbot_group_t        **groups;
    ngx_uint_t                     *index;       /* their places in the pool */
    ngx_uint_t                      n;
    ngx_pool_t                     *pool;
    ngx_log_t                      *log;
    ngx_str_t                       trace_id;    /* the client's, printable */

    /* the request: body.data NULL for a GET */
    ngx_str_t                       uri;
    ngx_str_t                       args;
    ngx_str_t                       body;
    ngx_table_elt_t                 headers[NGX_HTTP_UPBOT_CALL_HEADERS];
    ngx_uint_t                      nheaders;

    /* the answer */
    ngx_http_upbot_reply_t          reply;
    size_t                          limit;       /* of the answer's size */
    ngx_http_upbot_fetched_t      **result;
    ngx_uint_t                      status;      /* failed: 502 or 504 */
    ngx_msec_t                      start;
    ngx_http_request_t             *sr;          /* its subrequest */
    ngx_event_t                     deadline;    /* the app's timeout= */
    void                           *fetch;       /* the calls it is one of */
    ngx_http_request_t             *r;           /* whose call it is */
    ngx_event_t                     pace;        /* the call's slot comes */
    unsigned                        paced:1;     /* no slot: not made */
    unsigned                        timed_out:1;
    unsigned                        too_big:1;
    unsigned                        done:1;      /* its answer recorded */
    unsigned                        reported:1;  /* handed to the caller */
} ngx_http_upbot_call_t;


struct ngx_http_upbot_provider_s {
    ngx_str_t                       name;        /* upbot_NAME, "NAME:APP" */
    const char                     *id_option;   /* "sdkappid", "appkey" */
    const char                     *secret_option;  /* and its "_file" */
    const char                     *options;     /* all, for a mistake */
    ngx_uint_t                      batch;       /* most groups a call */
    ngx_int_t                       ok;          /* the answer's code */
    ngx_uint_t                      id_in_path;  /* calls go to LOCATION/ID */
    ngx_uint_t                      rate;        /* calls a second, default */

    /*
     * configuration: an app's own part; its options (NGX_OK: taken,
     * NGX_DECLINED: a common one, NGX_ABORT: an invalid value, NGX_ERROR:
     * said); the app's end, its own options checked
     */
    void                         *(*create_app)(ngx_conf_t *cf);
    ngx_int_t                     (*app_option)(ngx_conf_t *cf,
                                      ngx_http_upbot_app_t *app,
                                      ngx_str_t *name, ngx_str_t *value);
    char                         *(*init_app)(ngx_conf_t *cf,
                                      ngx_http_upbot_app_t *app);

    /* the GROUP of a codes table row, checked; NULL: taken as it is */
    char                         *(*group_id)(ngx_conf_t *cf,
                                      ngx_str_t *value,
                                      ngx_http_upbot_group_t *group);

    /* a call: its request, then its answer as yajl reads it */
    ngx_int_t                     (*create_request)(
                                      ngx_http_upbot_call_t *call);
    ngx_http_upbot_walk_scalar_pt   scalar;
    ngx_http_upbot_walk_map_pt      map;

    /* the answer is all in: is it one this provider gives? */
    ngx_int_t                     (*check)(ngx_http_upbot_reply_t *reply);

    /* what the answer says of a group: NULL if nothing */
    ngx_http_upbot_fetched_t     *(*find)(ngx_http_upbot_reply_t *reply,
                                      ngx_http_upbot_group_t *group);

    /* a provider's error code that says the group is no more */
    ngx_uint_t                    (*gone)(ngx_int_t error);
};


const ngx_http_upbot_provider_t *ngx_http_upbot_provider_find(
    ngx_str_t *name);
u_char *ngx_http_upbot_provider_sources(u_char *p, u_char *last);
ngx_int_t ngx_http_upbot_app_set(ngx_conf_t *cf, ngx_http_upbot_app_t *app,
    ngx_str_t *target, ngx_str_t *name, ngx_str_t *value);

ngx_int_t ngx_http_upbot_walk_start(ngx_http_upbot_walk_t *w);
ngx_int_t ngx_http_upbot_walk_feed(ngx_http_upbot_walk_t *w, u_char *data,
    size_t len, ngx_str_t *error);
ngx_int_t ngx_http_upbot_walk_finish(ngx_http_upbot_walk_t *w,
    ngx_str_t *error);
ngx_int_t ngx_http_upbot_walk(ngx_http_upbot_walk_t *w, u_char *data,
    size_t len, ngx_str_t *error);
ngx_int_t ngx_http_upbot_reply_init(ngx_http_upbot_reply_t *reply,
    ngx_pool_t *pool, const ngx_http_upbot_provider_t *provider,
    ngx_str_t *url_field, ngx_uint_t n);
ngx_int_t ngx_http_upbot_reply_feed(ngx_http_upbot_reply_t *reply,
    u_char *data, size_t len);
ngx_int_t ngx_http_upbot_reply_finish(ngx_http_upbot_reply_t *reply);
ngx_http_upbot_fetched_t *ngx_http_upbot_reply_group(
    ngx_http_upbot_reply_t *reply);
ngx_int_t ngx_http_upbot_call_header(ngx_http_upbot_call_t *call,
    const char *key, u_char *value, size_t len);
ngx_int_t ngx_http_upbot_copy(ngx_pool_t *pool, ngx_str_t *dst,
    const u_char *s, size_t len);
ngx_int_t ngx_http_upbot_copy_printable(ngx_pool_t *pool, ngx_str_t *dst,
    const u_char *s, size_t len);

/* the providers */
extern const ngx_http_upbot_provider_t  ngx_http_upbot_tim_provider;
extern const ngx_http_upbot_provider_t  ngx_http_upbot_yunxin_provider;

/* their pure parts, tested on their own */
size_t ngx_http_upbot_tim_usersig_size(size_t identifier_len);
ngx_int_t ngx_http_upbot_tim_usersig(ngx_str_t *identifier,
    ngx_str_t *sdkappid, ngx_str_t *key, time_t now, time_t expire,
    u_char *out, size_t *len);
ngx_int_t ngx_http_upbot_tim_body(ngx_pool_t *pool,
    ngx_http_upbot_group_t **groups, ngx_uint_t n, ngx_str_t *url_field,
    ngx_str_t *body);
ngx_int_t ngx_http_upbot_yunxin_checksum(ngx_str_t *secret, ngx_str_t *nonce,
    ngx_str_t *curtime, u_char *hex);


#endif /* _NGX_HTTP_UPBOT_PROVIDER_H_INCLUDED_ */
