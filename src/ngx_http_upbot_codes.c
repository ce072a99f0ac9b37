
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The codes table: "upbot_codes { CODE SOURCE GROUP [OPTIONS]; ... }".
 * Rows with the same code form its pool, in the order written.  At the end
 * of the http block the rows are sorted, grouped into pools and indexed in
 * an open-addressing table on the code's exact bytes (codes are
 * case-sensitive), so a lookup is a hash and mostly one compare, and
 * 100,000 codes load in a blink.
 */


#include "ngx_http_upbot.h"


typedef struct {
    ngx_str_t                       code;
    uint32_t                        key;         /* murmur2 of the code */
    ngx_uint_t                      media_type;
    ngx_uint_t                      index;       /* order in the config */
    ngx_str_t                       file;
    ngx_uint_t                      line;
    unsigned                        media_type_set:1;
    unsigned                        sticky_off:1;
    unsigned                        metrics:1;
    const char                     *capacity;    /* an option that sets */
                                                 /* one: not on fallback */
    ngx_str_t                       source;      /* "tim:prod" */
    const ngx_http_upbot_provider_t *provider;   /* NULL: static */
    ngx_http_upbot_group_t          group;
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
static int ngx_libc_cdecl ngx_http_upbot_row_cmp(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_upbot_group_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_upbot_make_pool(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_row_t **rows,
    ngx_uint_t n, ngx_http_upbot_code_t *code);
static ngx_int_t ngx_http_upbot_resolve(ngx_conf_t *cf,
    ngx_http_upbot_main_conf_t *umcf, ngx_http_upbot_row_t *row,
    ngx_http_upbot_group_t *group);


#define NGX_HTTP_UPBOT_MEDIA_WECOM_GROUP  2


char *
ngx_http_upbot_codes_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    char        *rv;
    ngx_conf_t   save;

    /* a list grows in parts: no copying however many rows come */

    if (umcf->rows == NULL) {
        umcf->rows = ngx_list_create(cf->temp_pool, 1024,
                                     sizeof(ngx_http_upbot_row_t));
        if (umcf->rows == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    save = *cf;
    cf->handler = ngx_http_upbot_codes_row;
    cf->handler_conf = conf;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    return rv;
}


/* CODE SOURCE GROUP [OPTIONS] */

static char *
ngx_http_upbot_codes_row(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_upbot_main_conf_t *umcf = conf;

    char                  *rv;
    ngx_str_t             *value;
    ngx_uint_t             i;
    ngx_http_upbot_row_t  *row;

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[0].data, "include") == 0) {
        return ngx_conf_include(cf, dummy, conf);
    }

    if (cf->args->nelts < 3) {
        return "invalid codes table row, expected \"CODE SOURCE GROUP "
               "[OPTIONS]\"";
    }

    rv = ngx_http_upbot_codes_code(cf, umcf, &value[0]);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    row = ngx_list_push(umcf->rows);
    if (row == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(row, sizeof(ngx_http_upbot_row_t));

    row->code = value[0];
    row->key = ngx_murmur_hash2(value[0].data, value[0].len);
    row->media_type = NGX_HTTP_UPBOT_MEDIA_WECOM_GROUP;
    row->index = umcf->nrows++;
    row->file = cf->conf_file->file.name;
    row->line = cf->conf_file->line;

    rv = ngx_http_upbot_codes_group(cf, row, &value[1], &value[2]);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    for (i = 3; i < cf->args->nelts; i++) {
        rv = ngx_http_upbot_codes_option(cf, row, &value[i], i + 1);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    /*
     * A fallback group is answered whatever its members, so an option of
     * capacity on it is a mistake; every such option sets row->capacity.
     */

    if (row->group.fallback && row->capacity) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" does not apply to a fallback group, "
                           "which is answered whatever its members",
                           row->capacity);
        return NGX_CONF_ERROR;
    }

    if (row->provider && row->group.facts.known) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"members=\" and \"max_members=\" are for "
                           "static groups; the provider says them for "
                           "a %V group", &row->source);
        return NGX_CONF_ERROR;
    }

    if (row->provider == NULL) {

        if (row->group.url.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "a static group needs \"url=\"");
            return NGX_CONF_ERROR;
        }

        row->group.facts.known = 1;
    }

    return NGX_CONF_OK;
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

    if (source->len == 6 && ngx_strncmp(source->data, "static", 6) == 0) {
        row->group.hash = ngx_murmur_hash2(id->data, id->len);
        return NGX_CONF_OK;
    }

    colon = ngx_strlchr(source->data, source->data + source->len, ':');

    if (colon && colon + 1 < source->data + source->len) {
        name.data = source->data;
        name.len = colon - source->data;

        row->provider = ngx_http_upbot_provider_find(&name);
    }

    if (row->provider == NULL) {
        last = ngx_cpymem(sources, "\"static\"", 8);
        last = ngx_http_upbot_provider_sources(last,
                                               sources + sizeof(sources) - 1);
        *last = '\0';

        ngx_http_upbot_conf_unplaced(cf, (char *) sources,
                                     "unknown group source, word 2 of the "
                                     "codes row");
        return NGX_CONF_ERROR;
    }

    if (row->provider->group_id) {
        rv = row->provider->group_id(cf, id, &row->group);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    row->source = *source;

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

    row->group.hash = ngx_murmur_hash2(row->group.id.data,
                                       row->group.id.len);

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

    if (option->len == 4 && ngx_strncmp(option->data, "down", 4) == 0) {
        row->group.down = 1;
        return NGX_CONF_OK;
    }

    if (option->len == 10 && ngx_strncmp(option->data, "sticky=off", 10) == 0)
    {
        row->sticky_off = 1;
        return NGX_CONF_OK;
    }

    if (option->len == 8 && ngx_strncmp(option->data, "fallback", 8) == 0) {
        row->group.fallback = 1;
        return NGX_CONF_OK;
    }

    if (option->len == 7 && ngx_strncmp(option->data, "metrics", 7) == 0) {
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

    if (name.len == 3 && ngx_strncmp(name.data, "url", 3) == 0) {
        row->group.url = value;
        return NGX_CONF_OK;
    }

    if (name.len == 4 && ngx_strncmp(name.data, "name", 4) == 0) {
        row->group.name = value;
        return NGX_CONF_OK;
    }

    if (name.len == 10 && ngx_strncmp(name.data, "background", 10) == 0) {
        row->group.background = value;
        return NGX_CONF_OK;
    }

    if (name.len == 7 && ngx_strncmp(name.data, "expires", 7) == 0) {
        return ngx_http_upbot_codes_expires(cf, row, option, &value);
    }

    if (name.len == 5 && ngx_strncmp(name.data, "hours", 5) == 0) {
        if (ngx_http_upbot_parse_hours(value.data, value.len,
                                       &row->group.opens,
                                       &row->group.closes, &why)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value in \"%V\": %s", option, why);
            return NGX_CONF_ERROR;
        }

        row->group.hours = 1;
        return NGX_CONF_OK;
    }

    if (name.len == 9 && ngx_strncmp(name.data, "threshold", 9) == 0) {
        number = &row->group.threshold;
        row->capacity = "threshold=";

    } else if (name.len == 7 && ngx_strncmp(name.data, "members", 7) == 0) {
        number = &row->group.facts.members;
        row->group.facts.known = 1;
        row->capacity = "members=";

    } else if (name.len == 11
               && ngx_strncmp(name.data, "max_members", 11) == 0)
    {
        number = &row->group.facts.max_members;
        row->group.facts.known = 1;
        row->capacity = "max_members=";

    } else if (name.len == 9 && ngx_strncmp(name.data, "max_views", 9) == 0) {
        number = &row->group.max_views;
        row->capacity = "max_views=";

    } else if (name.len == 9 && ngx_strncmp(name.data, "max_scans", 9) == 0) {
        number = &row->group.max_scans;
        row->capacity = "max_scans=";

    } else if (name.len == 10
               && ngx_strncmp(name.data, "media_type", 10) == 0)
    {
        number = &row->media_type;
        row->media_type_set = 1;

    } else {
        goto invalid;
    }

    n = ngx_atoi(value.data, value.len);

    if (n == NGX_ERROR || (n == 0 && number != &row->group.facts.members)) {
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

    row->group.expires = t;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_upbot_codes_init(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf)
{
    ngx_uint_t               i, j, k, n, ncodes, size, slot;
    ngx_list_part_t         *part;
    ngx_http_upbot_row_t    *rows, **sorted;
    ngx_http_upbot_code_t   *codes, **table, **flagged;

    if (umcf->nrows == 0) {
        return NGX_OK;
    }

    n = umcf->nrows;

    sorted = ngx_palloc(cf->temp_pool, n * sizeof(ngx_http_upbot_row_t *));
    if (sorted == NULL) {
        return NGX_ERROR;
    }

    k = 0;

    for (part = &umcf->rows->part; part; part = part->next) {
        rows = part->elts;

        for (i = 0; i < part->nelts; i++) {
            sorted[k++] = &rows[i];
        }
    }

    ngx_qsort(sorted, n, sizeof(ngx_http_upbot_row_t *),
              ngx_http_upbot_row_cmp);

    /* a code a run of equal rows */

    ncodes = 1;

    for (i = 1; i < n; i++) {
        if (sorted[i]->code.len != sorted[i - 1]->code.len
            || ngx_memcmp(sorted[i]->code.data, sorted[i - 1]->code.data,
                          sorted[i]->code.len) != 0)
        {
            ncodes++;
        }
    }

    codes = ngx_pcalloc(cf->pool, ncodes * sizeof(ngx_http_upbot_code_t));
    if (codes == NULL) {
        return NGX_ERROR;
    }

    /*
     * The index: open addressing on the code's murmur2, at most half full,
     * so that a look-up is a hash and, mostly, one compare.
     */

    for (size = 16; size < 2 * ncodes; size *= 2) { /* void */ }

    table = ngx_pcalloc(cf->pool, size * sizeof(ngx_http_upbot_code_t *));
    if (table == NULL) {
        return NGX_ERROR;
    }

    k = 0;

    for (i = 0; i < n; i = j) {

        for (j = i + 1; j < n; j++) {
            if (sorted[j]->code.len != sorted[i]->code.len
                || ngx_memcmp(sorted[j]->code.data, sorted[i]->code.data,
                              sorted[i]->code.len) != 0)
            {
                break;
            }
        }

        if (ngx_http_upbot_make_pool(cf, umcf, &sorted[i], j - i, &codes[k])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (slot = sorted[i]->key & (size - 1);
             table[slot];
             slot = (slot + 1) & (size - 1))
        {
            /* void */
        }

        table[slot] = &codes[k];

        if (codes[k].metrics) {
            flagged = ngx_array_push(&umcf->flagged);
            if (flagged == NULL) {
                return NGX_ERROR;
            }

            *flagged = &codes[k];
        }

        k++;
    }

    umcf->codes = table;
    umcf->codes_mask = size - 1;
    umcf->ncodes = ncodes;
    umcf->rows = NULL;
    umcf->nrows = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_make_pool(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_row_t **rows, ngx_uint_t n, ngx_http_upbot_code_t *code)
{
    ngx_str_t                name;
    ngx_uint_t               i, first, second;
    ngx_http_upbot_row_t    *media, *fallback;
    ngx_http_upbot_group_t  *group, **ids;

    code->code = rows[0]->code;
    code->ngroups = n;
    code->live = 0;
    code->media_type = rows[0]->media_type;

    code->groups = ngx_palloc(cf->pool, n * sizeof(ngx_http_upbot_group_t));
    if (code->groups == NULL) {
        return NGX_ERROR;
    }

    code->facts = ngx_palloc(cf->pool, n * sizeof(ngx_http_upbot_facts_t *));
    if (code->facts == NULL) {
        return NGX_ERROR;
    }

    ids = ngx_palloc(cf->temp_pool, n * sizeof(ngx_http_upbot_group_t *));
    if (ids == NULL) {
        return NGX_ERROR;
    }

    media = NULL;
    fallback = NULL;

    for (i = 0; i < n; i++) {
        group = &code->groups[i];
        *group = rows[i]->group;

        if (rows[i]->sticky_off) {
            code->sticky_off = 1;
        }

        if (rows[i]->metrics) {
            code->metrics = 1;
        }

        /* rows of a code may be far apart: only the pool sees them all */

        if (group->fallback) {
            if (fallback) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "two fallback groups in the pool of code "
                              "\"%V\", in %V:%ui and %V:%ui", &code->code,
                              &rows[i]->file, rows[i]->line,
                              &fallback->file, fallback->line);
                return NGX_ERROR;
            }

            fallback = rows[i];
        }
        code->facts[i] = &group->facts;
        ids[i] = group;

        group->key = group->id;

        /* whether answers can copy these strings as they are, once */

        group->json_safe =
            ngx_http_upbot_json_safe(group->url.data, group->url.len)
            && ngx_http_upbot_json_safe(group->name.data, group->name.len)
            && ngx_http_upbot_json_safe(group->background.data,
                                        group->background.len);

        group->facts.json_safe = 1;     /* static facts carry no strings */

        if (rows[i]->provider) {
            if (ngx_http_upbot_resolve(cf, umcf, rows[i], group) != NGX_OK) {
                return NGX_ERROR;
            }

            code->live++;
        }

        if ((group->max_views || group->max_scans) && umcf->zone == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" needs \"upbot_zone\" for its "
                          "counts, in %V:%ui",
                          group->max_views ? "max_views=" : "max_scans=",
                          &rows[i]->file, rows[i]->line);
            return NGX_ERROR;
        }

        if (group->max_scans && umcf->attribution == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"max_scans=\" counts long-presses tied to the "
                          "group shown: it needs \"upbot_attribution\", "
                          "in %V:%ui", &rows[i]->file, rows[i]->line);
            return NGX_ERROR;
        }

        if (rows[i]->media_type_set) {
            if (media && media->media_type != rows[i]->media_type) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "media_type=%ui of code \"%V\" differs from "
                              "media_type=%ui in %V:%ui, in %V:%ui",
                              rows[i]->media_type, &code->code,
                              media->media_type, &media->file, media->line,
                              &rows[i]->file, rows[i]->line);
                return NGX_ERROR;
            }

            media = rows[i];
            code->media_type = media->media_type;
        }
    }

    ngx_qsort(ids, n, sizeof(ngx_http_upbot_group_t *),
              ngx_http_upbot_group_cmp);

    for (i = 1; i < n; i++) {
        if (ngx_http_upbot_group_cmp(&ids[i - 1], &ids[i]) == 0
            && !(ids[i]->id.len == 1 && ids[i]->id.data[0] == '-'))
        {
            /* name the later row first: that is the one to remove */

            first = ngx_min(ids[i - 1], ids[i]) - code->groups;
            second = ngx_max(ids[i - 1], ids[i]) - code->groups;

            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "group \"%V\" appears twice in the pool of "
                          "code \"%V\", in %V:%ui and %V:%ui",
                          &ids[i]->id, &code->code,
                          &rows[second]->file, rows[second]->line,
                          &rows[first]->file, rows[first]->line);
            return NGX_ERROR;
        }
    }

    /* a group without an id ("-") is named by its place in the pool */

    for (i = 0; i < n; i++) {
        group = &code->groups[i];

        if (group->id.len == 1 && group->id.data[0] == '-') {
            group->id.data = ngx_pnalloc(cf->pool, NGX_INT_T_LEN);
            if (group->id.data == NULL) {
                return NGX_ERROR;
            }

            group->id.len = ngx_sprintf(group->id.data, "%ui", i + 1)
                            - group->id.data;
            group->hash = ngx_murmur_hash2(group->id.data, group->id.len);
        }

        if (ngx_http_upbot_group_name(cf->temp_pool, group, &name) != NGX_OK) {
            return NGX_ERROR;
        }

        group->ident = ngx_crc32_long(name.data, name.len);
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


/*
 * The rows of a code side by side, in configuration order; beyond that any
 * order will do, so the hash key decides most comparisons.
 */

static int ngx_libc_cdecl
ngx_http_upbot_row_cmp(const void *one, const void *two)
{
    ngx_int_t                    rc;
    const ngx_http_upbot_row_t  *a, *b;

    a = *(ngx_http_upbot_row_t **) one;
    b = *(ngx_http_upbot_row_t **) two;

    if (a->key != b->key) {
        return a->key < b->key ? -1 : 1;
    }

    if (a->code.len != b->code.len) {
        return a->code.len < b->code.len ? -1 : 1;
    }

    rc = ngx_memcmp(a->code.data, b->code.data, a->code.len);
    if (rc) {
        return rc;
    }

    return a->index < b->index ? -1 : (a->index > b->index);
}


static int ngx_libc_cdecl
ngx_http_upbot_group_cmp(const void *one, const void *two)
{
    const ngx_http_upbot_group_t  *a, *b;

    a = *(ngx_http_upbot_group_t **) one;
    b = *(ngx_http_upbot_group_t **) two;

    if (a->app != b->app) {
        return (uintptr_t) a->app < (uintptr_t) b->app ? -1 : 1;
    }

    if (a->key.len != b->key.len) {
        return a->key.len < b->key.len ? -1 : 1;
    }

    return ngx_memcmp(a->key.data, b->key.data, a->key.len);
}


/* a live group's app, and its key in the facts cache: "tim:prod ID" */

static ngx_int_t
ngx_http_upbot_resolve(ngx_conf_t *cf, ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_row_t *row, ngx_http_upbot_group_t *group)
{
    u_char                *p;
    ngx_http_upbot_app_t  *app;

    app = ngx_http_upbot_app_find(umcf, &row->source);

    if (app == NULL || app->provider != row->provider) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "unknown app \"%V\" of code \"%V\", declare it "
                      "with \"upbot_%V\", in %V:%ui", &row->source,
                      &row->code, &row->provider->name, &row->file,
                      row->line);
        return NGX_ERROR;
    }

    if (umcf->zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "live groups need \"upbot_zone\" for their facts, "
                      "in %V:%ui", &row->file, row->line);
        return NGX_ERROR;
    }

    group->app = app;

    group->key.len = app->name.len + 1 + group->id.len;
    group->key.data = ngx_pnalloc(cf->pool, group->key.len);
    if (group->key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(group->key.data, app->name.data, app->name.len);
    *p++ = ' ';
    ngx_memcpy(p, group->id.data, group->id.len);

    group->key_hash = ngx_crc32_long(group->key.data, group->key.len);

    return NGX_OK;
}


/*
 * What names a group across reloads, "SOURCE ID URL", with the url as
 * configured (a live group's may be none): a new QR code is a new group.
 */

ngx_int_t
ngx_http_upbot_group_name(ngx_pool_t *pool, ngx_http_upbot_group_t *group,
    ngx_str_t *key)
{
    u_char  *p;

    key->len = (group->app ? group->key.len : sizeof("static ") - 1
                                              + group->id.len)
               + 1 + group->url.len;

    key->data = ngx_pnalloc(pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    if (group->app) {
        p = ngx_cpymem(key->data, group->key.data, group->key.len);

    } else {
        p = ngx_cpymem(key->data, "static ", sizeof("static ") - 1);
        p = ngx_cpymem(p, group->id.data, group->id.len);
    }

    *p++ = ' ';

    if (group->url.len) {
        ngx_memcpy(p, group->url.data, group->url.len);
    }

    return NGX_OK;
}
