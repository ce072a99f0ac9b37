
/*
 * Copyright (C) 2026, the upbot authors
 *
 * What the zone remembers of visitors, for a while: the group a visitor
 * was answered (stickiness), the group a trace id was shown (attribution),
 * a visitor's bucket (upbot_limit_visitor).  An entry is a key (its kind
 * first) and a small value, with the time it expires.  Entries are the
 * first to go when the zone is full (ngx_http_upbot_cache.c evicts the
 * least recently used of them before any group's facts, and never a
 * tally), with one warning a minute at most.
 */


#include "ngx_http_upbot.h"


typedef struct {
    void                           *value;
    size_t                          len;
    time_t                          expires;
} ngx_http_upbot_visitor_value_t;


static ngx_http_upbot_visitor_t *ngx_http_upbot_visitor_find(
    ngx_http_upbot_visitors_t *visitors, ngx_str_t *key, uint32_t hash);
static ngx_int_t ngx_http_upbot_visitor_set(u_char *value, ngx_uint_t found,
    time_t *expires, void *data);
static ngx_http_upbot_visitor_t *ngx_http_upbot_visitor_take(
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_visitors_t *visitors,
    ngx_slab_pool_t *shpool, ngx_http_upbot_visitor_t *vn, ngx_str_t *key,
    uint32_t hash, size_t len);
static void ngx_http_upbot_visitor_delete(ngx_http_upbot_visitors_t *visitors,
    ngx_slab_pool_t *shpool, ngx_http_upbot_visitor_t *vn);


void
ngx_http_upbot_visitors_init(ngx_http_upbot_visitors_t *visitors)
{
    ngx_rbtree_init(&visitors->rbtree, &visitors->sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_queue_init(&visitors->queue);

    visitors->warned = 0;
}


/*
 * The value remembered under "key", copied into "value" (at most "size"
 * bytes): its whole length (more than "size" when it did not fit), or
 * NGX_DECLINED when there is none or it expired.
 */

ngx_int_t
ngx_http_upbot_visitor_get(ngx_http_upbot_main_conf_t *umcf, ngx_str_t *key,
    void *value, size_t size)
{
    uint32_t                    hash;
    ngx_int_t                   rc;
    ngx_slab_pool_t            *shpool;
    ngx_http_upbot_visitor_t   *vn;
    ngx_http_upbot_visitors_t  *visitors;

    hash = ngx_crc32_long(key->data, key->len);

    visitors = ngx_http_upbot_cache_visitors(umcf, &shpool);

    ngx_shmtx_lock(&shpool->mutex);

    vn = ngx_http_upbot_visitor_find(visitors, key, hash);

    if (vn == NULL) {
        rc = NGX_DECLINED;

    } else if (vn->expires <= ngx_time()) {
        ngx_http_upbot_visitor_delete(visitors, shpool, vn);
        rc = NGX_DECLINED;

    } else {
        ngx_queue_remove(&vn->queue);
        ngx_queue_insert_head(&visitors->queue, &vn->queue);

        rc = vn->len;
        ngx_memcpy(value, vn->data + key->len, ngx_min(vn->len, size));
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


/*
 * Remember "value" under "key" until "expires", in place of what was
 * there.  Nothing is remembered when the zone has no room even after
 * evicting: the caller goes on as if it never was.
 */

void
ngx_http_upbot_visitor_put(ngx_http_upbot_main_conf_t *umcf, ngx_str_t *key,
    void *value, size_t len, time_t expires)
{
    ngx_http_upbot_visitor_value_t  put;

    put.value = value;
    put.len = len;
    put.expires = expires;

    (void) ngx_http_upbot_visitor_update(umcf, key, len,
                                         ngx_http_upbot_visitor_set, &put);
}


static ngx_int_t
ngx_http_upbot_visitor_set(u_char *value, ngx_uint_t found, time_t *expires,
    void *data)
{
    ngx_http_upbot_visitor_value_t  *put = data;

    ngx_memcpy(value, put->value, put->len);
    *expires = put->expires;

    return NGX_OK;
}


/*
 * Read and update the value under "key" (of "len" bytes) in one hold of
 * the zone's mutex, so that workers cannot both act on what they read: an
 * exact limit needs it.  The handler's answer, or NGX_DECLINED when the
 * zone has no room even after evicting (the handler is not called).
 */

ngx_int_t
ngx_http_upbot_visitor_update(ngx_http_upbot_main_conf_t *umcf,
    ngx_str_t *key, size_t len, ngx_http_upbot_visitor_update_pt handler,
    void *data)
{
    time_t                      expires;
    uint32_t                    hash;
    ngx_int_t                   rc;
    ngx_uint_t                  found;
    ngx_slab_pool_t            *shpool;
    ngx_http_upbot_visitor_t   *vn;
    ngx_http_upbot_visitors_t  *visitors;

    hash = ngx_crc32_long(key->data, key->len);

    visitors = ngx_http_upbot_cache_visitors(umcf, &shpool);

    ngx_shmtx_lock(&shpool->mutex);

    vn = ngx_http_upbot_visitor_find(visitors, key, hash);

    /* one that ran out is as good as none, its memory used again */

    found = vn && vn->len == len && vn->expires > ngx_time();

    vn = ngx_http_upbot_visitor_take(umcf, visitors, shpool, vn, key, hash,
                                     len);
    if (vn == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_DECLINED;
    }

    expires = found ? vn->expires : 0;

    if (!found) {
        ngx_memzero(vn->data + key->len, len);
    }

    rc = handler(vn->data + key->len, found, &expires, data);

    vn->expires = expires;

    ngx_queue_insert_head(&visitors->queue, &vn->queue);

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


/*
 * Room for something else: the least recently used entry goes.  With the
 * zone's mutex held; NGX_DECLINED when there is none.
 */

ngx_int_t
ngx_http_upbot_visitor_evict(ngx_http_upbot_visitors_t *visitors,
    ngx_slab_pool_t *shpool)
{
    time_t                     now;
    ngx_queue_t               *q;
    ngx_http_upbot_visitor_t  *vn;

    if (ngx_queue_empty(&visitors->queue)) {
        return NGX_DECLINED;
    }

    q = ngx_queue_last(&visitors->queue);
    vn = ngx_queue_data(q, ngx_http_upbot_visitor_t, queue);

    now = ngx_time();

    /* entries that ran out are no loss; one line a minute for the others */

    if (vn->expires > now && now - visitors->warned >= 60) {
        visitors->warned = now;

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "upbot_zone is full: visitors' entries (stickiness, "
                      "attribution, upbot_limit_visitor) are evicted "
                      "before they expire; a larger zone keeps them");
    }

    ngx_http_upbot_visitor_delete(visitors, shpool, vn);

    return NGX_OK;
}


static ngx_http_upbot_visitor_t *
ngx_http_upbot_visitor_find(ngx_http_upbot_visitors_t *visitors,
    ngx_str_t *key, uint32_t hash)
{
    return (ngx_http_upbot_visitor_t *)
               ngx_str_rbtree_lookup(&visitors->rbtree, key, hash);
}


/*
 * The entry "vn" (found, or NULL) for a value of "len" bytes: itself when
 * the length is the same, else a new one in the tree.  Out of the queue
 * either way; NULL when the zone has no room.  With the mutex held.
 */

static ngx_http_upbot_visitor_t *
ngx_http_upbot_visitor_take(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_visitors_t *visitors, ngx_slab_pool_t *shpool,
    ngx_http_upbot_visitor_t *vn, ngx_str_t *key, uint32_t hash, size_t len)
{
    if (vn && vn->len == len) {
        ngx_queue_remove(&vn->queue);
        return vn;
    }

    if (vn) {
        ngx_http_upbot_visitor_delete(visitors, shpool, vn);
    }

    vn = ngx_http_upbot_cache_alloc_locked(umcf,
             offsetof(ngx_http_upbot_visitor_t, data) + key->len + len);

    if (vn == NULL) {
        return NULL;
    }

    vn->sn.node.key = hash;
    vn->sn.str.data = vn->data;
    vn->sn.str.len = key->len;
    vn->len = (u_short) len;
    ngx_memcpy(vn->data, key->data, key->len);

    ngx_rbtree_insert(&visitors->rbtree, &vn->sn.node);

    return vn;
}


static void
ngx_http_upbot_visitor_delete(ngx_http_upbot_visitors_t *visitors,
    ngx_slab_pool_t *shpool, ngx_http_upbot_visitor_t *vn)
{
    ngx_queue_remove(&vn->queue);
    ngx_rbtree_delete(&visitors->rbtree, &vn->sn.node);
    ngx_slab_free_locked(shpool, vn);
}
