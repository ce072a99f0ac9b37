
/*
 * Copyright (C) 2026, the upbot authors
 *
 * A group's tally: how many answers named it, for "max_views=".  One per
 * group in the zone, named by its source, id and url (a new QR code is a
 * new group, and counts from zero), shared by every code whose pool holds
 * the group.  Tallies are made in the master when a configuration is
 * loaded and never evicted, so the counts are exact across workers and
 * kept across reloads and edits of other rows.  A view is taken with a
 * compare-and-swap, without the zone's mutex.
 */


#include "ngx_http_upbot.h"




/*
 * Each counted group of the configuration gets its tally, found or made;
 * with the zone's mutex held.
 */

ngx_int_t
ngx_http_upbot_tally_init(ngx_http_upbot_main_conf_t *umcf,
    ngx_rbtree_t *tree)
{
    uint32_t                 hash;
    ngx_str_t                key;
    ngx_uint_t               slot, i;
    ngx_pool_t              *pool;
    ngx_http_upbot_code_t   *code;
    ngx_http_upbot_more_t   *more;
    ngx_http_upbot_group_t  *group;
    ngx_http_upbot_tally_t  *tally;

    /* most tables have no limit: a million codes need not be looked at */

    if (umcf->limited == 0) {
        return NGX_OK;
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    for (slot = 0; umcf->ncodes && slot <= umcf->codes_mask; slot++) {
        code = umcf->codes[slot];

        if (code == NULL) {
            continue;
        }

        for (i = 0; i < code->ngroups; i++) {
            group = &code->groups[i];

            more = group->more;

            if (more == NULL
                || (more->max_views == 0 && more->max_scans == 0))
            {
                continue;
            }

            if (ngx_http_upbot_group_name(pool, group, &key) != NGX_OK) {
                goto failed;
            }

            hash = group->ident;

            tally = (ngx_http_upbot_tally_t *)
                        ngx_str_rbtree_lookup(tree, &key, hash);

            if (tally == NULL) {
                tally = ngx_http_upbot_cache_alloc_locked(umcf,
                            offsetof(ngx_http_upbot_tally_t, data) + key.len);

                if (tally == NULL) {
                    ngx_log_error(NGX_LOG_EMERG, ngx_cycle->log, 0,
                                  "upbot_zone is too small for the tallies "
                                  "of the groups with \"max_views=\"");
                    goto failed;
                }

                tally->sn.node.key = hash;
                tally->sn.str.data = tally->data;
                tally->sn.str.len = key.len;
                tally->views = 0;
                tally->scans = 0;
                ngx_memcpy(tally->data, key.data, key.len);

                ngx_rbtree_insert(tree, &tally->sn.node);
            }

            more->tally = tally;
        }
    }

    ngx_destroy_pool(pool);

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


/*
 * A view of a group that has a limit, if one is left: the count after it,
 * or 0 when the group is full.  Two workers that race for the last view
 * cannot both take it.
 */

ngx_uint_t
ngx_http_upbot_tally_view(ngx_http_upbot_group_t *group)
{
    ngx_atomic_uint_t        n;
    ngx_http_upbot_more_t   *more = group->more;
    ngx_http_upbot_tally_t  *tally = more->tally;

    for ( ;; ) {
        n = tally->views;

        if (n >= more->max_views) {
            return 0;
        }

        if (ngx_atomic_cmp_set(&tally->views, n, n + 1)) {
            return n + 1;
        }
    }
}
