
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The facts cache: a shared-memory zone of what the providers said about
 * each (app, group), with when they said it.  All workers read it; one
 * fetches a group at a time, holding the group's lock for at most
 * lock_timeout, so a burst of misses makes one provider call.  When the
 * zone is full the least recently used groups go.  The zone keeps its
 * contents across reloads.  It also holds the groups' tallies
 * (ngx_http_upbot_tally.c), which are never evicted.
 */


#include "ngx_http_upbot.h"


typedef struct {
    ngx_rbtree_node_t               node;        /* key: crc32 of the key */
    ngx_queue_t                     queue;       /* most recently used first */
    ngx_msec_t                      fetched;     /* when the facts came */
    ngx_msec_t                      lock;        /* a fetch holds it until */
    ngx_msec_t                      failed;      /* the last fetch failed at */
    uint32_t                        members;
    uint32_t                        max_members;
    uint16_t                        fail_status;
    uint16_t                        key_len;     /* "tim:prod GROUP" */
    uint16_t                        name_len;
    uint16_t                        face_len;
    uint16_t                        url_len;
    u_char                          known;
    u_char                          gone;
    u_char                          json_safe;   /* strings as they are */
    u_char                          data[1];
} ngx_http_upbot_cache_node_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
    ngx_atomic_t                    changes;     /* facts stored or failed */
    ngx_msec_t                      saved;       /* state file written at */
    ngx_rbtree_t                    tallies;     /* ngx_http_upbot_tally_t */
    ngx_rbtree_node_t               tallies_sentinel;
    ngx_http_upbot_visitors_t       visitors;
    ngx_http_upbot_metrics_t        metrics;
} ngx_http_upbot_cache_shctx_t;


typedef struct {
    ngx_http_upbot_cache_shctx_t   *sh;
    ngx_slab_pool_t                *shpool;
    ngx_http_upbot_main_conf_t     *umcf;        /* its groups' tallies */
} ngx_http_upbot_cache_ctx_t;


#define NGX_HTTP_UPBOT_CACHE_STRING_MAX  NGX_HTTP_UPBOT_STATE_STRING_MAX


static void ngx_http_upbot_state_dir(ngx_conf_t *cf, ngx_str_t *file);
static ngx_int_t ngx_http_upbot_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_upbot_cache_tallies(
    ngx_http_upbot_cache_ctx_t *cache, ngx_log_t *log);
static void ngx_http_upbot_cache_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_upbot_cache_node_t *ngx_http_upbot_cache_find(
    ngx_http_upbot_cache_ctx_t *cache, ngx_http_upbot_group_t *group);
static ngx_http_upbot_cache_node_t *ngx_http_upbot_cache_alloc(
    ngx_http_upbot_cache_ctx_t *cache, size_t size);
static ngx_http_upbot_cache_node_t *ngx_http_upbot_cache_new(
    ngx_http_upbot_cache_ctx_t *cache, ngx_http_upbot_group_t *group,
    ngx_http_upbot_facts_t *facts, ngx_uint_t evict);
static ngx_int_t ngx_http_upbot_cache_after(ngx_http_upbot_cache_node_t *cn,
    ngx_http_upbot_cache_cursor_t *cursor);
static void ngx_http_upbot_cache_delete(ngx_http_upbot_cache_ctx_t *cache,
    ngx_http_upbot_cache_node_t *cn);


/* upbot_zone NAME:SIZE [state=FILE] [state_interval=TIME]; */

char *
ngx_http_upbot_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    u_char                      *p;
    ssize_t                      size;
    ngx_int_t                    ms;
    ngx_str_t                   *value, name, s;
    ngx_uint_t                   i;
    ngx_http_upbot_cache_ctx_t  *cache;

    if (umcf->zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "state=", 6) == 0) {

            if (umcf->state.data) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate \"state=\" in \"%V\"",
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            umcf->state.data = value[i].data + 6;
            umcf->state.len = value[i].len - 6;

            if (umcf->state.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty file in \"state=\" of \"%V\"",
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            /* under the prefix, as nginx's own files */

            if (ngx_conf_full_name(cf->cycle, &umcf->state, 0) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            ngx_http_upbot_state_dir(cf, &umcf->state);

            continue;
        }

        if (ngx_strncmp(value[i].data, "state_interval=", 15) == 0) {

            if (umcf->state_interval != NGX_CONF_UNSET_MSEC) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate \"state_interval=\" in "
                                   "\"%V\"", &cmd->name);
                return NGX_CONF_ERROR;
            }

            s.data = value[i].data + 15;
            s.len = value[i].len - 15;

            ms = ngx_parse_time(&s, 0);

            if (ms == NGX_ERROR || ms < 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value in \"%V\", expected a "
                                   "time of a second or more", &value[i]);
                return NGX_CONF_ERROR;
            }

            umcf->state_interval = (ngx_msec_t) ms;
            continue;
        }

        ngx_http_upbot_conf_unplaced(cf, "state= or state_interval=",
                                     "invalid parameter %ui of \"%V\"",
                                     i, &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (umcf->state.data == NULL) {

        if (umcf->state_interval != NGX_CONF_UNSET_MSEC) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"state_interval=\" of \"%V\" needs "
                               "\"state=\"", &cmd->name);
            return NGX_CONF_ERROR;
        }

    } else if (umcf->state_interval == NGX_CONF_UNSET_MSEC) {
        umcf->state_interval = NGX_HTTP_UPBOT_STATE_INTERVAL;
    }

    p = (u_char *) ngx_strchr(value[1].data, ':');
    size = NGX_ERROR;

    if (p && p != value[1].data) {
        name.data = value[1].data;
        name.len = p - value[1].data;

        s.data = p + 1;
        s.len = value[1].data + value[1].len - s.data;

        size = ngx_parse_size(&s);
    }

    if (size == NGX_ERROR) {
        ngx_http_upbot_conf_unplaced(cf, "NAME:SIZE",
                                     "invalid parameter 1 of \"%V\"",
                                     &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return NGX_CONF_ERROR;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_upbot_cache_ctx_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    cache->umcf = umcf;

    umcf->zone = ngx_shared_memory_add(cf, &name, size,
                                       &ngx_http_upbot_module);
    if (umcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (umcf->zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &name);
        return NGX_CONF_ERROR;
    }

    umcf->zone->init = ngx_http_upbot_cache_init_zone;
    umcf->zone->data = cache;

    return NGX_CONF_OK;
}


/*
 * A state file whose directory is missing would fail at every write: said
 * at nginx -t, as a warning (the directory may be made before the start)
 */

static void
ngx_http_upbot_state_dir(ngx_conf_t *cf, ngx_str_t *file)
{
    u_char           *p, *dir;
    ngx_file_info_t   fi;

    p = file->data + file->len;

    while (p > file->data && p[-1] != '/') {
        p--;
    }

    if (p == file->data) {
        return;
    }

    dir = ngx_pnalloc(cf->temp_pool, p - file->data + 1);
    if (dir == NULL) {
        return;
    }

    ngx_memcpy(dir, file->data, p - file->data);
    dir[p - file->data] = '\0';

    if (ngx_file_info(dir, &fi) == NGX_FILE_ERROR || !ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the directory \"%s\" of the state file is not "
                           "there: the facts cannot be written", dir);
    }
}


/* upbot_cache [ttl=TIME] [stale=TIME] [lock_timeout=TIME] [retry=TIME]; */

char *
ngx_http_upbot_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    size_t       len;
    ngx_str_t   *value, v;
    ngx_int_t    ms;
    ngx_uint_t   i;
    ngx_msec_t  *target;

    /* each parameter is optional, but one at least is there */

    if (umcf->ttl != NGX_CONF_UNSET_MSEC
        || umcf->stale != NGX_CONF_UNSET_MSEC
        || umcf->lock_timeout != NGX_CONF_UNSET_MSEC
        || umcf->retry != NGX_CONF_UNSET_MSEC)
    {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {
            target = &umcf->ttl;
            len = 4;

        } else if (ngx_strncmp(value[i].data, "stale=", 6) == 0) {
            target = &umcf->stale;
            len = 6;

        } else if (ngx_strncmp(value[i].data, "lock_timeout=", 13) == 0) {
            target = &umcf->lock_timeout;
            len = 13;

        } else if (ngx_strncmp(value[i].data, "retry=", 6) == 0) {
            target = &umcf->retry;
            len = 6;

        } else {
            ngx_http_upbot_conf_unplaced(cf, "ttl=, stale=, lock_timeout= "
                                         "or retry=",
                                         "invalid parameter %ui of \"%V\"",
                                         i, &cmd->name);
            return NGX_CONF_ERROR;
        }

        v.data = value[i].data + len;
        v.len = value[i].len - len;

        ms = ngx_parse_time(&v, 0);

        if (ms == NGX_ERROR || (ms == 0 && target == &umcf->ttl)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value in \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        *target = (ngx_msec_t) ms;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_upbot_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_upbot_cache_ctx_t  *ocache = data;

    size_t                       len;
    ngx_http_upbot_cache_ctx_t  *cache;

    cache = shm_zone->data;

    if (ocache) {
        /* a reload: the facts and the tallies stay */
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;
        return ngx_http_upbot_cache_tallies(cache, shm_zone->shm.log);
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return ngx_http_upbot_cache_tallies(cache, shm_zone->shm.log);
    }

    cache->sh = ngx_slab_alloc(cache->shpool,
                               sizeof(ngx_http_upbot_cache_shctx_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_http_upbot_cache_rbtree_insert);

    ngx_queue_init(&cache->sh->queue);

    ngx_rbtree_init(&cache->sh->tallies, &cache->sh->tallies_sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_http_upbot_visitors_init(&cache->sh->visitors);

    ngx_http_upbot_metrics_zone(&cache->sh->metrics);

    cache->sh->changes = 0;
    cache->sh->saved = 0;

    len = sizeof(" in upbot_zone \"\"") + shm_zone->shm.name.len;

    cache->shpool->log_ctx = ngx_slab_alloc(cache->shpool, len);
    if (cache->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(cache->shpool->log_ctx, " in upbot_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone evicts; the slab allocator need not complain */
    cache->shpool->log_nomem = 0;

    if (ngx_http_upbot_cache_tallies(cache, shm_zone->shm.log) != NGX_OK) {
        return NGX_ERROR;
    }

    /* a new zone, of a start, an upgrade or a new size: warm from the
     * state file, after the tallies, which must have their room */

    ngx_http_upbot_warm_load(cache->umcf, shm_zone->shm.log);

    return NGX_OK;
}


/*
 * The tallies, the apps' counters and their pace, of the configuration
 * being loaded: found, or made, in the master, while the workers of the
 * last one may be using the zone.
 */

static ngx_int_t
ngx_http_upbot_cache_tallies(ngx_http_upbot_cache_ctx_t *cache,
    ngx_log_t *log)
{
    ngx_int_t  rc;

    ngx_shmtx_lock(&cache->shpool->mutex);

    rc = ngx_http_upbot_tally_init(cache->umcf, &cache->sh->tallies);

    if (rc == NGX_OK) {
        rc = ngx_http_upbot_metrics_attach(cache->umcf, &cache->sh->metrics);
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    if (rc == NGX_OK) {
        ngx_http_upbot_pace_attach(cache->umcf, log);
    }

    return rc;
}


/* zone memory for another part of the module, with the mutex held */

void *
ngx_http_upbot_cache_alloc_locked(ngx_http_upbot_main_conf_t *umcf,
    size_t size)
{
    return ngx_http_upbot_cache_alloc(umcf->zone->data, size);
}


void
ngx_http_upbot_cache_free_locked(ngx_http_upbot_main_conf_t *umcf, void *p)
{
    ngx_http_upbot_cache_ctx_t  *cache = umcf->zone->data;

    ngx_slab_free_locked(cache->shpool, p);
}


ngx_http_upbot_visitors_t *
ngx_http_upbot_cache_visitors(ngx_http_upbot_main_conf_t *umcf,
    ngx_slab_pool_t **shpool)
{
    ngx_http_upbot_cache_ctx_t  *cache = umcf->zone->data;

    *shpool = cache->shpool;

    return &cache->sh->visitors;
}


/*
 * A pool is looked at in one hold of the zone's mutex (begin ... end):
 * requests of two workers that claim the same cold pool at the same time
 * would otherwise each get part of it, and make two provider calls.
 */

void
ngx_http_upbot_cache_begin(ngx_http_upbot_main_conf_t *umcf)
{
    ngx_http_upbot_cache_ctx_t  *cache = umcf->zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);
}


void
ngx_http_upbot_cache_end(ngx_http_upbot_main_conf_t *umcf)
{
    ngx_http_upbot_cache_ctx_t  *cache = umcf->zone->data;

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/*
 * What the cache knows of a group, copied into "pool".  With "claim", a
 * group that is not fresh and that nobody is fetching is locked for the
 * caller to fetch.  Between ngx_http_upbot_cache_begin() and _end().
 */

void
ngx_http_upbot_cache_look(ngx_http_upbot_main_conf_t *umcf,
    ngx_pool_t *pool, ngx_http_upbot_group_t *group, ngx_uint_t claim,
    ngx_http_upbot_cached_t *cached)
{
    u_char                       *p;
    ngx_msec_t                    now, age;
    ngx_http_upbot_cache_ctx_t   *cache;
    ngx_http_upbot_cache_node_t  *cn;

    cache = umcf->zone->data;
    now = ngx_current_msec;

    ngx_memzero(cached, sizeof(ngx_http_upbot_cached_t));

    cn = ngx_http_upbot_cache_find(cache, group);

    if (cn) {
        ngx_queue_remove(&cn->queue);
        ngx_queue_insert_head(&cache->sh->queue, &cn->queue);

        if (cn->known) {
            age = ngx_http_upbot_since(now, cn->fetched);

            if (age < umcf->ttl) {
                cached->state = NGX_HTTP_UPBOT_FACTS_FRESH;
                cached->fresh_until = cn->fetched + umcf->ttl;

            } else if (age < umcf->ttl + umcf->stale) {
                cached->state = NGX_HTTP_UPBOT_FACTS_STALE;

            } else {
                cached->expired = 1;
            }
        }

        if (cached->state != NGX_HTTP_UPBOT_FACTS_NONE) {
            cached->facts.known = 1;
            cached->facts.gone = cn->gone;
            cached->facts.json_safe = cn->json_safe;
            cached->facts.members = cn->members;
            cached->facts.max_members = cn->max_members;

            /* one copy for the three strings */

            p = ngx_pnalloc(pool, cn->name_len + cn->face_len + cn->url_len);

            if (p == NULL) {
                cached->state = NGX_HTTP_UPBOT_FACTS_NONE;
                cached->facts.known = 0;

            } else {
                ngx_memcpy(p, cn->data + cn->key_len,
                           cn->name_len + cn->face_len + cn->url_len);

                cached->facts.name.data = p;
                cached->facts.name.len = cn->name_len;
                cached->facts.face_url.data = p + cn->name_len;
                cached->facts.face_url.len = cn->face_len;
                cached->facts.url.data = p + cn->name_len + cn->face_len;
                cached->facts.url.len = cn->url_len;
            }
        }

        cached->busy = cn->lock != 0 && (ngx_msec_int_t) (cn->lock - now) > 0;
        cached->lock_until = cn->lock;

        if (cn->failed
            && ngx_http_upbot_since(now, cn->failed) < umcf->retry)
        {
            cached->failed = 1;
            cached->fail_status = cn->fail_status;
        }
    }

    if (claim && cached->state != NGX_HTTP_UPBOT_FACTS_FRESH && !cached->busy
        && !cached->failed)
    {
        if (cn == NULL) {
            cn = ngx_http_upbot_cache_new(cache, group, NULL, 1);
        }

        /* no room even after evicting: fetch unlocked, store nothing */

        if (cn) {
            /* a live call is given up at its deadline, after waiting for
             * its slot of the app's rate at most rate_wait: never before */

            cn->lock = now + ngx_max(umcf->lock_timeout,
                                     group->live->app->rate_wait
                                     + group->live->app->timeout
                                     + NGX_HTTP_UPBOT_CLAIM_MARGIN);

            if (cn->lock == 0) {
                cn->lock = 1;
            }
        }

        cached->claimed = 1;
    }
}


/*
 * The numbers of what the cache knows of a group, within "stale", for the
 * metrics and the status page: no strings copied, nothing claimed, its
 * place in the LRU kept.  Between ngx_http_upbot_cache_begin() and _end().
 * *age: in ms since the facts came, or -1.
 */

void
ngx_http_upbot_cache_peek(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group, ngx_http_upbot_facts_t *facts,
    ngx_msec_int_t *age)
{
    ngx_http_upbot_cache_ctx_t   *cache;
    ngx_http_upbot_cache_node_t  *cn;

    cache = umcf->zone->data;

    ngx_memzero(facts, sizeof(ngx_http_upbot_facts_t));
    *age = -1;

    cn = ngx_http_upbot_cache_find(cache, group);

    if (cn == NULL || !cn->known) {
        return;
    }

    *age = (ngx_msec_int_t) ngx_http_upbot_since(ngx_current_msec,
                                                 cn->fetched);

    if ((ngx_msec_t) *age < umcf->ttl + umcf->stale) {
        facts->known = 1;
        facts->gone = cn->gone;
        facts->members = cn->members;
        facts->max_members = cn->max_members;
    }
}


/* the zone's size, and how much of it is in use, in bytes */

void
ngx_http_upbot_cache_usage(ngx_http_upbot_main_conf_t *umcf, size_t *used,
    size_t *size)
{
    ngx_http_upbot_cache_ctx_t  *cache = umcf->zone->data;

    *size = umcf->zone->shm.size;
    *used = *size - cache->shpool->pfree * ngx_pagesize;
}


/*
 * How many times facts were stored or fetches failed: a request that
 * waits for another's fetch reads it without the mutex, and looks at the
 * zone again only when it has moved.
 */

ngx_atomic_uint_t
ngx_http_upbot_cache_changes(ngx_http_upbot_main_conf_t *umcf)
{
    ngx_http_upbot_cache_ctx_t  *cache = umcf->zone->data;

    return cache->sh->changes;
}


/* the facts of a fetched group; its lock is released */

void
ngx_http_upbot_cache_store(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group, ngx_http_upbot_facts_t *facts)
{
    ngx_http_upbot_cache_ctx_t   *cache;
    ngx_http_upbot_cache_node_t  *cn, *old;

    cache = umcf->zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    old = ngx_http_upbot_cache_find(cache, group);

    /* a new node: the strings' lengths change as groups are renamed */

    if (old) {
        ngx_http_upbot_cache_delete(cache, old);
    }

    cn = ngx_http_upbot_cache_new(cache, group, facts, 1);

    if (cn) {
        cn->fetched = ngx_current_msec;
        cn->known = 1;
    }

    cache->sh->changes++;

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/* a claim given up before any call: the lock is released, nothing else */

void
ngx_http_upbot_cache_release(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group)
{
    ngx_http_upbot_cache_ctx_t   *cache;
    ngx_http_upbot_cache_node_t  *cn;

    cache = umcf->zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    cn = ngx_http_upbot_cache_find(cache, group);

    if (cn) {
        cn->lock = 0;
    }

    cache->sh->changes++;

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/* a fetch failed: the lock is released, the failure remembered */

void
ngx_http_upbot_cache_fail(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group, ngx_uint_t status)
{
    ngx_http_upbot_cache_ctx_t   *cache;
    ngx_http_upbot_cache_node_t  *cn;

    cache = umcf->zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    cn = ngx_http_upbot_cache_find(cache, group);

    if (cn) {
        cn->lock = 0;
        cn->failed = ngx_current_msec ? ngx_current_msec : 1;
        cn->fail_status = (uint16_t) status;
    }

    cache->sh->changes++;

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/*
 * Facts for the state file, in the tree's order from where "cursor" is,
 * in one hold of the mutex: at most "max" groups looked at, so that the
 * hold stays short however large the zone.  "handler" copies each entry
 * (its strings are the zone's), or says NGX_AGAIN to stop before it.
 * Facts past "stale" are left out: a restart could not use them.  NGX_OK:
 * more may come; NGX_DONE: the tree's end.  "wall" is now, unix ms.
 */

ngx_int_t
ngx_http_upbot_cache_export(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_cache_cursor_t *cursor, uint64_t wall, ngx_uint_t max,
    ngx_http_upbot_state_pt handler, void *data)
{
    ngx_int_t                      rc;
    ngx_uint_t                     n;
    ngx_msec_t                     now, age;
    ngx_rbtree_t                  *tree;
    ngx_rbtree_node_t             *node, *next, *sentinel;
    ngx_http_upbot_cache_ctx_t    *cache;
    ngx_http_upbot_cache_node_t   *cn;
    ngx_http_upbot_state_entry_t   entry;

    cache = umcf->zone->data;
    tree = &cache->sh->rbtree;
    sentinel = tree->sentinel;
    now = ngx_current_msec;

    ngx_shmtx_lock(&cache->shpool->mutex);

    /* the first node after the cursor: the tree may have changed since */

    next = NULL;
    node = tree->root;

    while (node != sentinel) {
        cn = (ngx_http_upbot_cache_node_t *) node;

        if (!cursor->started || ngx_http_upbot_cache_after(cn, cursor) > 0) {
            next = node;
            node = node->left;

        } else {
            node = node->right;
        }
    }

    rc = NGX_DONE;

    for (n = 0; next && n < max; n++) {

        cn = (ngx_http_upbot_cache_node_t *) next;
        age = ngx_http_upbot_since(now, cn->fetched);

        if (cn->known && age < umcf->ttl + umcf->stale) {
            entry.key.data = cn->data;
            entry.key.len = cn->key_len;
            entry.name.data = cn->data + cn->key_len;
            entry.name.len = cn->name_len;
            entry.face_url.data = entry.name.data + cn->name_len;
            entry.face_url.len = cn->face_len;
            entry.url.data = entry.face_url.data + cn->face_len;
            entry.url.len = cn->url_len;
            entry.fetched = wall > age ? wall - age : 0;
            entry.members = cn->members;
            entry.max_members = cn->max_members;
            entry.gone = cn->gone;

            if (handler(&entry, data) == NGX_AGAIN) {
                rc = NGX_OK;
                break;
            }
        }

        cursor->started = 1;
        cursor->hash = (uint32_t) cn->node.key;
        cursor->key.len = cn->key_len;
        ngx_memcpy(cursor->key.data, cn->data, cn->key_len);

        next = ngx_rbtree_next(tree, next);
    }

    if (next && n == max) {
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return rc;
}


/* the node against the cursor, in the tree's order: < 0, 0 or > 0 */

static ngx_int_t
ngx_http_upbot_cache_after(ngx_http_upbot_cache_node_t *cn,
    ngx_http_upbot_cache_cursor_t *cursor)
{
    if (cn->node.key != cursor->hash) {
        return cn->node.key < cursor->hash ? -1 : 1;
    }

    return ngx_memn2cmp(cn->data, cursor->key.data, cn->key_len,
                        cursor->key.len);
}


/*
 * Facts from the state file for a group of a new zone, "age" ms old, with
 * the mutex held: nothing is evicted for them.  NGX_DECLINED: the group
 * has facts already; NGX_BUSY: the zone is full.
 */

ngx_int_t
ngx_http_upbot_cache_import_locked(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group, ngx_http_upbot_facts_t *facts,
    ngx_msec_t age)
{
    ngx_http_upbot_cache_ctx_t   *cache;
    ngx_http_upbot_cache_node_t  *cn;

    cache = umcf->zone->data;

    if (ngx_http_upbot_cache_find(cache, group)) {
        return NGX_DECLINED;
    }

    cn = ngx_http_upbot_cache_new(cache, group, facts, 0);
    if (cn == NULL) {
        return NGX_BUSY;
    }

    /* modular, as every age in the zone: an uptime shorter than it is no
     * matter */

    cn->fetched = ngx_current_msec - age;
    cn->known = 1;

    return NGX_OK;
}


/*
 * Whether this worker writes the state file now: one a "interval" across
 * workers.  NGX_OK: it does, and the time is taken; else *left is when to
 * look again.
 */

ngx_int_t
ngx_http_upbot_cache_save_turn(ngx_http_upbot_main_conf_t *umcf,
    ngx_msec_t interval, ngx_msec_t *left)
{
    ngx_int_t                    rc;
    ngx_msec_t                   now, since;
    ngx_http_upbot_cache_ctx_t  *cache;

    cache = umcf->zone->data;
    now = ngx_current_msec;

    ngx_shmtx_lock(&cache->shpool->mutex);

    since = ngx_http_upbot_since(now, cache->sh->saved);

    if (cache->sh->saved == 0 || since >= interval) {
        cache->sh->saved = now ? now : 1;
        *left = interval;
        rc = NGX_OK;

    } else {
        *left = interval - since;
        rc = NGX_BUSY;
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return rc;
}


static ngx_http_upbot_cache_node_t *
ngx_http_upbot_cache_find(ngx_http_upbot_cache_ctx_t *cache,
    ngx_http_upbot_group_t *group)
{
    ngx_int_t                     rc;
    ngx_rbtree_node_t            *node, *sentinel;
    ngx_http_upbot_live_t        *live = group->live;
    ngx_http_upbot_cache_node_t  *cn;

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (live->key_hash != node->key) {
            node = (live->key_hash < node->key) ? node->left : node->right;
            continue;
        }

        cn = (ngx_http_upbot_cache_node_t *) node;

        rc = ngx_memn2cmp(live->key.data, cn->data, live->key.len,
                          cn->key_len);

        if (rc == 0) {
            return cn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_upbot_cache_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t            **p;
    ngx_http_upbot_cache_node_t   *cn, *cnt;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            cn = (ngx_http_upbot_cache_node_t *) node;
            cnt = (ngx_http_upbot_cache_node_t *) temp;

            p = (ngx_memn2cmp(cn->data, cnt->data, cn->key_len,
                              cnt->key_len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* a node for a group: with its facts, or only its key (to hold a lock) */

static ngx_http_upbot_cache_node_t *
ngx_http_upbot_cache_new(ngx_http_upbot_cache_ctx_t *cache,
    ngx_http_upbot_group_t *group, ngx_http_upbot_facts_t *facts,
    ngx_uint_t evict)
{
    u_char                       *p;
    size_t                        size, name, face, url, key;
    ngx_http_upbot_cache_node_t  *cn;

    key = group->live->key.len;
    name = 0;
    face = 0;
    url = 0;

    if (facts) {
        name = ngx_min(facts->name.len, NGX_HTTP_UPBOT_CACHE_STRING_MAX);
        face = ngx_min(facts->face_url.len, NGX_HTTP_UPBOT_CACHE_STRING_MAX);
        url = ngx_min(facts->url.len, NGX_HTTP_UPBOT_CACHE_STRING_MAX);
    }

    size = offsetof(ngx_http_upbot_cache_node_t, data)
           + key + name + face + url;

    if (evict) {
        cn = ngx_http_upbot_cache_alloc(cache, size);

    } else {
        cn = ngx_slab_alloc_locked(cache->shpool, size);
    }

    if (cn == NULL) {
        return NULL;
    }

    ngx_memzero(cn, offsetof(ngx_http_upbot_cache_node_t, data));

    cn->node.key = group->live->key_hash;
    cn->key_len = (uint16_t) key;
    cn->name_len = (uint16_t) name;
    cn->face_len = (uint16_t) face;
    cn->url_len = (uint16_t) url;

    p = ngx_cpymem(cn->data, group->live->key.data, group->live->key.len);

    if (facts) {
        /* an empty string may have no data: no memcpy() from NULL */
        if (name) {
            p = ngx_cpymem(p, facts->name.data, name);
        }

        if (face) {
            p = ngx_cpymem(p, facts->face_url.data, face);
        }

        if (url) {
            ngx_memcpy(p, facts->url.data, url);
        }

        cn->gone = facts->gone;
        cn->json_safe = facts->json_safe;
        cn->members = (uint32_t) facts->members;
        cn->max_members = (uint32_t) facts->max_members;
    }

    ngx_rbtree_insert(&cache->sh->rbtree, &cn->node);
    ngx_queue_insert_head(&cache->sh->queue, &cn->queue);

    return cn;
}


/*
 * From the slab, evicting to make room: the least recently used visitors'
 * entries first, then the least recently used groups' facts; never a tally.
 */

static ngx_http_upbot_cache_node_t *
ngx_http_upbot_cache_alloc(ngx_http_upbot_cache_ctx_t *cache, size_t size)
{
    void                         *p;
    ngx_uint_t                    i;
    ngx_queue_t                  *q;
    ngx_http_upbot_cache_node_t  *cn;

    for (i = 0; i < 64; i++) {
        p = ngx_slab_alloc_locked(cache->shpool, size);

        if (p) {
            return p;
        }

        if (ngx_http_upbot_visitor_evict(&cache->sh->visitors, cache->shpool)
            == NGX_OK)
        {
            continue;
        }

        if (ngx_queue_empty(&cache->sh->queue)) {
            return NULL;
        }

        q = ngx_queue_last(&cache->sh->queue);
        cn = ngx_queue_data(q, ngx_http_upbot_cache_node_t, queue);

        ngx_http_upbot_cache_delete(cache, cn);
    }

    return NULL;
}


static void
ngx_http_upbot_cache_delete(ngx_http_upbot_cache_ctx_t *cache,
    ngx_http_upbot_cache_node_t *cn)
{
    ngx_queue_remove(&cn->queue);
    ngx_rbtree_delete(&cache->sh->rbtree, &cn->node);
    ngx_slab_free_locked(cache->shpool, cn);
}
