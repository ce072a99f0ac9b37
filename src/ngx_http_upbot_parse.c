
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The request shapes of seeds 000 and 001 and the JSON reader's handler
 * that fills them.  A body in one memory buffer is read in place (strings
 * point into it); a body in pieces is gathered into one buffer first.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_upbot_json.h"
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

#define NGX_HTTP_UPBOT_FIRST_FRAMES     4


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
    u_char                         *buf;      /* the pieces, gathered */
    size_t                          len;
    size_t                          size;
    ngx_pool_t                     *pool;
    const ngx_http_upbot_limits_t  *limits;
    const ngx_http_upbot_shape_t   *shape;
    u_char                         *out;
    ngx_http_upbot_frame_t         *frames;
    ngx_uint_t                      nframes;
    ngx_uint_t                      depth;
    ngx_http_upbot_frame_t          first_frames[NGX_HTTP_UPBOT_FIRST_FRAMES];
    ngx_str_t                       error;
    unsigned                        refused:1;
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

static const ngx_http_upbot_json_handler_t  ngx_http_upbot_handler = {
    ngx_http_upbot_on_null,
    ngx_http_upbot_on_boolean,
    ngx_http_upbot_on_number,
    ngx_http_upbot_on_string,
    ngx_http_upbot_on_start_map,
    ngx_http_upbot_on_map_key,
    ngx_http_upbot_on_end_map,
    ngx_http_upbot_on_start_array,
    ngx_http_upbot_on_end_array
};


ngx_http_upbot_parser_t *
ngx_http_upbot_parser_create(ngx_pool_t *pool,
    const ngx_http_upbot_shape_t *shape, void *out,
    const ngx_http_upbot_limits_t *limits)
{
    ngx_http_upbot_parser_t  *p;

    p = ngx_pcalloc(pool, sizeof(ngx_http_upbot_parser_t));
    if (p == NULL) {
        return NULL;
    }

    /* bodies are shallow: deeper ones get frames from the pool */

    p->frames = p->first_frames;
    p->nframes = NGX_HTTP_UPBOT_FIRST_FRAMES;

    p->pool = pool;
    p->limits = limits;
    p->shape = shape;
    p->out = out;

    return p;
}


/* a piece of a body that comes in several: kept until the last */

ngx_int_t
ngx_http_upbot_parser_feed(ngx_http_upbot_parser_t *p, u_char *data,
    size_t len)
{
    u_char  *buf;
    size_t   size;

    if (p->len + len > p->size) {
        size = ngx_max(2 * p->size, p->len + len);
        size = ngx_max(size, 1024);

        buf = ngx_pnalloc(p->pool, size);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        if (p->len) {
            ngx_memcpy(buf, p->buf, p->len);
        }

        p->buf = buf;
        p->size = size;
    }

    ngx_memcpy(p->buf + p->len, data, len);
    p->len += len;

    return NGX_OK;
}


ngx_int_t
ngx_http_upbot_parser_finish(ngx_http_upbot_parser_t *p)
{
    return ngx_http_upbot_parser_run(p, p->buf, p->len);
}


/*
 * A whole body, read in place: the strings of the request point into it,
 * so it must live as long as the request.
 */

ngx_int_t
ngx_http_upbot_parser_run(ngx_http_upbot_parser_t *p, u_char *data,
    size_t len)
{
    ngx_int_t  rc;

    rc = ngx_http_upbot_json_read(data, len, &ngx_http_upbot_handler, p,
                                  p->limits->max_depth + 1, p->pool,
                                  &p->error);

    if (p->refused) {
        return NGX_DECLINED;
    }

    switch (rc) {

    case NGX_OK:
        return NGX_OK;

    case NGX_DECLINED:
        p->refused = 1;
        return NGX_DECLINED;

    default:
        /* NGX_ABORT without a reason: no memory in a handler */
        return NGX_ERROR;
    }
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


    if (p->depth == p->limits->max_depth) {
        (void) ngx_http_upbot_refuse(p, NULL,
                                     "JSON nested deeper than %ui levels",
                                     p->limits->max_depth);
        return NULL;
    }

    if (p->depth == p->nframes) {
        f = ngx_palloc(p->pool, 2 * p->nframes
                                * sizeof(ngx_http_upbot_frame_t));
        if (f == NULL) {
            return NULL;
        }

        ngx_memcpy(f, p->frames, p->depth * sizeof(ngx_http_upbot_frame_t));
        p->frames = f;
        p->nframes *= 2;
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
    str->data = (u_char *) s;
    str->len = len;

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
    str->data = (u_char *) s;
    str->len = len;

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
    ngx_uint_t                     index;
    const ngx_http_upbot_shape_t  *shape;
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

        shape = top->shape;
        index = top->list->nelts - 1;

        /* "top" may move: the frames grow */

        f = ngx_http_upbot_push(p);
        if (f == NULL) {
            return 0;
        }

        f->shape = shape;
        f->obj = obj;
        f->in_list = 1;
        f->index = index;
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

        /* the length and the first byte turn most names away */

        if (field->name.len == len && field->name.data[0] == s[0]
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
