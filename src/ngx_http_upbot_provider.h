
/*
 * Copyright (C) 2026, the upbot authors
 *
 * What the providers' clients share: the facts a call brings back, and a
 * walker that turns yajl's callbacks into "a value at this key path".
 * Tencent's and Yunxin's signing, request building and answer parsing are
 * pure functions over these (ngx_http_upbot_tim.c, _yunxin.c); the
 * subrequests that carry them are in ngx_http_upbot_fetch.c.
 */


#ifndef _NGX_HTTP_UPBOT_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_UPBOT_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>


#define NGX_HTTP_UPBOT_WALK_DEPTH    8
#define NGX_HTTP_UPBOT_WALK_KEY      32


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


typedef struct ngx_http_upbot_walk_s  ngx_http_upbot_walk_t;


/* a provider's whole answer, parsed as its pieces arrive */
typedef struct {
    ngx_array_t                     groups;      /* ngx_http_upbot_fetched_t */
    ngx_int_t                       error;       /* top level, 0: none */
    ngx_str_t                       info;        /* its message */
    ngx_str_t                       status;      /* Tencent's ActionStatus */
    ngx_str_t                       url_field;   /* custom field with url */
    ngx_str_t                       extension;   /* Yunxin's, to parse */
    ngx_uint_t                      source;
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

struct ngx_http_upbot_walk_s {
    ngx_uint_t                      depth;       /* containers open */
    u_char                          keys[NGX_HTTP_UPBOT_WALK_DEPTH + 1]
                                        [NGX_HTTP_UPBOT_WALK_KEY];
    size_t                          key_len[NGX_HTTP_UPBOT_WALK_DEPTH + 1];
    ngx_uint_t                      array;       /* bit N: depth N array */
    ngx_http_upbot_reply_t         *reply;
    ngx_http_upbot_fetched_t       *group;       /* being filled */

    /* a scalar at keys[1..depth]; a map opened or closed at depth */
    ngx_int_t                     (*scalar)(ngx_http_upbot_walk_t *w,
                                      ngx_http_upbot_reply_type_e type,
                                      const u_char *s, size_t len,
                                      long long n);
    ngx_int_t                     (*map)(ngx_http_upbot_walk_t *w,
                                      ngx_uint_t open);

    /* Tencent's AppDefinedData pair being read */
    ngx_str_t                       pair_key;
    ngx_str_t                       pair_value;

    yajl_handle                     handle;
};


/* the key at depth d is "name" */
#define ngx_http_upbot_walk_key(w, d, name)                                  \
    ((w)->depth >= (d) && (w)->key_len[d] == sizeof(name) - 1                \
     && ngx_strncmp((w)->keys[d], name, sizeof(name) - 1) == 0)


ngx_int_t ngx_http_upbot_walk_start(ngx_http_upbot_walk_t *w);
ngx_int_t ngx_http_upbot_walk_feed(ngx_http_upbot_walk_t *w, u_char *data,
    size_t len, ngx_str_t *error);
ngx_int_t ngx_http_upbot_walk_finish(ngx_http_upbot_walk_t *w,
    ngx_str_t *error);
ngx_int_t ngx_http_upbot_walk(ngx_http_upbot_walk_t *w, u_char *data,
    size_t len, ngx_str_t *error);
ngx_int_t ngx_http_upbot_reply_init(ngx_http_upbot_reply_t *reply,
    ngx_pool_t *pool, ngx_uint_t source, ngx_str_t *url_field, ngx_uint_t n);
ngx_int_t ngx_http_upbot_reply_feed(ngx_http_upbot_reply_t *reply,
    u_char *data, size_t len);
ngx_int_t ngx_http_upbot_reply_finish(ngx_http_upbot_reply_t *reply);
ngx_http_upbot_fetched_t *ngx_http_upbot_reply_group(
    ngx_http_upbot_reply_t *reply);
ngx_uint_t ngx_http_upbot_facts_plain(ngx_http_upbot_fetched_t *f);
ngx_int_t ngx_http_upbot_copy(ngx_pool_t *pool, ngx_str_t *dst,
    const u_char *s, size_t len);
ngx_int_t ngx_http_upbot_copy_printable(ngx_pool_t *pool, ngx_str_t *dst,
    const u_char *s, size_t len);

/* Tencent Cloud IM */
size_t ngx_http_upbot_tim_usersig_size(size_t identifier_len);
ngx_int_t ngx_http_upbot_tim_usersig(ngx_str_t *identifier,
    ngx_str_t *sdkappid, ngx_str_t *key, time_t now, time_t expire,
    u_char *out, size_t *len);
ngx_int_t ngx_http_upbot_tim_body(ngx_pool_t *pool, ngx_str_t **ids,
    ngx_uint_t n, ngx_str_t *url_field, ngx_str_t *body);
void ngx_http_upbot_tim_reader(ngx_http_upbot_walk_t *w);
ngx_int_t ngx_http_upbot_tim_check(ngx_http_upbot_reply_t *reply,
    ngx_str_t *error);

/* NetEase Yunxin IM */
ngx_int_t ngx_http_upbot_yunxin_checksum(ngx_str_t *secret, ngx_str_t *nonce,
    ngx_str_t *curtime, u_char *hex);
void ngx_http_upbot_yunxin_reader(ngx_http_upbot_walk_t *w);
ngx_int_t ngx_http_upbot_yunxin_check(ngx_http_upbot_reply_t *reply,
    ngx_str_t *error);


#endif /* _NGX_HTTP_UPBOT_PROVIDER_H_INCLUDED_ */
