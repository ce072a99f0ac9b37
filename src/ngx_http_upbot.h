
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Types shared by the parts of ngx_http_upbot_module.  A GetMediaInfo
 * goes body (method, type) -> auth (token) -> body (read) -> parse ->
 * media_info: codes (the code) -> lookup (cache, fetch: the pool's facts)
 * -> pick -> respond; a ReportMediaEvent goes body -> auth -> body ->
 * parse -> media_event: events (store; with fsync=on, sync) -> respond.
 */


#ifndef _NGX_HTTP_UPBOT_H_INCLUDED_
#define _NGX_HTTP_UPBOT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#include "ngx_http_upbot_json.h"
#include "ngx_http_upbot_siphash.h"
#include "ngx_http_upbot_parse.h"
#include "ngx_http_upbot_provider.h"
#include "ngx_http_upbot_state.h"


#define NGX_HTTP_UPBOT_VERSION         "0.1.0"


/* the "ret" values of the API; see the error table in README.md */
#define NGX_HTTP_UPBOT_OK               0
#define NGX_HTTP_UPBOT_BAD_REQUEST      1001
#define NGX_HTTP_UPBOT_UNAUTHORIZED     1002
#define NGX_HTTP_UPBOT_NO_CODE          1003
#define NGX_HTTP_UPBOT_POOL_FULL        1004
#define NGX_HTTP_UPBOT_PROVIDER_FAILED  1005
#define NGX_HTTP_UPBOT_STORE_FAILED     1006
#define NGX_HTTP_UPBOT_BAD_METHOD       1007
#define NGX_HTTP_UPBOT_TOO_FREQUENT     1008

/* rows of the error table (ngx_http_upbot_respond.c), one per ret above */
#define NGX_HTTP_UPBOT_NERRORS          9


#define NGX_HTTP_UPBOT_PICK_FIRST       0
#define NGX_HTTP_UPBOT_PICK_SPREAD      1

/* what a pick did, $upbot_pick */
typedef enum {
    ngx_http_upbot_picked_none = 0,   /* no pick (yet) */
    ngx_http_upbot_picked_first,      /* the pool's first group */
    ngx_http_upbot_picked_switched,   /* a later one, not the fallback */
    ngx_http_upbot_picked_fallback,   /* every other group unusable */
    ngx_http_upbot_picked_sticky,     /* reserved: the group shown before */
    ngx_http_upbot_picked_exhausted   /* nothing usable: 1004 or 1005 */
} ngx_http_upbot_picked_e;

#define NGX_HTTP_UPBOT_PICKS            6

/* what a group of a pool is now (ngx_http_upbot_group_state()) */
typedef enum {
    ngx_http_upbot_state_usable = 0,
    ngx_http_upbot_state_full,        /* members, max_views=, max_scans= */
    ngx_http_upbot_state_down,
    ngx_http_upbot_state_expired,
    ngx_http_upbot_state_closed,      /* outside its hours= */
    ngx_http_upbot_state_unknown,     /* no facts at hand */
    ngx_http_upbot_state_gone         /* the provider says so */
} ngx_http_upbot_state_e;

#define NGX_HTTP_UPBOT_STATES           7

/* $upbot_cache_status */
#define NGX_HTTP_UPBOT_CACHE_NONE       0    /* static groups only */
#define NGX_HTTP_UPBOT_CACHE_HIT        1
#define NGX_HTTP_UPBOT_CACHE_MISS       2
#define NGX_HTTP_UPBOT_CACHE_STALE      3
#define NGX_HTTP_UPBOT_CACHE_UPDATING   4
#define NGX_HTTP_UPBOT_CACHE_EXPIRED    5    /* fetched: its facts too old */
#define NGX_HTTP_UPBOT_CACHE_STATUSES   6

#define NGX_HTTP_UPBOT_CODE_HARD_MAX    255

/* the most requests a second (or a minute) a rate may say: keeps its
 * thousandths of a request a second in range */
#define NGX_HTTP_UPBOT_RATE_MAX         1000000

/* a call's default deadline, the longest wait for a call's slot of the
 * app's rate, and how long a claim outlives the deadline */
#define NGX_HTTP_UPBOT_CALL_TIMEOUT     3000
#define NGX_HTTP_UPBOT_RATE_WAIT        1000
#define NGX_HTTP_UPBOT_CLAIM_MARGIN     1000

/* how often the state file is written by default (state_interval=) */
#define NGX_HTTP_UPBOT_STATE_INTERVAL   60000


/* what the provider (or, for static groups, the configuration) says */
typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       face_url;
    ngx_str_t                       url;
    ngx_uint_t                      members;
    ngx_uint_t                      max_members;
    unsigned                        known:1;
    unsigned                        gone:1;
    unsigned                        json_safe:1; /* strings as they are */
} ngx_http_upbot_facts_t;


/*
 * Counters in the zone (ngx_http_upbot_metrics.c), one view for all
 * workers, kept across reloads.  A histogram counts each observation in
 * its bucket only: the scrape makes them cumulative.
 */
#define NGX_HTTP_UPBOT_BUCKETS          13   /* 1 ms .. 10 s, +Inf */
#define NGX_HTTP_UPBOT_APIS             2
#define NGX_HTTP_UPBOT_EVENT_KINDS      4    /* the seeds' three, other */
#define NGX_HTTP_UPBOT_OUTCOMES         8    /* of a provider call */
#define NGX_HTTP_UPBOT_APP_ERRORS       8    /* provider codes told apart */
#define NGX_HTTP_UPBOT_STEPS            4    /* of a code's funnel */

typedef struct {
    ngx_atomic_t                    bucket[NGX_HTTP_UPBOT_BUCKETS];
    ngx_atomic_t                    sum;         /* milliseconds */
} ngx_http_upbot_histogram_t;

typedef struct {
    /* by API and ret (error table row), the last: no answer was made */
    ngx_atomic_t                    requests[NGX_HTTP_UPBOT_APIS]
                                            [NGX_HTTP_UPBOT_NERRORS + 1];
    ngx_http_upbot_histogram_t      duration[NGX_HTTP_UPBOT_APIS];
    ngx_atomic_t                    cache[NGX_HTTP_UPBOT_CACHE_STATUSES];
    ngx_atomic_t                    picks[NGX_HTTP_UPBOT_PICKS];
    ngx_atomic_t                    events[NGX_HTTP_UPBOT_EVENT_KINDS];
    ngx_atomic_t                    event_log_bytes;
    ngx_atomic_t                    event_log_errors;
    ngx_atomic_t                    funnel_dropped;
    size_t                          funnel_bytes;   /* with the mutex */
    time_t                          funnel_warned;
    ngx_rbtree_t                    apps;        /* app_node_t */
    ngx_rbtree_node_t               apps_sentinel;
    ngx_rbtree_t                    funnels;     /* funnel_t */
    ngx_rbtree_node_t               funnels_sentinel;
} ngx_http_upbot_metrics_t;

/*
 * An app's calls, by name ("tim:prod"): when the latest was made, for its
 * rate=, and, where a location shows them, their counts.  Made at load,
 * never evicted.
 */
typedef struct {
    ngx_str_node_t                  sn;
    uint64_t                        interval;    /* between calls, µs */
    ngx_atomic_t                    last;        /* the latest call's slot,
                                                    µs (without a pace file) */
    ngx_atomic_t                    calls[NGX_HTTP_UPBOT_OUTCOMES];
    ngx_http_upbot_histogram_t      duration;
    ngx_atomic_t                    ok;          /* groups: facts */
    ngx_atomic_t                    gone;
    ngx_atomic_t                    missing;     /* not in the answer */
    ngx_atomic_t                    error[NGX_HTTP_UPBOT_APP_ERRORS];
    ngx_atomic_t                    errors[NGX_HTTP_UPBOT_APP_ERRORS];
    ngx_atomic_t                    other_errors;
    u_char                          data[1];
} ngx_http_upbot_app_node_t;

/*
 * A code's funnel (answers, exposures, long-presses, jumps): a slot per
 * group of its pool when it was made, named by the group's ident, and
 * slot 0 for events tied to no group.  Made at its first count.
 */
typedef struct {
    uint32_t                        ident;
    ngx_atomic_t                    steps[NGX_HTTP_UPBOT_STEPS];
} ngx_http_upbot_funnel_slot_t;

typedef struct {
    ngx_str_node_t                  sn;          /* the code */
    ngx_uint_t                      nslots;
    ngx_http_upbot_funnel_slot_t    slots[1];    /* then the code */
} ngx_http_upbot_funnel_t;


/* an app of a provider: "upbot_tim NAME ..." or "upbot_yunxin NAME ..." */
struct ngx_http_upbot_app_s {
    ngx_str_t                       name;        /* "tim:prod", as in rows */
    const ngx_http_upbot_provider_t *provider;
    void                           *conf;        /* the provider's own part */
    ngx_str_t                       location;    /* subrequests go here */
    ngx_str_t                       app_id;      /* sdkappid or AppKey */
    ngx_str_t                       secret;      /* key or AppSecret */
    ngx_str_t                       url_field;   /* custom field with url */
    ngx_msec_t                      timeout;     /* a call's deadline */
    ngx_uint_t                      rate;        /* 1/1000 calls a second */
    ngx_str_t                       rate_text;   /* as written: "200r/s" */
    ngx_msec_t                      rate_wait;   /* for a slot, at most */
    ngx_http_upbot_app_node_t      *shared;      /* in the zone: interval */
    ngx_atomic_t                   *pace;        /* its latest call's slot */
    ngx_http_upbot_app_node_t      *metrics;     /*   and counts, or NULL */
    ngx_str_t                       file;        /* where declared */
    ngx_uint_t                      line;
};


/*
 * A group's tally in the zone (ngx_http_upbot_tally.c): how many answers
 * named it.  Made at load for each group with a limit, never evicted.
 */
typedef struct {
    ngx_str_node_t                  sn;          /* "SOURCE ID URL", crc32 */
    ngx_atomic_t                    views;
    ngx_atomic_t                    scans;       /* long-presses */
    u_char                          data[1];
} ngx_http_upbot_tally_t;


/*
 * What the zone remembers of a visitor for a while (ngx_http_upbot_visitor.c):
 * a key, its kind first, then a value; evicted first when the zone is full.
 */
typedef struct {
    ngx_str_node_t                  sn;          /* the key, crc32 */
    ngx_queue_t                     queue;       /* most recently used first */
    time_t                          expires;
    u_short                         len;         /* of the value */
    u_char                          data[1];     /* the key, the value */
} ngx_http_upbot_visitor_t;

typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
    time_t                          warned;      /* "the zone is full" */
} ngx_http_upbot_visitors_t;

/*
 * Reads and updates a visitor's value in place, with the zone's mutex held
 * (ngx_http_upbot_visitor_update()): "value" is not aligned, "found" is 0
 * for a new entry (its value zeroed); it sets the entry's expiry.
 */
typedef ngx_int_t (*ngx_http_upbot_visitor_update_pt)(u_char *value,
    ngx_uint_t found, time_t *expires, void *data);


/* what a live group has besides (NULL for a static group) */
typedef struct {
    ngx_http_upbot_app_t           *app;
    ngx_str_t                       source;      /* "tim:prod", as written */
    const ngx_http_upbot_provider_t *provider;
    ngx_str_t                       key;         /* "tim:prod ID": cache */
    uint32_t                        key_hash;
    ngx_uint_t                      type;        /* Yunxin's team_type */
} ngx_http_upbot_live_t;


/*
 * The options few rows have (NULL when a row has none of them): a million
 * plain groups take 80 bytes each without them, not 200.
 */
typedef struct {
    ngx_str_t                       background;
    ngx_uint_t                      threshold;   /* 0: provider maximum */
    time_t                          expires;     /* 0: never */
    ngx_uint_t                      opens;       /* "hours=", seconds */
    ngx_uint_t                      closes;      /*   of the day */
    ngx_uint_t                      max_views;   /* 0: no limit */
    ngx_uint_t                      max_scans;
    ngx_http_upbot_tally_t         *tally;       /* with a limit */
    ngx_uint_t                      media_type;  /* 0: not said */
    ngx_http_upbot_facts_t          facts;       /* static: members= */
    unsigned                        hours:1;     /* opens and closes */
} ngx_http_upbot_more_t;


/* one row of the codes table */
struct ngx_http_upbot_group_s {
    ngx_str_t                       id;          /* as written, or place */
    ngx_str_t                       url;         /* configured overrides */
    ngx_str_t                       name;
    ngx_http_upbot_live_t          *live;        /* NULL: static */
    ngx_http_upbot_more_t          *more;        /* NULL: no such option */
    uint32_t                        hash;        /* of id, for spreading */
    uint32_t                        ident;       /* crc32 of its name */
    uint32_t                        line;        /* of its row, and its */
    unsigned                        file:24;     /*   file, while loading */
    unsigned                        down:1;
    unsigned                        fallback:1;  /* when all else fails */
    unsigned                        json_safe:1; /* overrides, likewise */
    unsigned                        placed:1;    /* "-": its place is id */
};


/*
 * A worker's copy of a live pool's facts as its last look-up found them,
 * all fresh: requests until "until" pick from it without the zone.
 */
typedef struct {
    ngx_msec_t                      until;
    ngx_uint_t                      nfacts;      /* groups looked at */
    size_t                          size;        /* of the block it is in */
    ngx_http_upbot_facts_t        **facts;
} ngx_http_upbot_view_t;


typedef struct ngx_http_upbot_code_s  ngx_http_upbot_code_t;
typedef struct ngx_http_upbot_codes_load_s  ngx_http_upbot_codes_load_t;

struct ngx_http_upbot_code_s {
    ngx_str_t                       code;
    ngx_uint_t                      media_type;
    ngx_http_upbot_group_t         *groups;      /* the pool, in order */
    ngx_http_upbot_facts_t        **facts;       /* static pools */
    ngx_uint_t                      ngroups;
    ngx_http_upbot_view_t          *view;        /* live pools, per worker */
    ngx_http_upbot_funnel_t        *funnel;      /* in the zone, per worker */
    time_t                          funnel_retry; /* no room for it: when */
    unsigned                        live:1;      /* a group from a provider */
    unsigned                        sticky_off:1; /* "sticky=off" on a row */
    unsigned                        metrics:1;   /* "metrics" on a row */
};


typedef struct {
    uint64_t                        tag;         /* keyed hash of it */
    ngx_str_t                       label;
} ngx_http_upbot_token_t;


/* a server that serves GetMediaInfo, so makes provider calls */
typedef struct {
    ngx_http_core_srv_conf_t       *server;
    ngx_str_t                       file;        /* its first API location */
    ngx_uint_t                      line;
} ngx_http_upbot_caller_t;


typedef struct {
    ngx_http_upbot_codes_load_t    *load;        /* parsing only */
    ngx_http_upbot_code_t         **codes;       /* open addressing */
    ngx_uint_t                      codes_mask;
    ngx_uint_t                      ncodes;
    ngx_uint_t                      limited;     /* groups: max_views= or */
                                                 /*   max_scans= */
    ngx_uint_t                      max_code_length;
    ngx_array_t                     apps;        /* ngx_http_upbot_app_t */
    ngx_array_t                     callers;     /* ngx_http_upbot_caller_t */
    ngx_shm_zone_t                 *zone;        /* the facts cache */
    ngx_str_t                       state;       /* its file, full path */
    ngx_msec_t                      state_interval;
    ngx_http_upbot_metrics_t       *metrics;     /* in the zone, or NULL */
    ngx_array_t                     flagged;     /* codes with "metrics" */
    ngx_str_t                       shown_file;  /* upbot_metrics or */
    ngx_uint_t                      shown_line;  /*   upbot_status */
    ngx_msec_t                      ttl;
    ngx_msec_t                      stale;
    ngx_msec_t                      lock_timeout;
    ngx_msec_t                      retry;
    ngx_int_t                       time_offset; /* "hours=", seconds */
    time_t                          sticky;      /* upbot_sticky ttl=, 0 */
    time_t                          attribution; /* its window, 0: off */
    ngx_str_t                       attribution_file;
    ngx_uint_t                      attribution_line;
    ngx_str_t                       sticky_file; /* where it was said */
    ngx_uint_t                      sticky_line;
    ngx_uint_t                      limit_rate;  /* 1/1000 r/s, 0: off */
    ngx_uint_t                      limit_burst; /* 1/1000 requests */
    ngx_str_t                       limit_text;  /* "rate=.. burst=.." */
    ngx_str_t                       limit_file;
    ngx_uint_t                      limit_line;
    ngx_queue_t                     waiting;     /* this worker's look-ups */
    ngx_array_t                     syncers;     /* fsync=on event logs */
    ngx_int_t                       request_id_index;
    ngx_str_t                       bodies[NGX_HTTP_UPBOT_NERRORS];
} ngx_http_upbot_main_conf_t;


typedef struct ngx_http_upbot_api_s     ngx_http_upbot_api_t;
typedef struct ngx_http_upbot_lookup_s  ngx_http_upbot_lookup_t;
typedef struct ngx_http_upbot_fetch_s   ngx_http_upbot_fetch_t;


/* "upbot_event_log FILE [fsync=on] [thread_pool=NAME]" */
typedef struct ngx_http_upbot_syncer_s  ngx_http_upbot_syncer_t;

typedef struct {
    ngx_open_file_t                *file;
    ngx_http_upbot_syncer_t        *syncer;      /* NULL: fsync=off */
} ngx_http_upbot_event_log_t;


typedef struct {
    const ngx_http_upbot_api_t     *api;         /* which API, if any */
    ngx_str_t                       api_file;    /* where it was enabled */
    ngx_uint_t                      api_line;
    ngx_array_t                    *tokens;      /* NULL: "off" */
    ngx_http_upbot_event_log_t     *event_log;   /* NULL: "off" */
    ngx_uint_t                      pick;
    ngx_uint_t                      max_items;
    size_t                          max_string_length;
    ngx_uint_t                      max_json_depth;
} ngx_http_upbot_loc_conf_t;


/* per request; also what the $upbot_* variables show */
typedef struct {
    const ngx_http_upbot_api_t     *api;
    void                           *req;         /* the parsed body */
    ngx_str_t                       code;
    ngx_str_t                       trace_id;
    ngx_str_t                       trace_safe;  /* for logs and headers */
    ngx_str_t                       group;
    ngx_str_t                       error;
    ngx_str_t                       token_label;
    ngx_int_t                       ret;         /* -1 until answered */
    ngx_uint_t                      cache_status;
    ngx_int_t                       views;       /* of the group answered */
    ngx_http_upbot_picked_e         picked;
    ngx_http_upbot_lookup_t        *lookup;      /* live pools */
    ngx_http_upbot_fetch_t         *fetch;       /* its provider calls */
    ngx_http_upbot_parser_t         parser;
} ngx_http_upbot_ctx_t;


struct ngx_http_upbot_api_s {
    ngx_str_t                       name;
    ngx_uint_t                      index;       /* in the metrics */
    const ngx_http_upbot_shape_t   *shape;
    size_t                          req_size;
    ngx_uint_t                      needs_event_log;
    /* code and trace id for logs, also from a body that was refused */
    void                          (*identify)(ngx_http_upbot_ctx_t *ctx);
    ngx_int_t                     (*process)(ngx_http_request_t *r,
                                             ngx_http_upbot_ctx_t *ctx);
};


/* what the cache knows of a group */
#define NGX_HTTP_UPBOT_FACTS_NONE       0
#define NGX_HTTP_UPBOT_FACTS_STALE      1
#define NGX_HTTP_UPBOT_FACTS_FRESH      2

typedef struct {
    ngx_http_upbot_facts_t          facts;
    ngx_uint_t                      state;
    ngx_msec_t                      fresh_until; /* state FRESH */
    ngx_msec_t                      lock_until;  /* busy */
    ngx_uint_t                      fail_status;
    unsigned                        claimed:1;   /* the caller fetches it */
    unsigned                        busy:1;      /* another fetches it */
    unsigned                        failed:1;    /* lately, see "retry" */
    unsigned                        expired:1;   /* known, past "stale" */
} ngx_http_upbot_cached_t;


/* a request's provider calls (ngx_http_upbot_fetch.c) */
typedef void (*ngx_http_upbot_fetch_pt)(ngx_http_request_t *r,
    ngx_http_upbot_call_t *call);

struct ngx_http_upbot_fetch_s {
    ngx_http_upbot_call_t          *calls;
    ngx_uint_t                      ncalls;
    ngx_uint_t                      pending;     /* calls not handed back */
    ngx_http_upbot_fetch_pt         handler;     /* a call has ended */
    ngx_uint_t                      background;  /* no client waits */
};


/* a live pool's facts, gathered for one request (ngx_http_upbot_lookup.c) */
typedef void (*ngx_http_upbot_lookup_pt)(ngx_http_request_t *r,
    ngx_int_t rc);

typedef struct {
    ngx_http_upbot_facts_t          facts;       /* of a live group */
    ngx_uint_t                      state;       /* NGX_HTTP_UPBOT_FACTS_* */
    unsigned                        busy:1;      /* another fetches it */
    unsigned                        fetched:1;   /* by this request */
} ngx_http_upbot_seen_t;

struct ngx_http_upbot_lookup_s {
    ngx_http_upbot_code_t          *code;
    ngx_http_upbot_facts_t        **facts;       /* per group, for pick */
    ngx_http_upbot_seen_t          *seen;        /* per group */
    ngx_uint_t                     *fetch;       /* groups to fetch */
    ngx_uint_t                      nfetch;
    ngx_uint_t                      fail_status; /* 502, 503 or 504 */
    ngx_http_upbot_app_t           *paced_app;   /* whose rate said no */
    ngx_uint_t                      first;       /* stop at a usable group */
    ngx_http_upbot_lookup_pt        handler;     /* the facts are at hand */
    ngx_event_t                     wait;        /* for another's call */
    ngx_queue_t                     queue;       /* in umcf->waiting */
    ngx_msec_t                      lock_until;  /* the earliest busy lock */
    ngx_atomic_uint_t               changes;     /* the zone's, when looked */
    unsigned                        called:1;    /* made provider calls */
    unsigned                        expired:1;   /* of facts past "stale" */
    unsigned                        paced:1;     /* no call slot in time */
    unsigned                        waited:1;    /* for another's */
    unsigned                        blocked:1;
    unsigned                        failed:1;
};


/* the answer of GetMediaInfo */
typedef struct {
    ngx_str_t                       url;
    ngx_str_t                       name;
    ngx_str_t                       background;
    unsigned                        json_safe:1; /* no escaping needed */
} ngx_http_upbot_answer_t;


/* module */
void ngx_http_upbot_conf_unplaced(ngx_conf_t *cf, const char *expected,
    const char *fmt, ...);

/* body */
ngx_int_t ngx_http_upbot_handler(ngx_http_request_t *r);

/* auth */
char *ngx_http_upbot_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_pool_t *pool, ngx_str_t *content);
char *ngx_http_upbot_auth_tokens(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upbot_authenticate(ngx_http_request_t *r,
    ngx_http_upbot_loc_conf_t *ulcf, ngx_http_upbot_ctx_t *ctx);

/* codes */
char *ngx_http_upbot_codes_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upbot_codes_init(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf);
ngx_int_t ngx_http_upbot_group_name(ngx_pool_t *pool,
    ngx_http_upbot_group_t *group, ngx_str_t *name);
ngx_http_upbot_code_t *ngx_http_upbot_codes_find(
    ngx_http_upbot_main_conf_t *umcf, ngx_str_t *code);
ngx_http_upbot_facts_t *ngx_http_upbot_static_facts(
    ngx_http_upbot_group_t *group);

/* a group's options of ngx_http_upbot_more_t, all unset when it has none */
extern ngx_http_upbot_more_t        ngx_http_upbot_no_more;

#define ngx_http_upbot_group_more(group)                                      \
    ((group)->more ? (group)->more : &ngx_http_upbot_no_more)

/* conf: the rows of upbot_codes, read as nginx reads its configuration */
char *ngx_http_upbot_conf_block(ngx_conf_t *cf);
char *ngx_http_upbot_conf_include(ngx_conf_t *cf);

/* provider */
char *ngx_http_upbot_app(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_http_upbot_app_t *ngx_http_upbot_app_find(
    ngx_http_upbot_main_conf_t *umcf, ngx_str_t *name);
ngx_int_t ngx_http_upbot_app_locations(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf);
void ngx_http_upbot_facts_from(ngx_http_upbot_facts_t *facts,
    ngx_http_upbot_fetched_t *f);

/*
 * How long before "now" a time in the zone is.  Each worker's
 * ngx_current_msec is updated once an event loop turn, so a time another
 * worker stored may be a little ahead of this worker's now: that is now,
 * not 49 days ago (the facts of a group fetched a moment ago looked
 * expired, and were fetched again in front of the client).
 */
static ngx_inline ngx_msec_t
ngx_http_upbot_since(ngx_msec_t now, ngx_msec_t then)
{
    return (ngx_msec_int_t) (now - then) > 0 ? now - then : 0;
}

/* pace: an app's latest call, in the zone or in the state file's page */
void ngx_http_upbot_pace_attach(ngx_http_upbot_main_conf_t *umcf,
    ngx_log_t *log);
ngx_int_t ngx_http_upbot_pace_take(ngx_atomic_t *pace,
    ngx_atomic_uint_t now, ngx_atomic_uint_t interval,
    ngx_atomic_uint_t wait, ngx_atomic_uint_t *start);

/* cache */
char *ngx_http_upbot_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_upbot_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
void ngx_http_upbot_cache_begin(ngx_http_upbot_main_conf_t *umcf);
void ngx_http_upbot_cache_end(ngx_http_upbot_main_conf_t *umcf);
void ngx_http_upbot_cache_look(ngx_http_upbot_main_conf_t *umcf,
    ngx_pool_t *pool, ngx_http_upbot_group_t *group, ngx_uint_t claim,
    ngx_http_upbot_cached_t *cached);
ngx_atomic_uint_t ngx_http_upbot_cache_changes(
    ngx_http_upbot_main_conf_t *umcf);
void ngx_http_upbot_cache_store(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group, ngx_http_upbot_facts_t *facts);
void *ngx_http_upbot_cache_alloc_locked(ngx_http_upbot_main_conf_t *umcf,
    size_t size);
void ngx_http_upbot_cache_free_locked(ngx_http_upbot_main_conf_t *umcf,
    void *p);
ngx_http_upbot_visitors_t *ngx_http_upbot_cache_visitors(
    ngx_http_upbot_main_conf_t *umcf, ngx_slab_pool_t **shpool);
void ngx_http_upbot_cache_peek(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group, ngx_http_upbot_facts_t *facts,
    ngx_msec_int_t *age);
void ngx_http_upbot_cache_usage(ngx_http_upbot_main_conf_t *umcf,
    size_t *used, size_t *size);
void ngx_http_upbot_cache_release(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group);
void ngx_http_upbot_cache_fail(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group, ngx_uint_t status);

/* where a walk of the cache for the state file is: after this key */
typedef struct {
    uint32_t                        hash;
    ngx_str_t                       key;         /* data: 64 KB */
    ngx_uint_t                      started;
} ngx_http_upbot_cache_cursor_t;

ngx_int_t ngx_http_upbot_cache_export(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_cache_cursor_t *cursor, uint64_t wall, ngx_uint_t max,
    ngx_http_upbot_state_pt handler, void *data);
ngx_int_t ngx_http_upbot_cache_import_locked(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_group_t *group, ngx_http_upbot_facts_t *facts,
    ngx_msec_t age);
ngx_int_t ngx_http_upbot_cache_save_turn(ngx_http_upbot_main_conf_t *umcf,
    ngx_msec_t interval, ngx_msec_t *left);

/* warm: the state file (upbot_zone ... state=) */
void ngx_http_upbot_warm_load(ngx_http_upbot_main_conf_t *umcf,
    ngx_log_t *log);
ngx_int_t ngx_http_upbot_warm_init_process(ngx_cycle_t *cycle);
void ngx_http_upbot_warm_exit_process(ngx_cycle_t *cycle);
void ngx_http_upbot_warm_exit_master(ngx_cycle_t *cycle);

/* visitor */
void ngx_http_upbot_visitors_init(ngx_http_upbot_visitors_t *visitors);
ngx_int_t ngx_http_upbot_visitor_get(ngx_http_upbot_main_conf_t *umcf,
    ngx_str_t *key, void *value, size_t size);
void ngx_http_upbot_visitor_put(ngx_http_upbot_main_conf_t *umcf,
    ngx_str_t *key, void *value, size_t len, time_t expires);
ngx_int_t ngx_http_upbot_visitor_update(ngx_http_upbot_main_conf_t *umcf,
    ngx_str_t *key, size_t len, ngx_http_upbot_visitor_update_pt handler,
    void *data);
ngx_int_t ngx_http_upbot_visitor_evict(ngx_http_upbot_visitors_t *visitors,
    ngx_slab_pool_t *shpool);

/* attribution */
void ngx_http_upbot_attribution_note(ngx_http_request_t *r,
    ngx_str_t *code, ngx_str_t *trace_id, ngx_http_upbot_group_t *group);
void ngx_http_upbot_attribution_find(ngx_http_request_t *r,
    ngx_http_upbot_event_item_t *item, ngx_http_upbot_tally_t **tally);

/* tally */
ngx_int_t ngx_http_upbot_tally_init(ngx_http_upbot_main_conf_t *umcf,
    ngx_rbtree_t *tree);
ngx_uint_t ngx_http_upbot_tally_view(ngx_http_upbot_group_t *group);

/* metrics: counted in the zone */
typedef enum {
    ngx_http_upbot_call_ok = 0,
    ngx_http_upbot_call_refused,      /* the provider's error for all */
    ngx_http_upbot_call_invalid,      /* not understood */
    ngx_http_upbot_call_too_big,
    ngx_http_upbot_call_http,         /* an HTTP status not 200 */
    ngx_http_upbot_call_failed,       /* no answer */
    ngx_http_upbot_call_timeout,      /* given up at timeout= */
    ngx_http_upbot_call_paced         /* not made: no slot of rate= */
} ngx_http_upbot_outcome_e;

/* what a call's answer said of a group */
#define NGX_HTTP_UPBOT_GROUP_OK         0
#define NGX_HTTP_UPBOT_GROUP_GONE       1
#define NGX_HTTP_UPBOT_GROUP_MISSING    2
#define NGX_HTTP_UPBOT_GROUP_ERROR      3    /* the provider's code */

#define NGX_HTTP_UPBOT_STEP_ANSWER      0
#define NGX_HTTP_UPBOT_STEP_EXPOSURE    1
#define NGX_HTTP_UPBOT_STEP_LONG_PRESS  2
#define NGX_HTTP_UPBOT_STEP_JUMP        3

void ngx_http_upbot_metrics_zone(ngx_http_upbot_metrics_t *m);
ngx_int_t ngx_http_upbot_metrics_attach(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_metrics_t *m);
ngx_int_t ngx_http_upbot_metrics_init(ngx_conf_t *cf);
void ngx_http_upbot_metrics_call(ngx_http_upbot_call_t *call,
    ngx_http_upbot_outcome_e outcome);
void ngx_http_upbot_metrics_groups(ngx_http_upbot_app_t *app,
    ngx_uint_t result, ngx_int_t error, ngx_uint_t n);
void ngx_http_upbot_metrics_event_log(ngx_http_request_t *r, size_t bytes,
    ngx_uint_t failed);
void ngx_http_upbot_metrics_events(ngx_http_request_t *r,
    ngx_http_upbot_media_event_req_t *req);
void ngx_http_upbot_funnel_count(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_code_t *code, ngx_http_upbot_group_t *group,
    ngx_uint_t step);
ngx_http_upbot_funnel_t *ngx_http_upbot_funnel_find(
    ngx_http_upbot_main_conf_t *umcf, ngx_str_t *code);
ngx_str_t *ngx_http_upbot_step_name(ngx_uint_t step);
ngx_str_t *ngx_http_upbot_outcome_name(ngx_http_upbot_outcome_e outcome);
ngx_str_t *ngx_http_upbot_event_kind_name(ngx_uint_t kind);
ngx_str_t *ngx_http_upbot_cache_status_name(ngx_uint_t status);
ngx_uint_t ngx_http_upbot_bucket_ms(ngx_uint_t i);

void ngx_http_upbot_groups_now(ngx_http_upbot_main_conf_t *umcf,
    ngx_uint_t *states, ngx_uint_t *expiring);
ngx_str_t *ngx_http_upbot_funnel_group(ngx_http_upbot_code_t *code,
    ngx_http_upbot_funnel_t *f, ngx_uint_t slot);

/* scrape: upbot_metrics */
ngx_int_t ngx_http_upbot_scrape_handler(ngx_http_request_t *r);

/* status: upbot_status */
ngx_int_t ngx_http_upbot_status_handler(ngx_http_request_t *r);

/* out: the answers of upbot_metrics and upbot_status, as they grow */
typedef struct {
    ngx_http_request_t             *r;
    ngx_pool_t                     *pool;
    ngx_chain_t                    *first;
    ngx_chain_t                   **last;
    ngx_buf_t                      *buf;         /* being written */
    size_t                          size;
    ngx_uint_t                      status;      /* 0: 200 */
} ngx_http_upbot_out_t;

ngx_int_t ngx_http_upbot_out_init(ngx_http_request_t *r,
    ngx_http_upbot_out_t *out);
ngx_int_t ngx_http_upbot_out_printf(ngx_http_upbot_out_t *out,
    const char *fmt, ...);
ngx_int_t ngx_http_upbot_out_str(ngx_http_upbot_out_t *out, const char *s);
ngx_int_t ngx_http_upbot_out_bytes(ngx_http_upbot_out_t *out, u_char *s,
    size_t len);
ngx_int_t ngx_http_upbot_out_label(ngx_http_upbot_out_t *out,
    ngx_str_t *value);
ngx_int_t ngx_http_upbot_out_json(ngx_http_upbot_out_t *out,
    ngx_str_t *value);
ngx_int_t ngx_http_upbot_out_html(ngx_http_upbot_out_t *out,
    ngx_str_t *value);
u_char *ngx_http_upbot_label_escape(u_char *p, ngx_str_t *value);
ngx_int_t ngx_http_upbot_out_send(ngx_http_upbot_out_t *out,
    ngx_str_t *type);

/* look-up of a live pool */
ngx_int_t ngx_http_upbot_lookup_view(ngx_http_request_t *r,
    ngx_http_upbot_code_t *code, ngx_uint_t all,
    ngx_http_upbot_facts_t ***facts, ngx_uint_t *n);
ngx_http_upbot_lookup_t *ngx_http_upbot_lookup_create(ngx_http_request_t *r,
    ngx_http_upbot_code_t *code, ngx_uint_t first,
    ngx_http_upbot_lookup_pt handler);
ngx_int_t ngx_http_upbot_lookup(ngx_http_request_t *r,
    ngx_http_upbot_lookup_t *lk);

/* fetch */
ngx_int_t ngx_http_upbot_fetch_init(ngx_conf_t *cf);
uint64_t ngx_http_upbot_call_interval(ngx_uint_t rate);
ngx_int_t ngx_http_upbot_fetch(ngx_http_request_t *r,
    ngx_http_upbot_code_t *code, ngx_uint_t *index, ngx_uint_t n,
    ngx_http_upbot_fetch_pt handler, ngx_uint_t background);

/* pick */
ngx_http_upbot_state_e ngx_http_upbot_group_state(
    ngx_http_upbot_group_t *group, ngx_http_upbot_facts_t *facts, time_t now,
    ngx_int_t offset);
ngx_str_t *ngx_http_upbot_state_name(ngx_http_upbot_state_e state);
ngx_int_t ngx_http_upbot_usable(ngx_http_upbot_group_t *group,
    ngx_http_upbot_facts_t *facts, time_t now, ngx_int_t offset);
ngx_int_t ngx_http_upbot_pick(ngx_http_upbot_group_t *groups,
    ngx_http_upbot_facts_t **facts, ngx_uint_t n, ngx_uint_t mode,
    ngx_str_t *openid, time_t now, ngx_int_t offset,
    ngx_http_upbot_picked_e *picked, ngx_uint_t *views);
ngx_int_t ngx_http_upbot_choose(ngx_http_upbot_group_t *groups,
    ngx_http_upbot_facts_t **facts, ngx_uint_t n, ngx_uint_t mode,
    ngx_str_t *openid, time_t now, ngx_int_t offset,
    ngx_http_upbot_picked_e *picked);
ngx_str_t *ngx_http_upbot_picked_name(ngx_http_upbot_picked_e picked);
void ngx_http_upbot_answer(ngx_http_upbot_group_t *group,
    ngx_http_upbot_facts_t *facts, ngx_http_upbot_answer_t *answer);

/* time */
time_t ngx_http_upbot_parse_time(u_char *p, size_t len, const char **why);
ngx_int_t ngx_http_upbot_parse_offset(u_char *p, size_t len,
    const char **why);
ngx_int_t ngx_http_upbot_parse_rate(u_char *p, size_t len);
ngx_int_t ngx_http_upbot_parse_hours(u_char *p, size_t len,
    ngx_uint_t *opens, ngx_uint_t *closes, const char **why);
ngx_uint_t ngx_http_upbot_within(ngx_uint_t opens, ngx_uint_t closes,
    time_t now, ngx_int_t offset);

/* respond */
ngx_int_t ngx_http_upbot_respond_init(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf);
ngx_int_t ngx_http_upbot_send(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_uint_t ret, ngx_uint_t status,
    ngx_http_upbot_answer_t *answer);
ngx_str_t *ngx_http_upbot_trace_id(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx);
ngx_int_t ngx_http_upbot_fail(ngx_http_request_t *r,
    ngx_http_upbot_ctx_t *ctx, ngx_uint_t ret, ngx_uint_t status,
    const char *fmt, ...);

/* events */
typedef void (*ngx_http_upbot_synced_pt)(ngx_http_request_t *r,
    ngx_int_t rc);

char *ngx_http_upbot_event_log(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upbot_events_store(ngx_http_request_t *r,
    ngx_http_upbot_loc_conf_t *ulcf, ngx_http_upbot_media_event_req_t *req,
    ngx_http_upbot_synced_pt handler);

/* sync: fsync=on */
#if (NGX_THREADS)
ngx_http_upbot_syncer_t *ngx_http_upbot_syncer(ngx_conf_t *cf,
    ngx_open_file_t *file, ngx_str_t *pool);
ngx_int_t ngx_http_upbot_sync_wait(ngx_http_request_t *r,
    ngx_http_upbot_syncer_t *syncer, ngx_http_upbot_synced_pt handler);
#endif


extern ngx_module_t                 ngx_http_upbot_module;
extern const ngx_http_upbot_api_t   ngx_http_upbot_media_info_api;
extern const ngx_http_upbot_api_t   ngx_http_upbot_media_event_api;


#endif /* _NGX_HTTP_UPBOT_H_INCLUDED_ */
