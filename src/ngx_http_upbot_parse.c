
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The request shapes of seeds 000 and 001 and the yajl callbacks that
 * fill them.  Strings are copied into the pool as they arrive, so nothing
 * refers to the body's buffers once a piece has been fed.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>

#include "ngx_http_upbot_parse.h"


#define NGX_HTTP_UPBOT_STRING           0
#define NGX_HTTP_UPBOT_INTEGER          1
#define NGX_HTTP_UPBOT_STRING_OR_INT    2   /* kept as its text */
#define NGX_HTTP_UPBOT_OBJECT           3
#define NGX_HTTP_UPBOT_LIST             4   /* of objects */

#define NGX_HTTP_UPBOT_REQUIRED         0x01
#define NGX_HTTP_UPBOT_NOT_EMPTY        0x02
#define NGX_HTTP_UPBOT_IS_CODE          0x04   /* trimmed, code length */

#define NGX_HTTP_UPBOT_INT32_MAX        2147483647
#define NGX_HTTP_UPBOT_INT53_MAX        9007199254740991LL
#define NGX_HTTP_UPBOT_INT64_MAX        0x7fffffffffffffffLL

#define NGX_HTTP_UPBOT_ERROR_LEN        256


typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      type;
    ngx_uint_t                      flags;
    ngx_uint_t                      bit;      /* aliases share a bit */
    size_t                          offset;
    int64_t                         min;
    int64_t                         max;
    const ngx_http_upbot_shape_t   *shape;    /* objects and lists */
} ngx_http_upbot_field_t;


struct ngx_http_upbot_shape_s {
    const ngx_http_upbot_field_t   *fields;
    ngx_uint_t                      nfields;
    size_t                          size;
};


typedef struct {
    const ngx_http_upbot_shape_t   *shape;    /* NULL: skipping a value */
    u_char                         *obj;
    const ngx_http_upbot_field_t   *field;    /* whose value comes next */
    const ngx_http_upbot_field_t   *via;      /* how this frame was entered */
    ngx_array_t                    *list;     /* a list of objects */
    ngx_uint_t                      index;    /* position in the parent list */
    unsigned                        in_list:1;
} ngx_http_upbot_frame_t;


struct ngx_http_upbot_parser_s {
    yajl_handle                     handle;
    ngx_pool_t                     *pool;
    const ngx_http_upbot_limits_t  *limits;
    const ngx_http_upbot_shape_t   *shape;
    u_char                         *out;
    ngx_http_upbot_frame_t         *frames;
    ngx_uint_t                      depth;
    ngx_str_t                       error;
    unsigned                        refused:1;
    unsigned                        started:1;
};


#define ngx_http_upbot_nfields(f)  (sizeof(f) / sizeof(f[0]))


static const ngx_http_upbot_field_t  ngx_http_upbot_account_fields[] = {

    { ngx_string("account_type"), NGX_HTTP_UPBOT_INTEGER,
      NGX_HTTP_UPBOT_REQUIRED, NGX_HTTP_UPBOT_ACCOUNT_TYPE,
      offsetof(ngx_http_upbot_account_t, account_type), 1, 3, NULL },

    { ngx_string("appid"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_REQUIRED|NGX_HTTP_UPBOT_NOT_EMPTY,
      NGX_HTTP_UPBOT_ACCOUNT_APPID,
      offsetof(ngx_http_upbot_account_t, appid), 0, 0, NULL },

    { ngx_string("openid"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_REQUIRED|NGX_HTTP_UPBOT_NOT_EMPTY,
      NGX_HTTP_UPBOT_ACCOUNT_OPENID,
      offsetof(ngx_http_upbot_account_t, openid), 0, 0, NULL },
};

static const ngx_http_upbot_shape_t  ngx_http_upbot_account_shape = {
    ngx_http_upbot_account_fields,
    ngx_http_upbot_nfields(ngx_http_upbot_account_fields),
    sizeof(ngx_http_upbot_account_t)
};


static const ngx_http_upbot_field_t  ngx_http_upbot_media_info_fields[] = {

    { ngx_string("account_info"), NGX_HTTP_UPBOT_OBJECT,
      NGX_HTTP_UPBOT_REQUIRED, 0,
      offsetof(ngx_http_upbot_media_info_req_t, account_info), 0, 0,
      &ngx_http_upbot_account_shape },

    { ngx_string("media_type"), NGX_HTTP_UPBOT_INTEGER,
      NGX_HTTP_UPBOT_REQUIRED, 1,
      offsetof(ngx_http_upbot_media_info_req_t, media_type),
      1, NGX_HTTP_UPBOT_INT32_MAX, NULL },

    { ngx_string("code"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_REQUIRED|NGX_HTTP_UPBOT_NOT_EMPTY
      |NGX_HTTP_UPBOT_IS_CODE, 2,
      offsetof(ngx_http_upbot_media_info_req_t, code), 0, 0, NULL },

    { ngx_string("trace_id"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_REQUIRED|NGX_HTTP_UPBOT_NOT_EMPTY, 3,
      offsetof(ngx_http_upbot_media_info_req_t, trace_id), 0, 0, NULL },
};

const ngx_http_upbot_shape_t  ngx_http_upbot_media_info_shape = {
    ngx_http_upbot_media_info_fields,
    ngx_http_upbot_nfields(ngx_http_upbot_media_info_fields),
    sizeof(ngx_http_upbot_media_info_req_t)
};


static const ngx_http_upbot_field_t  ngx_http_upbot_device_fields[] = {

    { ngx_string("device_type"), NGX_HTTP_UPBOT_INTEGER, 0,
      NGX_HTTP_UPBOT_DEVICE_TYPE,
      offsetof(ngx_http_upbot_device_t, device_type), 1, 2, NULL },

    { ngx_string("uuid"), NGX_HTTP_UPBOT_STRING, 0,
      NGX_HTTP_UPBOT_DEVICE_UUID,
      offsetof(ngx_http_upbot_device_t, uuid), 0, 0, NULL },
};

static const ngx_http_upbot_shape_t  ngx_http_upbot_device_shape = {
    ngx_http_upbot_device_fields,
    ngx_http_upbot_nfields(ngx_http_upbot_device_fields),
    sizeof(ngx_http_upbot_device_t)
};


static const ngx_http_upbot_field_t  ngx_http_upbot_head_fields[] = {

    { ngx_string("account_info"), NGX_HTTP_UPBOT_OBJECT,
      NGX_HTTP_UPBOT_REQUIRED, 0,
      offsetof(ngx_http_upbot_head_t, account_info), 0, 0,
      &ngx_http_upbot_account_shape },

    { ngx_string("device_info"), NGX_HTTP_UPBOT_OBJECT, 0,
      NGX_HTTP_UPBOT_HEAD_DEVICE,
      offsetof(ngx_http_upbot_head_t, device_info), 0, 0,
      &ngx_http_upbot_device_shape },
};

static const ngx_http_upbot_shape_t  ngx_http_upbot_head_shape = {
    ngx_http_upbot_head_fields,
    ngx_http_upbot_nfields(ngx_http_upbot_head_fields),
    sizeof(ngx_http_upbot_head_t)
};


/* none of an item's fields is required by seed 001 */
static const ngx_http_upbot_field_t  ngx_http_upbot_item_fields[] = {

    { ngx_string("event_id"), NGX_HTTP_UPBOT_STRING_OR_INT,
      NGX_HTTP_UPBOT_NOT_EMPTY, NGX_HTTP_UPBOT_ITEM_EVENT_ID,
      offsetof(ngx_http_upbot_event_item_t, event_id),
      0, NGX_HTTP_UPBOT_INT53_MAX, NULL },

    { ngx_string("event_time"), NGX_HTTP_UPBOT_INTEGER, 0,
      NGX_HTTP_UPBOT_ITEM_EVENT_TIME,
      offsetof(ngx_http_upbot_event_item_t, event_time),
      0, NGX_HTTP_UPBOT_INT53_MAX, NULL },

    { ngx_string("media_type"), NGX_HTTP_UPBOT_INTEGER, 0,
      NGX_HTTP_UPBOT_ITEM_MEDIA_TYPE,
      offsetof(ngx_http_upbot_event_item_t, media_type),
      1, NGX_HTTP_UPBOT_INT32_MAX, NULL },

    { ngx_string("code"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_NOT_EMPTY|NGX_HTTP_UPBOT_IS_CODE,
      NGX_HTTP_UPBOT_ITEM_CODE,
      offsetof(ngx_http_upbot_event_item_t, code), 0, 0, NULL },

    { ngx_string("trace_id"), NGX_HTTP_UPBOT_STRING, 0,
      NGX_HTTP_UPBOT_ITEM_TRACE_ID,
      offsetof(ngx_http_upbot_event_item_t, trace_id), 0, 0, NULL },

    { ngx_string("duration"), NGX_HTTP_UPBOT_INTEGER, 0,
      NGX_HTTP_UPBOT_ITEM_DURATION,
      offsetof(ngx_http_upbot_event_item_t, duration),
      0, NGX_HTTP_UPBOT_INT32_MAX, NULL },
};

static const ngx_http_upbot_shape_t  ngx_http_upbot_item_shape = {
    ngx_http_upbot_item_fields,
    ngx_http_upbot_nfields(ngx_http_upbot_item_fields),
    sizeof(ngx_http_upbot_event_item_t)
};


/* seed 001's table says "item", its example "items": both, never both */
static const ngx_http_upbot_field_t  ngx_http_upbot_media_event_fields[] = {

    { ngx_string("head"), NGX_HTTP_UPBOT_OBJECT,
      NGX_HTTP_UPBOT_REQUIRED, 0,
      offsetof(ngx_http_upbot_media_event_req_t, head), 0, 0,
      &ngx_http_upbot_head_shape },

    { ngx_string("items"), NGX_HTTP_UPBOT_LIST,
      NGX_HTTP_UPBOT_REQUIRED|NGX_HTTP_UPBOT_NOT_EMPTY, 1,
      offsetof(ngx_http_upbot_media_event_req_t, items), 0, 0,
      &ngx_http_upbot_item_shape },

    { ngx_string("item"), NGX_HTTP_UPBOT_LIST,
      NGX_HTTP_UPBOT_REQUIRED|NGX_HTTP_UPBOT_NOT_EMPTY, 1,
      offsetof(ngx_http_upbot_media_event_req_t, items), 0, 0,
      &ngx_http_upbot_item_shape },
};

const ngx_http_upbot_shape_t  ngx_http_upbot_media_event_shape = {
    ngx_http_upbot_media_event_fields,
    ngx_http_upbot_nfields(ngx_http_upbot_media_event_fields),
    sizeof(ngx_http_upbot_media_event_req_t)
};


static const char  *ngx_http_upbot_type_names[] = {
    "a string", "an integer", "a string or an integer", "an object",
    "a list of objects"
};


static ngx_int_t ngx_http_upbot_refuse(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, const char *fmt, ...);
static ngx_int_t ngx_http_upbot_wrong_type(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field);
static const ngx_http_upbot_field_t *ngx_http_upbot_target(
    ngx_http_upbot_parser_t *p, u_char **obj, ngx_int_t *rc);
static ngx_http_upbot_frame_t *ngx_http_upbot_push(
    ngx_http_upbot_parser_t *p);
static void ngx_http_upbot_mark(u_char *obj,
    const ngx_http_upbot_field_t *field);
static ngx_int_t ngx_http_upbot_integer(const u_char *s, size_t len,
    int64_t *value);

static int ngx_http_upbot_on_null(void *ctx);
static int ngx_http_upbot_on_boolean(void *ctx, int value);
static int ngx_http_upbot_on_number(void *ctx, const char *s, size_t len);
static int ngx_http_upbot_on_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_upbot_on_start_map(void *ctx);
static int ngx_http_upbot_on_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_upbot_on_end_map(void *ctx);
static int ngx_http_upbot_on_start_array(void *ctx);
static int ngx_http_upbot_on_end_array(void *ctx);

static void *ngx_http_upbot_yajl_malloc(void *ctx, size_t size);
static void *ngx_http_upbot_yajl_realloc(void *ctx, void *ptr, size_t size);
static void ngx_http_upbot_yajl_free(void *ctx, void *ptr);


static const yajl_callbacks  ngx_http_upbot_callbacks = {
    ngx_http_upbot_on_null,
    ngx_http_upbot_on_boolean,
    NULL,                               /* integers come as numbers */
    NULL,                               /* doubles too */
    ngx_http_upbot_on_number,
    ngx_http_upbot_on_string,
    ngx_http_upbot_on_start_map,
    ngx_http_upbot_on_map_key,
    ngx_http_upbot_on_end_map,
    ngx_http_upbot_on_start_array,
    ngx_http_upbot_on_end_array
};


void
ngx_http_upbot_yajl_alloc_funcs(yajl_alloc_funcs *afs, ngx_pool_t *pool)
{
    afs->malloc = ngx_http_upbot_yajl_malloc;
    afs->realloc = ngx_http_upbot_yajl_realloc;
    afs->free = ngx_http_upbot_yajl_free;
    afs->ctx = pool;
}


ngx_http_upbot_parser_t *
ngx_http_upbot_parser_create(ngx_pool_t *pool,
    const ngx_http_upbot_shape_t *shape, void *out,
    const ngx_http_upbot_limits_t *limits)
{
    yajl_alloc_funcs          afs;
    ngx_http_upbot_parser_t  *p;

    p = ngx_pcalloc(pool, sizeof(ngx_http_upbot_parser_t));
    if (p == NULL) {
        return NULL;
    }

    p->frames = ngx_pcalloc(pool,
                       limits->max_depth * sizeof(ngx_http_upbot_frame_t));
    if (p->frames == NULL) {
        return NULL;
    }

    p->pool = pool;
    p->limits = limits;
    p->shape = shape;
    p->out = out;

    ngx_http_upbot_yajl_alloc_funcs(&afs, pool);

    p->handle = yajl_alloc(&ngx_http_upbot_callbacks, &afs, p);
    if (p->handle == NULL) {
        return NULL;
    }

    return p;
}


ngx_int_t
ngx_http_upbot_parser_feed(ngx_http_upbot_parser_t *p, u_char *data,
    size_t len)
{
    if (yajl_parse(p->handle, data, len) == yajl_status_ok) {
        return NGX_OK;
    }

    return ngx_http_upbot_parser_finish(p);
}


ngx_int_t
ngx_http_upbot_parser_finish(ngx_http_upbot_parser_t *p)
{
    u_char       *msg;
    size_t        len;
    yajl_status   status;

    if (p->refused) {
        return NGX_DECLINED;
    }

    status = yajl_complete_parse(p->handle);

    if (p->refused) {
        return NGX_DECLINED;
    }

    if (status == yajl_status_ok) {
        if (!p->started) {
            p->refused = 1;
            ngx_str_set(&p->error, "the body is empty");
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    p->refused = 1;

    msg = yajl_get_error(p->handle, 0, NULL, 0);
    if (msg == NULL) {
        ngx_str_set(&p->error, "invalid JSON");
        return NGX_DECLINED;
    }

    len = ngx_strlen(msg);

    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' ')) {
        len--;
    }

    p->error.data = ngx_pnalloc(p->pool, sizeof("invalid JSON: ") - 1 + len);
    if (p->error.data == NULL) {
        ngx_str_set(&p->error, "invalid JSON");
        return NGX_DECLINED;
    }

    p->error.len = ngx_sprintf(p->error.data, "invalid JSON: %*s", len, msg)
                   - p->error.data;

    yajl_free_error(p->handle, msg);

    return NGX_DECLINED;
}


ngx_str_t *
ngx_http_upbot_parser_error(ngx_http_upbot_parser_t *p)
{
    return &p->error;
}


void
ngx_http_upbot_trim(ngx_str_t *s)
{
    while (s->len && (s->data[0] == ' ' || (s->data[0] >= '\t'
                                            && s->data[0] <= '\r')))
    {
        s->data++;
        s->len--;
    }

    while (s->len && (s->data[s->len - 1] == ' '
                      || (s->data[s->len - 1] >= '\t'
                          && s->data[s->len - 1] <= '\r')))
    {
        s->len--;
    }
}


/*
 * Records why the body is refused, with the path of the value:
 * "items[2].event_time: must be an integer".
 */

static ngx_int_t
ngx_http_upbot_refuse(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, const char *fmt, ...)
{
    u_char                  *buf, *pos, *last;
    va_list                  args;
    ngx_uint_t               i;
    ngx_http_upbot_frame_t  *f;

    p->refused = 1;

    buf = ngx_pnalloc(p->pool, NGX_HTTP_UPBOT_ERROR_LEN);
    if (buf == NULL) {
        ngx_str_set(&p->error, "invalid request");
        return NGX_ERROR;
    }

    pos = buf;
    last = buf + NGX_HTTP_UPBOT_ERROR_LEN;

    for (i = 1; i < p->depth; i++) {
        f = &p->frames[i];

        if (f->in_list) {
            pos = ngx_slprintf(pos, last, "[%ui]", f->index);

        } else if (f->via) {
            pos = ngx_slprintf(pos, last, "%s%V", pos == buf ? "" : ".",
                               &f->via->name);
        }
    }

    if (field) {
        pos = ngx_slprintf(pos, last, "%s%V", pos == buf ? "" : ".",
                           &field->name);
    }

    if (pos != buf) {
        pos = ngx_slprintf(pos, last, ": ");
    }

    va_start(args, fmt);
    pos = ngx_vslprintf(pos, last, fmt, args);
    va_end(args);

    p->error.data = buf;
    p->error.len = pos - buf;

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_upbot_wrong_type(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field)
{
    return ngx_http_upbot_refuse(p, field, "must be %s",
                                 ngx_http_upbot_type_names[field->type]);
}


/*
 * The field a scalar value belongs to.  NULL with *rc NGX_OK: the value is
 * ignored (an unknown field, or inside one); NULL with *rc NGX_ERROR: the
 * value is not allowed here and the body is refused.
 */

static const ngx_http_upbot_field_t *
ngx_http_upbot_target(ngx_http_upbot_parser_t *p, u_char **obj,
    ngx_int_t *rc)
{
    ngx_http_upbot_frame_t  *top;

    *rc = NGX_OK;

    if (p->depth == 0) {
        p->started = 1;
        *rc = ngx_http_upbot_refuse(p, NULL, "the body must be a JSON object");
        return NULL;
    }

    top = &p->frames[p->depth - 1];

    if (top->shape == NULL) {
        return NULL;
    }

    if (top->list) {
        *rc = ngx_http_upbot_refuse(p, NULL, "must hold objects only");
        return NULL;
    }

    if (top->field) {
        *obj = top->obj;
    }

    return top->field;
}


static ngx_http_upbot_frame_t *
ngx_http_upbot_push(ngx_http_upbot_parser_t *p)
{
    ngx_http_upbot_frame_t  *f;

    p->started = 1;

    if (p->depth == p->limits->max_depth) {
        (void) ngx_http_upbot_refuse(p, NULL,
                                     "JSON nested deeper than %ui levels",
                                     p->limits->max_depth);
        return NULL;
    }

    f = &p->frames[p->depth++];
    ngx_memzero(f, sizeof(ngx_http_upbot_frame_t));

    return f;
}


static void
ngx_http_upbot_mark(u_char *obj, const ngx_http_upbot_field_t *field)
{
    *(ngx_uint_t *) obj |= (ngx_uint_t) 1 << field->bit;
}


static ngx_int_t
ngx_http_upbot_integer(const u_char *s, size_t len, int64_t *value)
{
    size_t     i;
    uint64_t   n;
    ngx_int_t  negative;

    negative = (len && s[0] == '-');
    i = negative;

    if (i == len) {
        return NGX_ERROR;
    }

    n = 0;

    for ( /* void */ ; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return NGX_ERROR;            /* a fraction or an exponent */
        }

        if (n > (uint64_t) NGX_HTTP_UPBOT_INT64_MAX / 10) {
            return NGX_DECLINED;
        }

        n = n * 10 + (s[i] - '0');

        if (n > (uint64_t) NGX_HTTP_UPBOT_INT64_MAX) {
            return NGX_DECLINED;
        }
    }

    *value = negative ? - (int64_t) n : (int64_t) n;

    return NGX_OK;
}


static int
ngx_http_upbot_on_null(void *ctx)
{
    u_char                        *obj;
    ngx_int_t                      rc;
    ngx_http_upbot_parser_t       *p = ctx;
    const ngx_http_upbot_field_t  *field;

    field = ngx_http_upbot_target(p, &obj, &rc);

    if (field) {
        rc = ngx_http_upbot_wrong_type(p, field);
    }

    return rc == NGX_OK;
}


static int
ngx_http_upbot_on_boolean(void *ctx, int value)
{
    return ngx_http_upbot_on_null(ctx);
}


static int
ngx_http_upbot_on_number(void *ctx, const char *s, size_t len)
{
    u_char                        *obj;
    int64_t                        n;
    ngx_int_t                      rc;
    ngx_str_t                     *str;
    ngx_http_upbot_parser_t       *p = ctx;
    const ngx_http_upbot_field_t  *field;

    field = ngx_http_upbot_target(p, &obj, &rc);

    if (field == NULL) {
        return rc == NGX_OK;
    }

    if (field->type != NGX_HTTP_UPBOT_INTEGER
        && field->type != NGX_HTTP_UPBOT_STRING_OR_INT)
    {
        return ngx_http_upbot_wrong_type(p, field) == NGX_OK;
    }

    rc = ngx_http_upbot_integer((u_char *) s, len, &n);

    if (rc == NGX_ERROR) {
        return ngx_http_upbot_refuse(p, field, "must be an integer")
               == NGX_OK;
    }

    if (rc == NGX_DECLINED || n < field->min || n > field->max) {
        return ngx_http_upbot_refuse(p, field, "%*s is out of range %L..%L",
                                     ngx_min(len, 32), s,
                                     field->min, field->max)
               == NGX_OK;
    }

    ngx_http_upbot_mark(obj, field);

    if (field->type == NGX_HTTP_UPBOT_INTEGER) {
        *(int64_t *) (obj + field->offset) = n;
        return 1;
    }

    str = (ngx_str_t *) (obj + field->offset);

    str->data = ngx_pnalloc(p->pool, len);
    if (str->data == NULL) {
        return 0;
    }

    str->len = len;
    ngx_memcpy(str->data, s, len);

    return 1;
}


static int
ngx_http_upbot_on_string(void *ctx, const unsigned char *s, size_t len)
{
    u_char                        *obj;
    size_t                         limit;
    ngx_int_t                      rc;
    ngx_str_t                     *str;
    ngx_http_upbot_parser_t       *p = ctx;
    const ngx_http_upbot_field_t  *field;

    field = ngx_http_upbot_target(p, &obj, &rc);

    if (field == NULL) {
        return rc == NGX_OK;
    }

    if (field->type != NGX_HTTP_UPBOT_STRING
        && field->type != NGX_HTTP_UPBOT_STRING_OR_INT)
    {
        return ngx_http_upbot_wrong_type(p, field) == NGX_OK;
    }

    if (len > p->limits->max_string_length) {
        return ngx_http_upbot_refuse(p, field, "longer than %uz bytes",
                                     p->limits->max_string_length)
               == NGX_OK;
    }

    str = (ngx_str_t *) (obj + field->offset);

    str->data = ngx_pnalloc(p->pool, len);
    if (str->data == NULL && len) {
        return 0;
    }

    str->len = len;
    ngx_memcpy(str->data, s, len);

    if (field->flags & NGX_HTTP_UPBOT_IS_CODE) {
        ngx_http_upbot_trim(str);

        limit = p->limits->max_code_length;

        if (str->len > limit) {
            return ngx_http_upbot_refuse(p, field, "longer than %uz bytes",
                                         limit)
                   == NGX_OK;
        }
    }

    if (str->len == 0 && (field->flags & NGX_HTTP_UPBOT_NOT_EMPTY)) {
        return ngx_http_upbot_refuse(p, field, "must not be empty") == NGX_OK;
    }

    ngx_http_upbot_mark(obj, field);

    return 1;
}


static int
ngx_http_upbot_on_start_map(void *ctx)
{
    u_char                        *obj;
    ngx_http_upbot_frame_t        *top, *f;
    ngx_http_upbot_parser_t       *p = ctx;
    const ngx_http_upbot_field_t  *field;

    if (p->depth == 0) {
        f = ngx_http_upbot_push(p);
        if (f == NULL) {
            return 0;
        }

        f->shape = p->shape;
        f->obj = p->out;
        return 1;
    }

    top = &p->frames[p->depth - 1];

    if (top->shape == NULL) {
        return ngx_http_upbot_push(p) != NULL;      /* skipping */
    }

    if (top->list) {
        if (top->list->nelts == p->limits->max_items) {
            return ngx_http_upbot_refuse(p, NULL, "more than %ui items",
                                         p->limits->max_items)
                   == NGX_OK;
        }

        obj = ngx_array_push(top->list);
        if (obj == NULL) {
            return 0;
        }

        ngx_memzero(obj, top->shape->size);

        f = ngx_http_upbot_push(p);
        if (f == NULL) {
            return 0;
        }

        f->shape = top->shape;
        f->obj = obj;
        f->in_list = 1;
        f->index = top->list->nelts - 1;
        return 1;
    }

    field = top->field;

    if (field == NULL) {
        return ngx_http_upbot_push(p) != NULL;      /* an unknown field */
    }

    if (field->type != NGX_HTTP_UPBOT_OBJECT) {
        return ngx_http_upbot_wrong_type(p, field) == NGX_OK;
    }

    ngx_http_upbot_mark(top->obj, field);
    obj = top->obj + field->offset;

    f = ngx_http_upbot_push(p);
    if (f == NULL) {
        return 0;
    }

    f->shape = field->shape;
    f->obj = obj;
    f->via = field;

    return 1;
}


static int
ngx_http_upbot_on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    ngx_uint_t                     i;
    ngx_http_upbot_frame_t        *top;
    ngx_http_upbot_parser_t       *p = ctx;
    const ngx_http_upbot_field_t  *field;

    top = &p->frames[p->depth - 1];

    if (top->shape == NULL) {
        return 1;
    }

    top->field = NULL;

    for (i = 0; i < top->shape->nfields; i++) {
        field = &top->shape->fields[i];

        if (field->name.len == len
            && ngx_memcmp(field->name.data, s, len) == 0)
        {
            if (NGX_HTTP_UPBOT_PRESENT(top->obj, field->bit)) {
                return ngx_http_upbot_refuse(p, field, "given twice")
                       == NGX_OK;
            }

            top->field = field;
            break;
        }
    }

    return 1;
}


static int
ngx_http_upbot_on_end_map(void *ctx)
{
    ngx_uint_t                     i;
    ngx_http_upbot_frame_t        *top;
    ngx_http_upbot_parser_t       *p = ctx;
    const ngx_http_upbot_field_t  *field;

    top = &p->frames[p->depth - 1];

    if (top->shape) {
        top->field = NULL;

        for (i = 0; i < top->shape->nfields; i++) {
            field = &top->shape->fields[i];

            if ((field->flags & NGX_HTTP_UPBOT_REQUIRED)
                && !NGX_HTTP_UPBOT_PRESENT(top->obj, field->bit))
            {
                return ngx_http_upbot_refuse(p, field, "missing") == NGX_OK;
            }
        }
    }

    p->depth--;

    return 1;
}


static int
ngx_http_upbot_on_start_array(void *ctx)
{
    ngx_array_t                   *list;
    ngx_http_upbot_frame_t        *top, *f;
    ngx_http_upbot_parser_t       *p = ctx;
    const ngx_http_upbot_field_t  *field;

    if (p->depth == 0) {
        p->started = 1;
        return ngx_http_upbot_refuse(p, NULL,
                                     "the body must be a JSON object")
               == NGX_OK;
    }

    top = &p->frames[p->depth - 1];

    if (top->shape == NULL) {
        return ngx_http_upbot_push(p) != NULL;      /* skipping */
    }

    if (top->list) {
        return ngx_http_upbot_refuse(p, NULL, "must hold objects only")
               == NGX_OK;
    }

    field = top->field;

    if (field == NULL) {
        return ngx_http_upbot_push(p) != NULL;      /* an unknown field */
    }

    if (field->type != NGX_HTTP_UPBOT_LIST) {
        return ngx_http_upbot_wrong_type(p, field) == NGX_OK;
    }

    list = ngx_array_create(p->pool, 4, field->shape->size);
    if (list == NULL) {
        return 0;
    }

    ngx_http_upbot_mark(top->obj, field);
    *(ngx_array_t **) (top->obj + field->offset) = list;

    f = ngx_http_upbot_push(p);
    if (f == NULL) {
        return 0;
    }

    f->shape = field->shape;
    f->list = list;
    f->via = field;

    return 1;
}


static int
ngx_http_upbot_on_end_array(void *ctx)
{
    ngx_http_upbot_frame_t   *top;
    ngx_http_upbot_parser_t  *p = ctx;

    top = &p->frames[p->depth - 1];

    if (top->list && top->list->nelts == 0
        && (top->via->flags & NGX_HTTP_UPBOT_NOT_EMPTY))
    {
        p->depth--;
        return ngx_http_upbot_refuse(p, top->via, "must not be empty")
               == NGX_OK;
    }

    p->depth--;

    return 1;
}


/*
 * yajl's buffers grow by realloc: each block remembers its size so that
 * realloc can copy it; the pool frees everything with the request.
 */

static void *
ngx_http_upbot_yajl_malloc(void *ctx, size_t size)
{
    size_t  *block;

    block = ngx_palloc(ctx, sizeof(size_t) + size);
    if (block == NULL) {
        return NULL;
    }

    *block = size;

    return block + 1;
}


static void *
ngx_http_upbot_yajl_realloc(void *ctx, void *ptr, size_t size)
{
    size_t  *block;
    void    *fresh;

    if (ptr == NULL) {
        return ngx_http_upbot_yajl_malloc(ctx, size);
    }

    block = (size_t *) ptr - 1;

    if (*block >= size) {
        return ptr;
    }

    fresh = ngx_http_upbot_yajl_malloc(ctx, size);
    if (fresh == NULL) {
        return NULL;
    }

    ngx_memcpy(fresh, ptr, *block);
    ngx_pfree(ctx, block);

    return fresh;
}


static void
ngx_http_upbot_yajl_free(void *ctx, void *ptr)
{
    if (ptr) {
        ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}
