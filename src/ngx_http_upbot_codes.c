
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The codes table: "upbot_codes { CODE SOURCE GROUP [OPTIONS]; ... }".
 * Rows with the same code form its pool, in the order written.  Each row
 * is placed as it is read (ngx_http_upbot_conf.c reads them): its code is
 * found in, or added to, an open-addressing index on the code's exact
 * bytes (codes are case-sensitive), and the row becomes the code's first
 * group or waits, in order, for the end of the http block, where pools of
 * several rows are made whole and every pool is checked.  A lookup is a
 * hash and mostly one compare.
 *
 * Memory: a row keeps what it says and no more (a plain group is 80
 * bytes, the options few rows have are out of line), the strings it keeps
 * once.  1,000,000 codes of one static group with url= and name= take
 * ~240 bytes each with the index.
 */


#include "ngx_http_upbot.h"


#define NGX_HTTP_UPBOT_MEDIA_WECOM_GROUP  2

/* group->file holds the index of the rows' file while loading */
#define NGX_HTTP_UPBOT_FILES_MAX          (1 << 24)

#if (defined __GNUC__)
#define ngx_http_upbot_prefetch(p)        __builtin_prefetch(p)
#else
#define ngx_http_upbot_prefetch(p)
#endif


/* a code's rows after its first, waiting for the pool to be made whole */
typedef struct {
    ngx_http_upbot_code_t          *code;
    ngx_http_upbot_group_t          group;
} ngx_http_upbot_later_t;


/* a code and its first group, side by side: most pools have one group */
typedef struct {
    ngx_http_upbot_code_t           code;
    ngx_http_upbot_group_t          first;
} ngx_http_upbot_pool_t;


struct ngx_http_upbot_codes_load_s {
    ngx_list_t                      codes;       /* ngx_http_upbot_pool_t */
    ngx_list_t                      later;       /* ngx_http_upbot_later_t */
    ngx_array_t                     files;       /* ngx_str_t: the rows' */
    uint32_t                       *keys;        /* the index's hashes */
    ngx_http_upbot_facts_t        **plain;       /* see pool_facts() */
    ngx_uint_t                      nplain;
};


/* a row as it is read */
typedef struct {
    ngx_http_upbot_group_t          group;
    ngx_http_upbot_live_t           live;
    ngx_http_upbot_more_t           more;
    const char                     *capacity;    /* an option that sets */
                                                 /* one: not on fallback */
    unsigned                        has_more:1;
    unsigned                        sticky_off:1;
    unsigned                        metrics:1;
} ngx_http_upbot_row_t;


static char *ngx_http_upbot_codes_row(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static char *ngx_http_upbot_codes_code(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf, ngx_str_t *code);
static char *ngx_http_upbot_codes_group(ngx_conf_t *cf,
    ngx_http_upbot_row_t *row, ngx_str_t *source, ngx_str_t *id);
static char *ngx_http_upbot_codes_option(ngx_conf_t *cf,
    ngx_http_upbot_row_t *row, ngx_str_t *option, ngx_uint_t word);
static char *ngx_http_upbot_codes_expires(ngx_conf_t *cf,
    ngx_http_upbot_row_t *row, ngx_str_t *option, ngx_str_t *value);
static char *ngx_http_upbot_codes_place(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf, ngx_str_t *name, uint32_t key,
    ngx_http_upbot_row_t *row);
static ngx_http_upbot_code_t *ngx_http_upbot_codes_get(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf, ngx_str_t *name, uint32_t key);
static ngx_int_t ngx_http_upbot_codes_grow(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf);
static void ngx_http_upbot_keep(u_char **p, ngx_str_t *s);
static uint32_t ngx_http_upbot_group_ident(ngx_http_upbot_group_t *group);
static ngx_int_t ngx_http_upbot_make_pool(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_code_t *code);
static ngx_int_t ngx_http_upbot_pool_facts(ngx_conf_t *cf,
    ngx_http_upbot_codes_load_t *load, ngx_http_upbot_code_t *code);
static ngx_int_t ngx_http_upbot_resolve(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_code_t *code,
    ngx_http_upbot_group_t *group);
static int ngx_libc_cdecl ngx_http_upbot_group_cmp(const void *one,
    const void *two);
static ngx_str_t *ngx_http_upbot_group_source(ngx_http_upbot_group_t *group);


/*
 * The options of a group that has none of them, and so the facts of a
 * static group whose row says nothing of its members: known, none.  Only
 * ever read.
 */

ngx_http_upbot_more_t  ngx_http_upbot_no_more = {
    ngx_null_string, 0, 0, 0, 0, 0, 0, NULL, 0,
    { ngx_null_string, ngx_null_string, ngx_null_string, 0, 0, 1, 0, 1 },
    0
};


char *
ngx_http_upbot_codes_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    char                         *rv;
    ngx_conf_t                    save;
    ngx_http_upbot_codes_load_t  *load;

    /* lists grow in parts: no copying however many rows come */

    if (umcf->load == NULL) {
        load = ngx_pcalloc(cf->temp_pool, sizeof(ngx_http_upbot_codes_load_t));
        if (load == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_list_init(&load->codes, cf->pool, 1024,
                          sizeof(ngx_http_upbot_pool_t))
            != NGX_OK
            || ngx_list_init(&load->later, cf->temp_pool, 256,
                             sizeof(ngx_http_upbot_later_t))
               != NGX_OK
            || ngx_array_init(&load->files, cf->temp_pool, 4,
                              sizeof(ngx_str_t))
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        umcf->load = load;
    }

    save = *cf;
    cf->handler = ngx_http_upbot_codes_row;
    cf->handler_conf = conf;

    rv = ngx_http_upbot_conf_block(cf);

    *cf = save;

    return rv;
}


/* CODE SOURCE GROUP [OPTIONS] */

static char *
ngx_http_upbot_codes_row(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    char                  *rv;
    uint32_t               key;
    ngx_str_t             *value;
    ngx_uint_t             i;
    ngx_http_upbot_row_t   row;

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[0].data, "include") == 0) {
        return ngx_http_upbot_conf_include(cf);
    }

    if (cf->args->nelts < 3) {
        return "invalid codes table row, expected \"CODE SOURCE GROUP "
               "[OPTIONS]\"";
    }

    rv = ngx_http_upbot_codes_code(cf, umcf, &value[0]);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * The code's slot of the index, fetched while the rest of the row is
     * read: a look there is a cache and TLB miss most times, which took a
     * tenth of nginx -t with 1,000,000 codes.
     */

    key = ngx_murmur_hash2(value[0].data, value[0].len);

    if (umcf->codes) {
        ngx_http_upbot_prefetch(&umcf->codes[key & umcf->codes_mask]);
        ngx_http_upbot_prefetch(&umcf->load->keys[key & umcf->codes_mask]);
    }

    ngx_memzero(&row, sizeof(ngx_http_upbot_row_t));

    rv = ngx_http_upbot_codes_group(cf, &row, &value[1], &value[2]);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    for (i = 3; i < cf->args->nelts; i++) {
        rv = ngx_http_upbot_codes_option(cf, &row, &value[i], i + 1);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    /*
     * A fallback group is answered whatever its members, so an option of
     * capacity on it is a mistake; every such option sets row.capacity.
     */

    if (row.group.fallback && row.capacity) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" does not apply to a fallback group, "
                           "which is answered whatever its members",
                           row.capacity);
        return NGX_CONF_ERROR;
    }

    if (row.group.live && row.more.facts.known) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"members=\" and \"max_members=\" are for "
                           "static groups; the provider says them for "
                           "a %V group", &row.live.source);
        return NGX_CONF_ERROR;
    }

    if (row.group.live == NULL && row.group.url.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a static group needs \"url=\"");
        return NGX_CONF_ERROR;
    }

    return ngx_http_upbot_codes_place(cf, umcf, &value[0], key, &row);
}


/* a code: short enough, no spaces or control characters */

static char *
ngx_http_upbot_codes_code(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf,
    ngx_str_t *code)
{
    u_char      *p;
    ngx_uint_t   max;

    max = umcf->max_code_length;
    if (max == NGX_CONF_UNSET_UINT) {
        max = 64;
    }

    if (code->len > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the code is longer than %ui bytes "
                           "(upbot_max_code_length)", max);
        return NGX_CONF_ERROR;
    }

    for (p = code->data; p < code->data + code->len; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the code has a space or control character");
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * SOURCE GROUP: "static" and any id, or "PROVIDER:APP" and the group as
 * the provider reads it (a Yunxin team is TEAM_ID/TEAM_TYPE).
 */

static char *
ngx_http_upbot_codes_group(ngx_conf_t *cf, ngx_http_upbot_row_t *row,
    ngx_str_t *source, ngx_str_t *id)
{
    u_char     *p, *colon, *last;
    u_char      sources[256];
    char       *rv;
    ngx_str_t   name;

    row->group.id = *id;

    if (source->len == 6 && ngx_memcmp(source->data, "static", 6) == 0) {
        return NGX_CONF_OK;
    }

    colon = ngx_strlchr(source->data, source->data + source->len, ':');

    if (colon && colon + 1 < source->data + source->len) {
        name.data = source->data;
        name.len = colon - source->data;

        row->live.provider = ngx_http_upbot_provider_find(&name);
    }

    if (row->live.provider == NULL) {
        last = ngx_cpymem(sources, "\"static\"", 8);
        last = ngx_http_upbot_provider_sources(last,
                                               sources + sizeof(sources) - 1);
        *last = '\0';

        ngx_http_upbot_conf_unplaced(cf, (char *) sources,
                                     "unknown group source, word 2 of the "
                                     "codes row");
        return NGX_CONF_ERROR;
    }

    row->live.source = *source;
    row->group.live = &row->live;

    if (row->live.provider->group_id) {
        rv = row->live.provider->group_id(cf, id, &row->group);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (row->group.id.len == 1 && row->group.id.data[0] == '-') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a %V group needs its id", source);
        return NGX_CONF_ERROR;
    }

    for (p = row->group.id.data;
         p < row->group.id.data + row->group.id.len;
         p++)
    {
        if (*p < ' ' || *p == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the group id has a control character");
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_upbot_codes_option(ngx_conf_t *cf, ngx_http_upbot_row_t *row,
    ngx_str_t *option, ngx_uint_t word)
{
    u_char      *eq;
    ngx_int_t    n;
    ngx_str_t    name, value;
    ngx_uint_t  *number;
    const char  *why;

    if (option->len == 4 && ngx_memcmp(option->data, "down", 4) == 0) {
        row->group.down = 1;
        return NGX_CONF_OK;
    }

    if (option->len == 10 && ngx_memcmp(option->data, "sticky=off", 10) == 0)
    {
        row->sticky_off = 1;
        return NGX_CONF_OK;
    }

    if (option->len == 8 && ngx_memcmp(option->data, "fallback", 8) == 0) {
        row->group.fallback = 1;
        return NGX_CONF_OK;
    }

    if (option->len == 7 && ngx_memcmp(option->data, "metrics", 7) == 0) {
        row->metrics = 1;
        return NGX_CONF_OK;
    }

    eq = ngx_strlchr(option->data, option->data + option->len, '=');
    if (eq == NULL) {
        goto invalid;
    }

    name.data = option->data;
    name.len = eq - option->data;
    value.data = eq + 1;
    value.len = option->data + option->len - value.data;

    if (name.len == 3 && ngx_memcmp(name.data, "url", 3) == 0) {
        row->group.url = value;
        return NGX_CONF_OK;
    }

    if (name.len == 4 && ngx_memcmp(name.data, "name", 4) == 0) {
        row->group.name = value;
        return NGX_CONF_OK;
    }

    /* the rest are options few rows have */

    row->has_more = 1;

    if (name.len == 10 && ngx_memcmp(name.data, "background", 10) == 0) {
        row->more.background = value;
        return NGX_CONF_OK;
    }

    if (name.len == 7 && ngx_memcmp(name.data, "expires", 7) == 0) {
        return ngx_http_upbot_codes_expires(cf, row, option, &value);
    }

    if (name.len == 5 && ngx_memcmp(name.data, "hours", 5) == 0) {
        if (ngx_http_upbot_parse_hours(value.data, value.len,
                                       &row->more.opens, &row->more.closes,
                                       &why)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value in \"%V\": %s", option, why);
            return NGX_CONF_ERROR;
        }

        row->more.hours = 1;
        return NGX_CONF_OK;
    }

    if (name.len == 9 && ngx_memcmp(name.data, "threshold", 9) == 0) {
        number = &row->more.threshold;
        row->capacity = "threshold=";

    } else if (name.len == 7 && ngx_memcmp(name.data, "members", 7) == 0) {
        number = &row->more.facts.members;
        row->more.facts.known = 1;
        row->capacity = "members=";

    } else if (name.len == 11
               && ngx_memcmp(name.data, "max_members", 11) == 0)
    {
        number = &row->more.facts.max_members;
        row->more.facts.known = 1;
        row->capacity = "max_members=";

    } else if (name.len == 9 && ngx_memcmp(name.data, "max_views", 9) == 0) {
        number = &row->more.max_views;
        row->capacity = "max_views=";

    } else if (name.len == 9 && ngx_memcmp(name.data, "max_scans", 9) == 0) {
        number = &row->more.max_scans;
        row->capacity = "max_scans=";

    } else if (name.len == 10
               && ngx_memcmp(name.data, "media_type", 10) == 0)
    {
        number = &row->more.media_type;

    } else {
        goto invalid;
    }

    n = ngx_atoi(value.data, value.len);

    if (n == NGX_ERROR || (n == 0 && number != &row->more.facts.members)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value in \"%V\"", option);
        return NGX_CONF_ERROR;
    }

    *number = n;

    return NGX_CONF_OK;

invalid:

    ngx_http_upbot_conf_unplaced(cf, "url=, name=, background=, threshold=, "
                                 "members=, max_members=, max_views=, "
                                 "max_scans=, "
                                 "media_type=, expires=, hours=, "
                                 "sticky=off, metrics, down or fallback",
                                 "invalid parameter, word %ui of the codes "
                                 "row", word);
    return NGX_CONF_ERROR;
}


/*
 * "expires=TIME": a row that has expired already is loaded, and warned
 * of, rather than refused: a reload must not fail because a campaign
 * ended.
 */

static char *
ngx_http_upbot_codes_expires(ngx_conf_t *cf, ngx_http_upbot_row_t *row,
    ngx_str_t *option, ngx_str_t *value)
{
    time_t       t;
    const char  *why;

    t = ngx_http_upbot_parse_time(value->data, value->len, &why);

    if (t == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value in \"%V\": %s", option, why);
        return NGX_CONF_ERROR;
    }

    if (t <= ngx_time()) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the group has expired: \"%V\" (unix time %T) "
                           "has passed, it is never answered", option, t);
    }

    row->more.expires = t;

    return NGX_CONF_OK;
}


/*
 * The row into its code's pool: the code's first group, or a later one
 * that waits for the pool to be made whole.  The row's words last only
 * until it is read: what it keeps is copied, once.
 */

static char *
ngx_http_upbot_codes_place(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf,
    ngx_str_t *name, uint32_t key, ngx_http_upbot_row_t *row)
{
    u_char                       *p;
    size_t                        len;
    ngx_str_t                    *file;
    ngx_http_upbot_code_t        *code;
    ngx_http_upbot_group_t       *group;
    ngx_http_upbot_later_t       *later;
    ngx_http_upbot_codes_load_t  *load;

    load = umcf->load;

    code = ngx_http_upbot_codes_get(cf, umcf, name, key);
    if (code == NULL) {
        return NGX_CONF_ERROR;
    }

    if (code->ngroups == 0) {
        group = code->groups;

    } else {
        later = ngx_list_push(&load->later);
        if (later == NULL) {
            return NGX_CONF_ERROR;
        }

        later->code = code;
        group = &later->group;
    }

    *group = row->group;

    if (row->group.live) {
        group->live = ngx_palloc(cf->pool, sizeof(ngx_http_upbot_live_t));
        if (group->live == NULL) {
            return NGX_CONF_ERROR;
        }

        *group->live = row->live;
    }

    if (row->has_more) {
        group->more = ngx_palloc(cf->pool, sizeof(ngx_http_upbot_more_t));
        if (group->more == NULL) {
            return NGX_CONF_ERROR;
        }

        *group->more = row->more;

        if (group->live == NULL) {
            group->more->facts.known = 1;
        }

        group->more->facts.json_safe = 1;   /* static facts carry no strings */
    }

    /*
     * What the row keeps, in one piece (one allocation, not five: ~200
     * instructions a row less).  A group without an id ("-") is named by
     * its place in the pool.
     */

    code->ngroups++;
    code->sticky_off |= row->sticky_off;
    code->metrics |= row->metrics;

    if (group->id.len == 1 && group->id.data[0] == '-') {
        group->id.len = NGX_INT_T_LEN;
        group->placed = 1;
    }

    len = group->id.len + group->url.len + group->name.len;

    if (code->ngroups == 1) {
        len += code->code.len;
    }

    if (group->live) {
        len += group->live->source.len;
    }

    if (group->more) {
        len += group->more->background.len;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    if (code->ngroups == 1) {
        ngx_http_upbot_keep(&p, &code->code);
    }

    if (group->placed) {
        group->id.data = p;
        group->id.len = ngx_sprintf(p, "%ui", code->ngroups) - p;
        p += group->id.len;

    } else {
        ngx_http_upbot_keep(&p, &group->id);
    }

    ngx_http_upbot_keep(&p, &group->url);
    ngx_http_upbot_keep(&p, &group->name);

    if (group->live) {
        ngx_http_upbot_keep(&p, &group->live->source);
    }

    if (group->more) {
        ngx_http_upbot_keep(&p, &group->more->background);
    }

    group->hash = ngx_murmur_hash2(group->id.data, group->id.len);
    group->ident = ngx_http_upbot_group_ident(group);

    /* whether answers can copy these strings as they are, once */

    group->json_safe =
        ngx_http_upbot_json_safe(group->url.data, group->url.len)
        && ngx_http_upbot_json_safe(group->name.data, group->name.len)
        && ngx_http_upbot_json_safe(row->more.background.data,
                                    row->more.background.len);

    /* where the row is, for what only the whole pool can tell */

    file = load->files.nelts ? (ngx_str_t *) load->files.elts
                               + load->files.nelts - 1
                             : NULL;

    if (file == NULL || file->data != cf->conf_file->file.name.data) {

        if (load->files.nelts == NGX_HTTP_UPBOT_FILES_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "codes rows in too many files");
            return NGX_CONF_ERROR;
        }

        file = ngx_array_push(&load->files);
        if (file == NULL) {
            return NGX_CONF_ERROR;
        }

        *file = cf->conf_file->file.name;
    }

    group->file = load->files.nelts - 1;
    group->line = cf->conf_file->line;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "upbot: code \"%V\": group \"%V\", %ui in its pool",
                   &code->code, &group->id, code->ngroups);

    return NGX_CONF_OK;
}


/*
 * The code of a row, found in the index or added to it (with no group
 * yet).  The index is at most half full, so a probe is short.  While
 * loading, each slot's hash is kept beside it (load->keys): a probe then
 * looks at a code only when the hashes match, and the index grows
 * without looking at any.  With 1,000,000 codes that took a third of
 * nginx -t's time off (each look at a code is a cache and TLB miss).
 */

static ngx_http_upbot_code_t *
ngx_http_upbot_codes_get(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf,
    ngx_str_t *name, uint32_t key)
{
    ngx_uint_t                    slot;
    ngx_http_upbot_pool_t        *pool;
    ngx_http_upbot_code_t        *code;
    ngx_http_upbot_codes_load_t  *load;

    load = umcf->load;

    if (2 * (umcf->ncodes + 1) > umcf->codes_mask + 1
        && ngx_http_upbot_codes_grow(cf, umcf) != NGX_OK)
    {
        return NULL;
    }

    for (slot = key & umcf->codes_mask;
         (code = umcf->codes[slot]) != NULL;
         slot = (slot + 1) & umcf->codes_mask)
    {
        if (load->keys[slot] == key
            && code->code.len == name->len
            && ngx_memcmp(code->code.data, name->data, name->len) == 0)
        {
            return code;
        }
    }

    pool = ngx_list_push(&load->codes);
    if (pool == NULL) {
        return NULL;
    }

    code = &pool->code;

    ngx_memzero(code, sizeof(ngx_http_upbot_code_t));

    code->code = *name;     /* kept with the row's strings */
    code->media_type = NGX_HTTP_UPBOT_MEDIA_WECOM_GROUP;
    code->groups = &pool->first;

    umcf->codes[slot] = code;
    load->keys[slot] = key;
    umcf->ncodes++;

    return code;
}


/* the index twice as large, the codes moved, the old one given back */

static ngx_int_t
ngx_http_upbot_codes_grow(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf)
{
    uint32_t                     *keys;
    ngx_uint_t                    i, size, slot, mask;
    ngx_http_upbot_code_t       **table;
    ngx_http_upbot_codes_load_t  *load;

    load = umcf->load;

    size = umcf->codes ? 2 * (umcf->codes_mask + 1) : 16;
    mask = size - 1;

    table = ngx_pcalloc(cf->pool, size * sizeof(ngx_http_upbot_code_t *));
    keys = ngx_palloc(cf->temp_pool, size * sizeof(uint32_t));

    if (table == NULL || keys == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; umcf->codes && i <= umcf->codes_mask; i++) {

        if (umcf->codes[i] == NULL) {
            continue;
        }

        for (slot = load->keys[i] & mask;
             table[slot];
             slot = (slot + 1) & mask)
        {
            /* void */
        }

        table[slot] = umcf->codes[i];
        keys[slot] = load->keys[i];
    }

    if (umcf->codes) {
        ngx_pfree(cf->pool, umcf->codes);
        ngx_pfree(cf->temp_pool, load->keys);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "upbot: codes index of %ui slots", size);

    umcf->codes = table;
    umcf->codes_mask = mask;
    load->keys = keys;

    return NGX_OK;
}


/* a word of the row, kept at *p */

static void
ngx_http_upbot_keep(u_char **p, ngx_str_t *s)
{
    if (s->len) {
        ngx_memcpy(*p, s->data, s->len);
        s->data = *p;
        *p += s->len;
    }
}


/*
 * At the end of the http block: pools of several rows made whole, in the
 * order of their rows, and each pool checked as only the whole pool can
 * be.
 */

ngx_int_t
ngx_http_upbot_codes_init(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf)
{
    ngx_uint_t                    i;
    ngx_list_part_t              *part;
    ngx_http_upbot_pool_t        *pools;
    ngx_http_upbot_code_t        *code;
    ngx_http_upbot_group_t       *groups;
    ngx_http_upbot_later_t       *later;
    ngx_http_upbot_codes_load_t  *load;

    load = umcf->load;

    if (load == NULL) {
        return NGX_OK;
    }

    if (load->later.part.nelts) {

        for (part = &load->codes.part; part; part = part->next) {
            pools = part->elts;

            for (i = 0; i < part->nelts; i++) {
                code = &pools[i].code;

                if (code->ngroups == 1) {
                    continue;
                }

                groups = ngx_palloc(cf->pool, code->ngroups
                                              * sizeof(ngx_http_upbot_group_t));
                if (groups == NULL) {
                    return NGX_ERROR;
                }

                groups[0] = code->groups[0];
                code->groups = groups;
                code->ngroups = 1;
            }
        }

        for (part = &load->later.part; part; part = part->next) {
            later = part->elts;

            for (i = 0; i < part->nelts; i++) {
                code = later[i].code;
                code->groups[code->ngroups++] = later[i].group;
            }
        }
    }

    for (part = &load->codes.part; part; part = part->next) {
        pools = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_upbot_make_pool(cf, umcf, &pools[i].code) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0, "upbot: %ui codes",
                   umcf->ncodes);

    umcf->load = NULL;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_make_pool(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_code_t *code)
{
    ngx_str_t                    *files;
    ngx_uint_t                    i, n, first, second;
    ngx_http_upbot_more_t        *more;
    ngx_http_upbot_group_t       *group, *media, *fallback, **ids;
    ngx_http_upbot_code_t       **flagged;
    ngx_http_upbot_codes_load_t  *load;

    load = umcf->load;
    files = load->files.elts;

    media = NULL;
    fallback = NULL;

    for (i = 0; i < code->ngroups; i++) {
        group = &code->groups[i];
        more = group->more;

        /* rows of a code may be far apart: only the pool sees them all */

        if (group->fallback) {
            if (fallback) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "two fallback groups in the pool of code "
                              "\"%V\", in %V:%ui and %V:%ui", &code->code,
                              &files[group->file], (ngx_uint_t) group->line,
                              &files[fallback->file],
                              (ngx_uint_t) fallback->line);
                return NGX_ERROR;
            }

            fallback = group;
        }

        if (group->live) {
            if (ngx_http_upbot_resolve(cf, umcf, code, group) != NGX_OK) {
                return NGX_ERROR;
            }

            code->live = 1;
        }

        if (more == NULL) {
            continue;
        }

        if (more->max_views || more->max_scans) {
            umcf->limited++;
        }

        if ((more->max_views || more->max_scans) && umcf->zone == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" needs \"upbot_zone\" for its "
                          "counts, in %V:%ui",
                          more->max_views ? "max_views=" : "max_scans=",
                          &files[group->file], (ngx_uint_t) group->line);
            return NGX_ERROR;
        }

        if (more->max_scans && umcf->attribution == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"max_scans=\" counts long-presses tied to the "
                          "group shown: it needs \"upbot_attribution\", "
                          "in %V:%ui", &files[group->file],
                          (ngx_uint_t) group->line);
            return NGX_ERROR;
        }

        if (more->media_type) {
            if (media && media->more->media_type != more->media_type) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "media_type=%ui of code \"%V\" differs from "
                              "media_type=%ui in %V:%ui, in %V:%ui",
                              more->media_type, &code->code,
                              media->more->media_type, &files[media->file],
                              (ngx_uint_t) media->line, &files[group->file],
                              (ngx_uint_t) group->line);
                return NGX_ERROR;
            }

            media = group;
            code->media_type = more->media_type;
        }
    }

    n = code->ngroups;

    if (n > 1) {
        ids = ngx_palloc(cf->temp_pool, n * sizeof(ngx_http_upbot_group_t *));
        if (ids == NULL) {
            return NGX_ERROR;
        }

        /* a group named by its place is never another's twin */

        for (i = 0, n = 0; i < code->ngroups; i++) {
            if (!code->groups[i].placed) {
                ids[n++] = &code->groups[i];
            }
        }

        ngx_qsort(ids, n, sizeof(ngx_http_upbot_group_t *),
                  ngx_http_upbot_group_cmp);

        for (i = 1; i < n; i++) {
            if (ngx_http_upbot_group_cmp(&ids[i - 1], &ids[i]) != 0) {
                continue;
            }

            /* name the later row first: that is the one to remove */

            first = ngx_min(ids[i - 1], ids[i]) - code->groups;
            second = ngx_max(ids[i - 1], ids[i]) - code->groups;

            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "group \"%V\" appears twice in the pool of "
                          "code \"%V\", in %V:%ui and %V:%ui",
                          &ids[i]->id, &code->code,
                          &files[code->groups[second].file],
                          (ngx_uint_t) code->groups[second].line,
                          &files[code->groups[first].file],
                          (ngx_uint_t) code->groups[first].line);
            return NGX_ERROR;
        }
    }

    if (!code->live && ngx_http_upbot_pool_facts(cf, load, code) != NGX_OK) {
        return NGX_ERROR;
    }

    if (code->metrics) {
        flagged = ngx_array_push(&umcf->flagged);
        if (flagged == NULL) {
            return NGX_ERROR;
        }

        *flagged = code;
    }

    return NGX_OK;
}


/*
 * A static pool's facts, one per group, as the pick takes them.  Pools of
 * groups whose rows say nothing of their members share one array: with
 * 1,000,000 codes that is 8 MB less.
 */

static ngx_int_t
ngx_http_upbot_pool_facts(ngx_conf_t *cf, ngx_http_upbot_codes_load_t *load,
    ngx_http_upbot_code_t *code)
{
    ngx_uint_t                i, n, plain;
    ngx_http_upbot_facts_t  **facts;

    n = code->ngroups;
    plain = 1;

    for (i = 0; i < n; i++) {
        if (code->groups[i].more) {
            plain = 0;
        }
    }

    if (plain && n <= load->nplain) {
        code->facts = load->plain;
        return NGX_OK;
    }

    facts = ngx_palloc(cf->pool, n * sizeof(ngx_http_upbot_facts_t *));
    if (facts == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        facts[i] = ngx_http_upbot_static_facts(&code->groups[i]);
    }

    code->facts = facts;

    if (plain) {
        load->plain = facts;
        load->nplain = n;
    }

    return NGX_OK;
}


ngx_http_upbot_code_t *
ngx_http_upbot_codes_find(ngx_http_upbot_main_conf_t *umcf, ngx_str_t *code)
{
    ngx_uint_t              slot;
    ngx_http_upbot_code_t  *c;

    if (umcf->ncodes == 0) {
        return NULL;
    }

    for (slot = ngx_murmur_hash2(code->data, code->len) & umcf->codes_mask;
         (c = umcf->codes[slot]) != NULL;
         slot = (slot + 1) & umcf->codes_mask)
    {
        if (c->code.len == code->len
            && ngx_memcmp(c->code.data, code->data, code->len) == 0)
        {
            return c;
        }
    }

    return NULL;
}


/* the facts of a static group: as its row says them */

ngx_http_upbot_facts_t *
ngx_http_upbot_static_facts(ngx_http_upbot_group_t *group)
{
    return &ngx_http_upbot_group_more(group)->facts;
}


/* twins in a pool: the same source and id */

static int ngx_libc_cdecl
ngx_http_upbot_group_cmp(const void *one, const void *two)
{
    ngx_http_upbot_app_t          *app_a, *app_b;
    const ngx_http_upbot_group_t  *a, *b;

    a = *(ngx_http_upbot_group_t **) one;
    b = *(ngx_http_upbot_group_t **) two;

    app_a = a->live ? a->live->app : NULL;
    app_b = b->live ? b->live->app : NULL;

    if (app_a != app_b) {
        return (uintptr_t) app_a < (uintptr_t) app_b ? -1 : 1;
    }

    if (a->id.len != b->id.len) {
        return a->id.len < b->id.len ? -1 : 1;
    }

    return ngx_memcmp(a->id.data, b->id.data, a->id.len);
}


/* a live group's app, and its key in the facts cache: "tim:prod ID" */

static ngx_int_t
ngx_http_upbot_resolve(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_code_t *code, ngx_http_upbot_group_t *group)
{
    u_char                 *p;
    ngx_str_t              *files;
    ngx_http_upbot_app_t   *app;
    ngx_http_upbot_live_t  *live = group->live;

    files = umcf->load->files.elts;

    app = ngx_http_upbot_app_find(umcf, &live->source);

    if (app == NULL || app->provider != live->provider) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "unknown app \"%V\" of code \"%V\", declare it "
                      "with \"upbot_%V\", in %V:%ui", &live->source,
                      &code->code, &live->provider->name,
                      &files[group->file], (ngx_uint_t) group->line);
        return NGX_ERROR;
    }

    if (umcf->zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "live groups need \"upbot_zone\" for their facts, "
                      "in %V:%ui", &files[group->file],
                      (ngx_uint_t) group->line);
        return NGX_ERROR;
    }

    live->app = app;

    live->key.len = app->name.len + 1 + group->id.len;
    live->key.data = ngx_pnalloc(cf->pool, live->key.len);
    if (live->key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(live->key.data, app->name.data, app->name.len);
    *p++ = ' ';
    ngx_memcpy(p, group->id.data, group->id.len);

    live->key_hash = ngx_crc32_long(live->key.data, live->key.len);

    return NGX_OK;
}


/*
 * What names a group across reloads, "SOURCE ID URL", with the url as
 * configured (a live group's may be none): a new QR code is a new group.
 * Its crc32 is the group's ident, which the funnels and the tallies in
 * the zone go by.
 */

ngx_int_t
ngx_http_upbot_group_name(ngx_pool_t *pool, ngx_http_upbot_group_t *group,
    ngx_str_t *key)
{
    u_char     *p;
    ngx_str_t  *source;

    source = ngx_http_upbot_group_source(group);

    key->len = source->len + 1 + group->id.len + 1 + group->url.len;

    key->data = ngx_pnalloc(pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key->data, source->data, source->len);
    *p++ = ' ';
    p = ngx_cpymem(p, group->id.data, group->id.len);
    *p++ = ' ';

    if (group->url.len) {
        ngx_memcpy(p, group->url.data, group->url.len);
    }

    return NGX_OK;
}


/* the crc32 of the group's name, made without making the name */

static uint32_t
ngx_http_upbot_group_ident(ngx_http_upbot_group_t *group)
{
    uint32_t    crc;
    ngx_str_t  *source;

    source = ngx_http_upbot_group_source(group);

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, source->data, source->len);
    ngx_crc32_update(&crc, (u_char *) " ", 1);
    ngx_crc32_update(&crc, group->id.data, group->id.len);
    ngx_crc32_update(&crc, (u_char *) " ", 1);
    ngx_crc32_update(&crc, group->url.data, group->url.len);
    ngx_crc32_final(crc);

    return crc;
}


static ngx_str_t *
ngx_http_upbot_group_source(ngx_http_upbot_group_t *group)
{
    static ngx_str_t  source = ngx_string("static");

    return group->live ? &group->live->source : &source;
}
