
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Picking a group of a pool from the facts at hand.  Pure but for the view
 * it takes of a group with "max_views=" (an atomic add in the zone): no
 * request, no configuration, no I/O, so the same code serves static and
 * live groups.
 */


#include "ngx_http_upbot.h"


static uint32_t ngx_http_upbot_mix(uint32_t h);


/*
 * A group is usable unless it is marked down, expired, outside its hours
 * ("now" at "offset"), its facts are unknown, the provider says it is
 * gone, or it is full: at its "max_views=", at its threshold if one is
 * set, else at the provider's maximum.  A fallback group is never full:
 * it is there for when all the others are.  The first reason found is
 * the state, as the status page and the metrics show it.  Only a group
 * with one of those options (group->more) has them looked at.
 */

ngx_http_upbot_state_e
ngx_http_upbot_group_state(ngx_http_upbot_group_t *group,
    ngx_http_upbot_facts_t *facts, time_t now, ngx_int_t offset)
{
    ngx_uint_t              cap;
    ngx_http_upbot_more_t  *more = group->more;

    if (group->down) {
        return ngx_http_upbot_state_down;
    }

    if (more) {
        if (more->expires && now >= more->expires) {
            return ngx_http_upbot_state_expired;
        }

        if (more->hours
            && !ngx_http_upbot_within(more->opens, more->closes, now, offset))
        {
            return ngx_http_upbot_state_closed;
        }
    }

    if (facts == NULL || !facts->known) {
        return ngx_http_upbot_state_unknown;
    }

    if (facts->gone) {
        return ngx_http_upbot_state_gone;
    }

    if (group->fallback) {
        return ngx_http_upbot_state_usable;
    }

    cap = facts->max_members;

    if (more) {
        if ((more->max_views && more->tally->views >= more->max_views)
            || (more->max_scans && more->tally->scans >= more->max_scans))
        {
            return ngx_http_upbot_state_full;
        }

        if (more->threshold) {
            cap = more->threshold;
        }
    }

    return (cap == 0 || facts->members < cap) ? ngx_http_upbot_state_usable
                                              : ngx_http_upbot_state_full;
}


ngx_int_t
ngx_http_upbot_usable(ngx_http_upbot_group_t *group,
    ngx_http_upbot_facts_t *facts, time_t now, ngx_int_t offset)
{
    return ngx_http_upbot_group_state(group, facts, now, offset)
           == ngx_http_upbot_state_usable;
}


/*
 * The index of the group to answer, or NGX_DECLINED; *picked says which
 * way it went, *views is the count of the group's "max_views=" that this
 * answer took (0: it has none).  A view is taken when the group is
 * chosen: another worker may have taken the last one in between, and then
 * the group is full and the choice is made again.
 */

ngx_int_t
ngx_http_upbot_pick(ngx_http_upbot_group_t *groups,
    ngx_http_upbot_facts_t **facts, ngx_uint_t n, ngx_uint_t mode,
    ngx_str_t *openid, time_t now, ngx_int_t offset,
    ngx_http_upbot_picked_e *picked, ngx_uint_t *views)
{
    ngx_int_t  i;

    *views = 0;

    for ( ;; ) {
        i = ngx_http_upbot_choose(groups, facts, n, mode, openid, now, offset,
                                  picked);

        if (i == NGX_DECLINED
            || ngx_http_upbot_group_more(&groups[i])->max_views == 0)
        {
            return i;
        }

        *views = ngx_http_upbot_tally_view(&groups[i]);

        if (*views) {
            return i;
        }
    }
}


/*
 * "first": the first usable group in pool order, so one group fills before
 * the next is shown.  "spread": rendezvous hashing of the openid over the
 * usable groups, so a user keeps one group for as long as it stays usable,
 * whatever happens to the others.  The fallback group is answered only
 * when no other is usable.  No view is taken: the status page asks too.
 */

ngx_int_t
ngx_http_upbot_choose(ngx_http_upbot_group_t *groups,
    ngx_http_upbot_facts_t **facts, ngx_uint_t n, ngx_uint_t mode,
    ngx_str_t *openid, time_t now, ngx_int_t offset,
    ngx_http_upbot_picked_e *picked)
{
    uint32_t    user, score, best_score;
    ngx_int_t   best, fallback;
    ngx_uint_t  i;

    best = NGX_DECLINED;
    fallback = NGX_DECLINED;
    best_score = 0;
    user = 0;

    if (mode == NGX_HTTP_UPBOT_PICK_SPREAD) {
        user = ngx_murmur_hash2(openid->data, openid->len);
    }

    for (i = 0; i < n; i++) {
        if (!ngx_http_upbot_usable(&groups[i], facts[i], now, offset)) {
            continue;
        }

        if (groups[i].fallback) {
            fallback = i;
            continue;
        }

        if (mode == NGX_HTTP_UPBOT_PICK_FIRST) {
            best = i;
            break;
        }

        score = ngx_http_upbot_mix(user ^ groups[i].hash);

        if (best == NGX_DECLINED || score > best_score) {
            best = i;
            best_score = score;
        }
    }

    if (best != NGX_DECLINED) {
        *picked = (best == 0) ? ngx_http_upbot_picked_first
                              : ngx_http_upbot_picked_switched;
        return best;
    }

    if (fallback != NGX_DECLINED) {
        *picked = ngx_http_upbot_picked_fallback;
        return fallback;
    }

    *picked = ngx_http_upbot_picked_exhausted;

    return NGX_DECLINED;
}


/* $upbot_pick, and the debug log's word for it */

ngx_str_t *
ngx_http_upbot_picked_name(ngx_http_upbot_picked_e picked)
{
    static ngx_str_t  names[] = {
        ngx_null_string,
        ngx_string("first"),
        ngx_string("switched"),
        ngx_string("fallback"),
        ngx_string("sticky"),
        ngx_string("exhausted")
    };

    return &names[picked];
}


ngx_str_t *
ngx_http_upbot_state_name(ngx_http_upbot_state_e state)
{
    static ngx_str_t  names[] = {
        ngx_string("usable"),
        ngx_string("full"),
        ngx_string("down"),
        ngx_string("expired"),
        ngx_string("closed"),
        ngx_string("unknown"),
        ngx_string("gone")
    };

    return &names[state];
}


/* url, name and background: configured, else what the provider says */

void
ngx_http_upbot_answer(ngx_http_upbot_group_t *group,
    ngx_http_upbot_facts_t *facts, ngx_http_upbot_answer_t *answer)
{
    answer->url = group->url.len ? group->url : facts->url;
    answer->name = group->name.len ? group->name : facts->name;
    answer->background = (group->more && group->more->background.len)
                         ? group->more->background : facts->face_url;
    answer->json_safe = group->json_safe && facts->json_safe;
}


/* the finaliser of MurmurHash3: spreads every input bit over the output */

static uint32_t
ngx_http_upbot_mix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;

    return h;
}
