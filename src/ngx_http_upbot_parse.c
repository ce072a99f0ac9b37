
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The request shapes of seeds 000 and 001, and the walk that fills them:
 * an object's members are expected in the shape's order, so a name is
 * mostly one compare with the field that comes next, and each value is
 * read straight into its field.  A body in one memory buffer is read in
 * place (strings point into it); a body in pieces is gathered into one
 * buffer first.
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

#define NGX_HTTP_UPBOT_NOT_EMPTY        0x02
#define NGX_HTTP_UPBOT_IS_CODE          0x04   /* trimmed, code length */

#define NGX_HTTP_UPBOT_INT32_MAX        2147483647
#define NGX_HTTP_UPBOT_INT53_MAX        9007199254740991LL

#define NGX_HTTP_UPBOT_ERROR_LEN        256


/*
 * A field's bit is kept as its mask: as a number, its shifts took 21
 * instructions more a GetMediaInfo body, 72 an event batch of 3.
 */

typedef struct ngx_http_upbot_field_s  ngx_http_upbot_field_t;

struct ngx_http_upbot_field_s {
    ngx_str_t                       name;
    u_char                          quoted[16];   /* name + '": ' */
    int                             want;         /* its len + 1 bits */
    int                             want_colon;   /* its len + 3 bits */
    ngx_uint_t                      type;
    ngx_uint_t                      flags;
    ngx_uint_t                      mask;     /* its bit; aliases share it */
    size_t                          offset;
    int64_t                         min;
    int64_t                         max;
    const ngx_http_upbot_shape_t   *shape;    /* objects and lists */
    const ngx_http_upbot_field_t   *next;     /* the last's: the first */
};


struct ngx_http_upbot_shape_s {
    const ngx_http_upbot_field_t   *fields;
    ngx_uint_t                      nfields;
    size_t                          size;
    ngx_uint_t                      required;     /* their bits, as given */
};


#define ngx_http_upbot_bit(n)  ((ngx_uint_t) 1 << (n))


#define ngx_http_upbot_nfields(f)  (sizeof(f) / sizeof(f[0]))

/* a shape's fields, how many */
#define ngx_http_upbot_fields(f)  f, ngx_http_upbot_nfields(f)

/*
 * A field's name, and as it ends in a body, with the usual ": " after it
 * (at most 13 bytes, so that this fits a compare of 16).
 */
#define ngx_http_upbot_name(n)                                               \
    ngx_string(n), n "\": ", (1 << sizeof(n)) - 1, (1 << (sizeof(n) + 2)) - 1


static const ngx_http_upbot_field_t  ngx_http_upbot_account_fields[] = {

    { ngx_http_upbot_name("account_type"), NGX_HTTP_UPBOT_INTEGER,
      0, ngx_http_upbot_bit(NGX_HTTP_UPBOT_ACCOUNT_TYPE),
      offsetof(ngx_http_upbot_account_t, account_type), 1, 3, NULL,
      &ngx_http_upbot_account_fields[1] },

    { ngx_http_upbot_name("appid"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_NOT_EMPTY,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_ACCOUNT_APPID),
      offsetof(ngx_http_upbot_account_t, appid), 0, 0, NULL,
      &ngx_http_upbot_account_fields[2] },

    { ngx_http_upbot_name("openid"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_NOT_EMPTY,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_ACCOUNT_OPENID),
      offsetof(ngx_http_upbot_account_t, openid), 0, 0, NULL,
      &ngx_http_upbot_account_fields[0] },
};

static const ngx_http_upbot_shape_t  ngx_http_upbot_account_shape = {
    ngx_http_upbot_fields(ngx_http_upbot_account_fields),
    sizeof(ngx_http_upbot_account_t),
    ngx_http_upbot_bit(NGX_HTTP_UPBOT_ACCOUNT_TYPE)
    | ngx_http_upbot_bit(NGX_HTTP_UPBOT_ACCOUNT_APPID)
    | ngx_http_upbot_bit(NGX_HTTP_UPBOT_ACCOUNT_OPENID)
};


static const ngx_http_upbot_field_t  ngx_http_upbot_media_info_fields[] = {

    { ngx_http_upbot_name("account_info"), NGX_HTTP_UPBOT_OBJECT,
      0, ngx_http_upbot_bit(0),
      offsetof(ngx_http_upbot_media_info_req_t, account_info), 0, 0,
      &ngx_http_upbot_account_shape,
      &ngx_http_upbot_media_info_fields[1] },

    { ngx_http_upbot_name("media_type"), NGX_HTTP_UPBOT_INTEGER,
      0, ngx_http_upbot_bit(1),
      offsetof(ngx_http_upbot_media_info_req_t, media_type),
      1, NGX_HTTP_UPBOT_INT32_MAX, NULL,
      &ngx_http_upbot_media_info_fields[2] },

    { ngx_http_upbot_name("code"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_NOT_EMPTY
      |NGX_HTTP_UPBOT_IS_CODE, ngx_http_upbot_bit(2),
      offsetof(ngx_http_upbot_media_info_req_t, code), 0, 0, NULL,
      &ngx_http_upbot_media_info_fields[3] },

    { ngx_http_upbot_name("trace_id"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_NOT_EMPTY, ngx_http_upbot_bit(3),
      offsetof(ngx_http_upbot_media_info_req_t, trace_id), 0, 0, NULL,
      &ngx_http_upbot_media_info_fields[0] },
};

const ngx_http_upbot_shape_t  ngx_http_upbot_media_info_shape = {
    ngx_http_upbot_fields(ngx_http_upbot_media_info_fields),
    sizeof(ngx_http_upbot_media_info_req_t),
    ngx_http_upbot_bit(0) | ngx_http_upbot_bit(1) | ngx_http_upbot_bit(2)
    | ngx_http_upbot_bit(3)
};


static const ngx_http_upbot_field_t  ngx_http_upbot_device_fields[] = {

    { ngx_http_upbot_name("device_type"), NGX_HTTP_UPBOT_INTEGER, 0,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_DEVICE_TYPE),
      offsetof(ngx_http_upbot_device_t, device_type), 1, 2, NULL,
      &ngx_http_upbot_device_fields[1] },

    { ngx_http_upbot_name("uuid"), NGX_HTTP_UPBOT_STRING, 0,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_DEVICE_UUID),
      offsetof(ngx_http_upbot_device_t, uuid), 0, 0, NULL,
      &ngx_http_upbot_device_fields[0] },
};

static const ngx_http_upbot_shape_t  ngx_http_upbot_device_shape = {
    ngx_http_upbot_fields(ngx_http_upbot_device_fields),
    sizeof(ngx_http_upbot_device_t),
    0
};


static const ngx_http_upbot_field_t  ngx_http_upbot_head_fields[] = {

    { ngx_http_upbot_name("account_info"), NGX_HTTP_UPBOT_OBJECT,
      0, ngx_http_upbot_bit(0),
      offsetof(ngx_http_upbot_head_t, account_info), 0, 0,
      &ngx_http_upbot_account_shape,
      &ngx_http_upbot_head_fields[1] },

    { ngx_http_upbot_name("device_info"), NGX_HTTP_UPBOT_OBJECT, 0,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_HEAD_DEVICE),
      offsetof(ngx_http_upbot_head_t, device_info), 0, 0,
      &ngx_http_upbot_device_shape,
      &ngx_http_upbot_head_fields[0] },
};

static const ngx_http_upbot_shape_t  ngx_http_upbot_head_shape = {
    ngx_http_upbot_fields(ngx_http_upbot_head_fields),
    sizeof(ngx_http_upbot_head_t),
    ngx_http_upbot_bit(0)
};


/* none of an item's fields is required by seed 001 */
static const ngx_http_upbot_field_t  ngx_http_upbot_item_fields[] = {

    { ngx_http_upbot_name("event_id"), NGX_HTTP_UPBOT_STRING_OR_INT,
      NGX_HTTP_UPBOT_NOT_EMPTY,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_ITEM_EVENT_ID),
      offsetof(ngx_http_upbot_event_item_t, event_id),
      0, NGX_HTTP_UPBOT_INT53_MAX, NULL,
      &ngx_http_upbot_item_fields[1] },

    { ngx_http_upbot_name("event_time"), NGX_HTTP_UPBOT_INTEGER, 0,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_ITEM_EVENT_TIME),
      offsetof(ngx_http_upbot_event_item_t, event_time),
      0, NGX_HTTP_UPBOT_INT53_MAX, NULL,
      &ngx_http_upbot_item_fields[2] },

    { ngx_http_upbot_name("media_type"), NGX_HTTP_UPBOT_INTEGER, 0,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_ITEM_MEDIA_TYPE),
      offsetof(ngx_http_upbot_event_item_t, media_type),
      1, NGX_HTTP_UPBOT_INT32_MAX, NULL,
      &ngx_http_upbot_item_fields[3] },

    { ngx_http_upbot_name("code"), NGX_HTTP_UPBOT_STRING,
      NGX_HTTP_UPBOT_NOT_EMPTY|NGX_HTTP_UPBOT_IS_CODE,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_ITEM_CODE),
      offsetof(ngx_http_upbot_event_item_t, code), 0, 0, NULL,
      &ngx_http_upbot_item_fields[4] },

    { ngx_http_upbot_name("trace_id"), NGX_HTTP_UPBOT_STRING, 0,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_ITEM_TRACE_ID),
      offsetof(ngx_http_upbot_event_item_t, trace_id), 0, 0, NULL,
      &ngx_http_upbot_item_fields[5] },

    { ngx_http_upbot_name("duration"), NGX_HTTP_UPBOT_INTEGER, 0,
      ngx_http_upbot_bit(NGX_HTTP_UPBOT_ITEM_DURATION),
      offsetof(ngx_http_upbot_event_item_t, duration),
      0, NGX_HTTP_UPBOT_INT32_MAX, NULL,
      &ngx_http_upbot_item_fields[0] },
};

static const ngx_http_upbot_shape_t  ngx_http_upbot_item_shape = {
    ngx_http_upbot_fields(ngx_http_upbot_item_fields),
    sizeof(ngx_http_upbot_event_item_t),
    0
};


/* seed 001's table says "item", its example "items": both, never both */
static const ngx_http_upbot_field_t  ngx_http_upbot_media_event_fields[] = {

    { ngx_http_upbot_name("head"), NGX_HTTP_UPBOT_OBJECT,
      0, ngx_http_upbot_bit(0),
      offsetof(ngx_http_upbot_media_event_req_t, head), 0, 0,
      &ngx_http_upbot_head_shape,
      &ngx_http_upbot_media_event_fields[1] },

    { ngx_http_upbot_name("items"), NGX_HTTP_UPBOT_LIST,
      NGX_HTTP_UPBOT_NOT_EMPTY, ngx_http_upbot_bit(1),
      offsetof(ngx_http_upbot_media_event_req_t, items), 0, 0,
      &ngx_http_upbot_item_shape,
      &ngx_http_upbot_media_event_fields[2] },

    { ngx_http_upbot_name("item"), NGX_HTTP_UPBOT_LIST,
      NGX_HTTP_UPBOT_NOT_EMPTY, ngx_http_upbot_bit(1),
      offsetof(ngx_http_upbot_media_event_req_t, items), 0, 0,
      &ngx_http_upbot_item_shape,
      &ngx_http_upbot_media_event_fields[0] },
};

const ngx_http_upbot_shape_t  ngx_http_upbot_media_event_shape = {
    ngx_http_upbot_fields(ngx_http_upbot_media_event_fields),
    sizeof(ngx_http_upbot_media_event_req_t),
    ngx_http_upbot_bit(0) | ngx_http_upbot_bit(1)
};




/* where a value is, for the reasons a body is refused: items[2].code */
typedef struct ngx_http_upbot_path_s  ngx_http_upbot_path_t;

struct ngx_http_upbot_path_s {
    ngx_http_upbot_path_t          *parent;
    const ngx_http_upbot_field_t   *via;      /* NULL: an item of a list */
    ngx_uint_t                      index;
};


static const char  *ngx_http_upbot_type_names[] = {
    "a string", "an integer", "a string or an integer", "an object",
    "a list of objects"
};


static ngx_int_t ngx_http_upbot_read_object(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_shape_t *shape, u_char *obj,
    ngx_http_upbot_path_t *path, ngx_uint_t depth);
static ngx_inline ngx_int_t ngx_http_upbot_read_member(
    ngx_http_upbot_parser_t *p, const ngx_http_upbot_shape_t *shape,
    u_char *obj, ngx_http_upbot_path_t *path, ngx_uint_t depth,
    u_char **pos, u_char *last, const ngx_http_upbot_field_t **expect);
static ngx_inline ngx_int_t ngx_http_upbot_member_name(
    ngx_http_upbot_parser_t *p, const ngx_http_upbot_shape_t *shape,
    u_char *obj, ngx_http_upbot_path_t *path, u_char **pos, u_char *last,
    const ngx_http_upbot_field_t **expect,
    const ngx_http_upbot_field_t **field);
static ngx_inline ngx_int_t ngx_http_upbot_read_plain(
    ngx_http_upbot_parser_t *p, const ngx_http_upbot_field_t *field,
    u_char *obj, ngx_http_upbot_path_t *path, u_char **pos, u_char *last);
static ngx_inline ngx_int_t ngx_http_upbot_check_required(
    ngx_http_upbot_parser_t *p, const ngx_http_upbot_shape_t *shape,
    u_char *obj, ngx_http_upbot_path_t *path);
static ngx_inline const ngx_http_upbot_field_t *ngx_http_upbot_field_at(
    const ngx_http_upbot_shape_t *shape, u_char *pos, u_char *last,
    const ngx_http_upbot_field_t **expect, ngx_uint_t *tail);
static const ngx_http_upbot_field_t *ngx_http_upbot_field_find(
    const ngx_http_upbot_shape_t *shape, u_char *pos, u_char *last,
    const ngx_http_upbot_field_t **expect, ngx_uint_t *tail);
static ngx_int_t ngx_http_upbot_read_name(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_shape_t *shape,
    const ngx_http_upbot_field_t **field);
static ngx_int_t ngx_http_upbot_read_value(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, u_char *obj,
    ngx_http_upbot_path_t *path, ngx_uint_t depth);
static ngx_int_t ngx_http_upbot_read_string(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, u_char *obj,
    ngx_http_upbot_path_t *path);
static ngx_int_t ngx_http_upbot_read_number(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, u_char *obj,
    ngx_http_upbot_path_t *path);
static ngx_inline ngx_int_t ngx_http_upbot_set_string(
    ngx_http_upbot_parser_t *p, const ngx_http_upbot_field_t *field,
    u_char *obj, ngx_http_upbot_path_t *path, ngx_str_t *s, ngx_uint_t decoded);
static ngx_inline ngx_int_t ngx_http_upbot_set_number(
    ngx_http_upbot_parser_t *p, const ngx_http_upbot_field_t *field,
    u_char *obj, ngx_http_upbot_path_t *path, ngx_int_t rc, int64_t n,
    ngx_str_t *text);
static ngx_int_t ngx_http_upbot_read_list(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, ngx_array_t *list,
    ngx_http_upbot_path_t *path, ngx_uint_t depth);
static ngx_int_t ngx_http_upbot_too_deep(ngx_http_upbot_parser_t *p,
    ngx_http_upbot_path_t *path);
static ngx_int_t ngx_http_upbot_wrong_type(ngx_http_upbot_parser_t *p,
    ngx_http_upbot_path_t *path, const ngx_http_upbot_field_t *field);
static ngx_int_t ngx_http_upbot_refuse(ngx_http_upbot_parser_t *p,
    ngx_http_upbot_path_t *path, const ngx_http_upbot_field_t *field,
    const char *fmt, ...);
static u_char *ngx_http_upbot_put_path(u_char *pos, u_char *last,
    u_char *start, ngx_http_upbot_path_t *path);


#define ngx_http_upbot_mark(obj, field)                                      \
    ((ngx_uint_t *) (obj))[0] |= (field)->mask


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

    ngx_http_upbot_parser_init(p, pool, shape, out, limits);

    return p;
}


/* a parser in zeroed memory of the caller's */

void
ngx_http_upbot_parser_init(ngx_http_upbot_parser_t *p, ngx_pool_t *pool,
    const ngx_http_upbot_shape_t *shape, void *out,
    const ngx_http_upbot_limits_t *limits)
{
    p->pool = pool;
    p->limits = *limits;
    p->shape = shape;
    p->out = out;
}


/* a piece of a body that comes in several: kept until the last */

ngx_int_t
ngx_http_upbot_parser_feed(ngx_http_upbot_parser_t *p, u_char *data,
    size_t len)
{
    u_char  *buf;
    size_t   size;

    if (len == 0) {
        return NGX_OK;
    }

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
    /* nothing fed, no buffer: the body is empty */
    return ngx_http_upbot_parser_run(p, p->buf ? p->buf : (u_char *) "",
                                     p->len);
}


/*
 * A whole body, read in place: the strings of the request point into it,
 * so it must live as long as the request.
 */

ngx_int_t
ngx_http_upbot_parser_run(ngx_http_upbot_parser_t *p, u_char *data,
    size_t len)
{
    ngx_int_t               rc;
    ngx_http_upbot_json_t  *j;

    j = &p->json;

    j->start = data;
    j->pos = data;
    j->last = data + len;
    j->pool = p->pool;
    j->error = &p->error;

    ngx_http_upbot_json_space(j);

    if (j->pos == j->last) {
        rc = ngx_http_upbot_json_fail(j, j->pos, "the body is empty");

    } else if (*j->pos == '{') {
        j->pos++;

        rc = ngx_http_upbot_read_object(p, p->shape, p->out, NULL, 1);

        if (rc == NGX_OK) {
            ngx_http_upbot_json_space(j);

            if (j->pos != j->last) {
                rc = ngx_http_upbot_json_fail(j, j->pos,
                                              "data after the JSON value");
            }
        }

    } else {
        /* a scalar is read first: if it is not JSON, that is the reason */

        rc = (*j->pos == '[') ? NGX_OK : ngx_http_upbot_json_skip(j, 0, 0);

        if (rc == NGX_OK) {
            rc = ngx_http_upbot_refuse(p, NULL, NULL,
                                       "the body must be a JSON object");
        }
    }

    return rc;
}


ngx_str_t *
ngx_http_upbot_parser_error(ngx_http_upbot_parser_t *p)
{
    return &p->error;
}


void
ngx_http_upbot_trim(ngx_str_t *s)
{
    /* mostly there is none */

    if (s->len && s->data[0] > ' ' && s->data[s->len - 1] > ' ') {
        return;
    }

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
 * The members of an object, its "{" read; "depth" objects and arrays are
 * open, this one with them.  The walk keeps its place in "pos": the usual
 * member, a known name and a plain string or a small integer, is read
 * without going through j->pos; anything else goes through j->pos to the
 * functions that read every case.  The steps below are inlined into this
 * loop, so "pos" stays in a register; "last" is handed down, since a field
 * set through "obj" could be j->last for all the compiler knows.
 */

static ngx_int_t
ngx_http_upbot_read_object(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_shape_t *shape, u_char *obj,
    ngx_http_upbot_path_t *path, ngx_uint_t depth)
{
    u_char                        *pos, *last;
    ngx_int_t                      rc;
    ngx_http_upbot_json_t         *j;
    const ngx_http_upbot_field_t  *expect;

    j = &p->json;
    last = j->last;
    expect = shape->fields;

    pos = ngx_http_upbot_json_space_at(j->pos, last);

    if (pos < last && *pos == '}') {
        pos++;
        goto done;
    }

    for ( ;; ) {
        rc = ngx_http_upbot_read_member(p, shape, obj, path, depth, &pos,
                                        last, &expect);
        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_http_upbot_json_after(&pos, last, '}');

        if (rc == NGX_DONE) {
            break;
        }

        if (rc != NGX_OK) {
            j->pos = pos;
            return ngx_http_upbot_json_next_fail(j, '}');
        }
    }

done:

    j->pos = pos;

    return ngx_http_upbot_check_required(p, shape, obj, path);
}


/*
 * One member of an object, from its name at *pos; *pos ends past its
 * value.  *expect: the field expected next (ngx_http_upbot_field_at()).
 */

static ngx_inline ngx_int_t
ngx_http_upbot_read_member(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_shape_t *shape, u_char *obj,
    ngx_http_upbot_path_t *path, ngx_uint_t depth, u_char **pos,
    u_char *last, const ngx_http_upbot_field_t **expect)
{
    ngx_int_t                      rc;
    ngx_http_upbot_json_t         *j;
    const ngx_http_upbot_field_t  *field;

    rc = ngx_http_upbot_member_name(p, shape, obj, path, pos, last, expect,
                                    &field);
    if (rc != NGX_OK) {
        return rc;
    }

    j = &p->json;

    if (field == NULL) {
        /* a member the shape does not know: checked, then left */

        j->pos = *pos;

        rc = ngx_http_upbot_json_skip(j, depth, p->limits.max_depth);

        if (rc == NGX_ABORT) {
            return ngx_http_upbot_too_deep(p, path);
        }

        *pos = j->pos;

        return rc;
    }

    rc = ngx_http_upbot_read_plain(p, field, obj, path, pos, last);

    if (rc == NGX_AGAIN) {
        j->pos = *pos;

        rc = ngx_http_upbot_read_value(p, field, obj, path, depth);

        *pos = j->pos;
    }

    return rc;
}


/*
 * A member's name, the ":" and the white space after it, from *pos;
 * *pos ends at the value.  *field: the field it names, or NULL for one the
 * shape does not know.  A field may be given once.
 */

static ngx_inline ngx_int_t
ngx_http_upbot_member_name(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_shape_t *shape, u_char *obj,
    ngx_http_upbot_path_t *path, u_char **pos, u_char *last,
    const ngx_http_upbot_field_t **expect,
    const ngx_http_upbot_field_t **field)
{
    u_char                 *at;
    ngx_int_t               rc;
    ngx_uint_t              tail;
    ngx_http_upbot_json_t  *j;

    j = &p->json;
    at = *pos;

    *field = ngx_http_upbot_field_at(shape, at, last, expect, &tail);

    if (*field) {
        at += 1 + (*field)->name.len + tail;

    } else {
        j->pos = at;

        rc = ngx_http_upbot_read_name(p, shape, field);
        if (rc != NGX_OK) {
            return rc;
        }

        at = j->pos;
        tail = 1;
    }

    if (*field && (((ngx_uint_t *) obj)[0] & (*field)->mask)) {
        return ngx_http_upbot_refuse(p, path, *field, "given twice");
    }

    /* the ":" and a space after it, unless matched with the name */

    if (tail == 1) {
        if (at < last && *at == ':') {
            at++;

        } else {
            j->pos = at;

            rc = ngx_http_upbot_json_colon(j);
            if (rc != NGX_OK) {
                return rc;
            }

            at = j->pos;
        }

        at = ngx_http_upbot_json_space_at(at, last);
    }

    *pos = at;

    return NGX_OK;
}


/*
 * The usual value, at *pos: a string with nothing to decode or an integer
 * that fits, read and set here.  NGX_AGAIN, *pos unmoved: any other value,
 * for ngx_http_upbot_read_value().
 */

static ngx_inline ngx_int_t
ngx_http_upbot_read_plain(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, u_char *obj,
    ngx_http_upbot_path_t *path, u_char **pos, u_char *last)
{
    u_char     *at, *end;
    int64_t     n;
    ngx_str_t   s;

    at = *pos;

    if (at == last) {
        return NGX_AGAIN;
    }

    if (*at == '"') {
        end = ngx_http_upbot_json_plain_run(at + 1, last);

        if (end == last || *end != '"') {
            return NGX_AGAIN;
        }

        s.data = at + 1;
        s.len = end - s.data;
        *pos = end + 1;

        return ngx_http_upbot_set_string(p, field, obj, path, &s, 0);
    }

    end = ngx_http_upbot_json_int_end(at, last, &n);

    if (end == NULL) {
        return NGX_AGAIN;
    }

    s.data = at;
    s.len = end - at;
    *pos = end;

    return ngx_http_upbot_set_number(p, field, obj, path, NGX_OK, n, &s);
}


/* the object is read: every field its shape requires must have been there */

static ngx_inline ngx_int_t
ngx_http_upbot_check_required(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_shape_t *shape, u_char *obj,
    ngx_http_upbot_path_t *path)
{
    ngx_uint_t                     i;
    const ngx_http_upbot_field_t  *field;

    if ((((ngx_uint_t *) obj)[0] & shape->required) == shape->required) {
        return NGX_OK;
    }

    for (i = 0; i < shape->nfields; i++) {
        field = &shape->fields[i];

        if ((shape->required & field->mask)
            && !(((ngx_uint_t *) obj)[0] & field->mask))
        {
            return ngx_http_upbot_refuse(p, path, field, "missing");
        }
    }

    return NGX_OK;
}


/*
 * The field whose name is at "pos", from the one after the last found
 * (*expect: the "next" of the last found, the first after the last field,
 * so no end is looked for a member, 3 instructions); NULL when none
 * is.  A field's name is plain ASCII, so bytes that equal it and a closing
 * quote are that JSON string.  *tail: how many bytes after the name were
 * matched, 1 (its quote) or 3 (": ").
 */

static ngx_inline const ngx_http_upbot_field_t *
ngx_http_upbot_field_at(const ngx_http_upbot_shape_t *shape, u_char *pos,
    u_char *last, const ngx_http_upbot_field_t **expect, ngx_uint_t *tail)
{
    const ngx_http_upbot_field_t  *field;

    if (pos == last || *pos != '"') {
        return NULL;
    }

    /* mostly the field after the last one found */

    field = *expect;

    *tail = ngx_http_upbot_json_is(pos + 1, last, field->quoted,
                                   field->name.len, field->want,
                                   field->want_colon);
    if (*tail) {
        *expect = field->next;
        return field;
    }

    return ngx_http_upbot_field_find(shape, pos, last, expect, tail);
}


/* the field whose name is at "pos", any of the shape's */

static const ngx_http_upbot_field_t *
ngx_http_upbot_field_find(const ngx_http_upbot_shape_t *shape, u_char *pos,
    u_char *last, const ngx_http_upbot_field_t **expect, ngx_uint_t *tail)
{
    ngx_uint_t                     i;
    const ngx_http_upbot_field_t  *field;

    for (i = 0; i < shape->nfields; i++) {
        field = &shape->fields[i];

        *tail = ngx_http_upbot_json_is(pos + 1, last, field->quoted,
                                       field->name.len, field->want,
                                       field->want_colon);
        if (*tail) {
            *expect = field->next;
            return field;
        }
    }

    return NULL;
}


/*
 * A member's name that ngx_http_upbot_field_at() did not find: read as
 * JSON; *field is the one it names once decoded, or NULL.  Only a name
 * with escapes can still name a field.
 */

static ngx_int_t
ngx_http_upbot_read_name(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_shape_t *shape,
    const ngx_http_upbot_field_t **field)
{
    ngx_int_t   rc;
    ngx_str_t   name;
    ngx_uint_t  i, decoded;

    *field = NULL;

    rc = ngx_http_upbot_json_name(&p->json, &name, &decoded);

    if (rc != NGX_OK || !decoded) {
        return rc;
    }

    for (i = 0; i < shape->nfields; i++) {
        if (shape->fields[i].name.len == name.len
            && ngx_memcmp(shape->fields[i].name.data, name.data, name.len)
               == 0)
        {
            *field = &shape->fields[i];
            break;
        }
    }

    return NGX_OK;
}


/*
 * The value of a known field.  Its type is checked as soon as its first
 * byte shows it, and a scalar is read as JSON before that: a body is
 * refused for the first thing wrong in it.
 */

static ngx_int_t
ngx_http_upbot_read_value(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, u_char *obj,
    ngx_http_upbot_path_t *path, ngx_uint_t depth)
{
    ngx_int_t               rc;
    ngx_array_t            *list;
    ngx_http_upbot_path_t   sub;
    ngx_http_upbot_json_t  *j;

    j = &p->json;

    ngx_http_upbot_json_space(j);

    if (j->pos == j->last) {
        return ngx_http_upbot_json_fail(j, j->pos, "the body ends too early");
    }

    switch (*j->pos) {

    case '"':
        return ngx_http_upbot_read_string(p, field, obj, path);

    case '{':
        if (field->type != NGX_HTTP_UPBOT_OBJECT) {
            return ngx_http_upbot_wrong_type(p, path, field);
        }

        if (depth == p->limits.max_depth) {
            return ngx_http_upbot_too_deep(p, path);
        }

        ngx_http_upbot_mark(obj, field);
        j->pos++;

        sub.parent = path;
        sub.via = field;

        return ngx_http_upbot_read_object(p, field->shape, obj + field->offset,
                                          &sub, depth + 1);

    case '[':
        if (field->type != NGX_HTTP_UPBOT_LIST) {
            return ngx_http_upbot_wrong_type(p, path, field);
        }

        if (depth == p->limits.max_depth) {
            return ngx_http_upbot_too_deep(p, path);
        }

        list = ngx_array_create(p->pool, 4, field->shape->size);
        if (list == NULL) {
            return NGX_ERROR;
        }

        ngx_http_upbot_mark(obj, field);
        *(ngx_array_t **) (obj + field->offset) = list;
        j->pos++;

        sub.parent = path;
        sub.via = field;

        return ngx_http_upbot_read_list(p, field, list, &sub, depth + 1);

    default:
        if (*j->pos == '-' || (*j->pos >= '0' && *j->pos <= '9')) {
            return ngx_http_upbot_read_number(p, field, obj, path);
        }

        rc = ngx_http_upbot_json_literal(j);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_upbot_wrong_type(p, path, field);
    }
}


static ngx_int_t
ngx_http_upbot_read_string(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, u_char *obj,
    ngx_http_upbot_path_t *path)
{
    ngx_int_t   rc;
    ngx_str_t   s;
    ngx_uint_t  decoded;

    rc = ngx_http_upbot_json_string(&p->json, &s, &decoded);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_upbot_set_string(p, field, obj, path, &s, decoded);
}


/* a string read for a field: its type, its limits, then into the field */

static ngx_inline ngx_int_t
ngx_http_upbot_set_string(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, u_char *obj,
    ngx_http_upbot_path_t *path, ngx_str_t *s, ngx_uint_t decoded)
{
    ngx_str_t  code;

    if (field->type != NGX_HTTP_UPBOT_STRING
        && field->type != NGX_HTTP_UPBOT_STRING_OR_INT)
    {
        return ngx_http_upbot_wrong_type(p, path, field);
    }

    if (s->len > p->limits.max_string_length) {
        return ngx_http_upbot_refuse(p, path, field, "longer than %uz bytes",
                                     p->limits.max_string_length);
    }

    if (field->flags & NGX_HTTP_UPBOT_IS_CODE) {

        /*
         * trimmed in a copy: "s" of the caller then stays in registers (10
         * instructions less a string, and no stack canary to check)
         */

        code = *s;
        ngx_http_upbot_trim(&code);
        *s = code;

        if (s->len > p->limits.max_code_length) {
            return ngx_http_upbot_refuse(p, path, field,
                                         "longer than %uz bytes",
                                         p->limits.max_code_length);
        }
    }

    if (s->len == 0 && (field->flags & NGX_HTTP_UPBOT_NOT_EMPTY)) {
        return ngx_http_upbot_refuse(p, path, field, "must not be empty");
    }

    *(ngx_str_t *) (obj + field->offset) = *s;

    ngx_http_upbot_mark(obj, field);
    ((ngx_uint_t *) obj)[1] |= decoded ? field->mask : 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_read_number(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, u_char *obj,
    ngx_http_upbot_path_t *path)
{
    int64_t     n;
    ngx_int_t   rc;
    ngx_str_t   text;

    rc = ngx_http_upbot_json_number(&p->json, &text, &n);

    if (rc == NGX_DECLINED || rc == NGX_ERROR) {
        return rc;
    }

    return ngx_http_upbot_set_number(p, field, obj, path, rc, n, &text);
}


/*
 * A number read for a field, as ngx_http_upbot_json_number() returned it
 * ("rc"): its type, its range, then into the field.
 */

static ngx_inline ngx_int_t
ngx_http_upbot_set_number(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, u_char *obj,
    ngx_http_upbot_path_t *path, ngx_int_t rc, int64_t n, ngx_str_t *text)
{
    if (field->type != NGX_HTTP_UPBOT_INTEGER
        && field->type != NGX_HTTP_UPBOT_STRING_OR_INT)
    {
        return ngx_http_upbot_wrong_type(p, path, field);
    }

    if (rc == NGX_DONE) {
        return ngx_http_upbot_refuse(p, path, field, "must be an integer");
    }

    if (rc == NGX_ABORT || n < field->min || n > field->max) {
        return ngx_http_upbot_refuse(p, path, field,
                                     "%*s is out of range %L..%L",
                                     ngx_min(text->len, 32), text->data,
                                     field->min, field->max);
    }

    ngx_http_upbot_mark(obj, field);

    if (field->type == NGX_HTTP_UPBOT_INTEGER) {
        *(int64_t *) (obj + field->offset) = n;

    } else {
        *(ngx_str_t *) (obj + field->offset) = *text;
    }

    return NGX_OK;
}


/* the items of a list, its "[" read */

static ngx_int_t
ngx_http_upbot_read_list(ngx_http_upbot_parser_t *p,
    const ngx_http_upbot_field_t *field, ngx_array_t *list,
    ngx_http_upbot_path_t *path, ngx_uint_t depth)
{
    u_char                 *item;
    ngx_int_t               rc;
    ngx_http_upbot_path_t   sub;
    ngx_http_upbot_json_t  *j;

    j = &p->json;

    ngx_http_upbot_json_space(j);

    if (j->pos < j->last && *j->pos == ']') {
        j->pos++;
        goto done;
    }

    for ( ;; ) {
        ngx_http_upbot_json_space(j);

        if (j->pos == j->last) {
            return ngx_http_upbot_json_fail(j, j->pos,
                                            "the body ends too early");
        }

        if (*j->pos != '{') {
            /* a scalar is read first: if it is not JSON, that is the reason */

            rc = (*j->pos == '[') ? NGX_OK : ngx_http_upbot_json_skip(j, 0, 0);

            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_upbot_refuse(p, path, NULL,
                                         "must hold objects only");
        }

        if (list->nelts == p->limits.max_items) {
            return ngx_http_upbot_refuse(p, path, NULL, "more than %ui items",
                                         p->limits.max_items);
        }

        item = ngx_array_push(list);
        if (item == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(item, field->shape->size);

        if (depth == p->limits.max_depth) {
            return ngx_http_upbot_too_deep(p, path);
        }

        j->pos++;

        sub.parent = path;
        sub.via = NULL;
        sub.index = list->nelts - 1;

        rc = ngx_http_upbot_read_object(p, field->shape, item, &sub,
                                        depth + 1);
        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_http_upbot_json_next(j, ']');

        if (rc == NGX_DONE) {
            break;
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

done:

    if (list->nelts == 0 && (field->flags & NGX_HTTP_UPBOT_NOT_EMPTY)) {
        return ngx_http_upbot_refuse(p, path->parent, field,
                                     "must not be empty");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_too_deep(ngx_http_upbot_parser_t *p,
    ngx_http_upbot_path_t *path)
{
    return ngx_http_upbot_refuse(p, path, NULL,
                                 "JSON nested deeper than %ui levels",
                                 p->limits.max_depth);
}


static ngx_int_t
ngx_http_upbot_wrong_type(ngx_http_upbot_parser_t *p,
    ngx_http_upbot_path_t *path, const ngx_http_upbot_field_t *field)
{
    return ngx_http_upbot_refuse(p, path, field, "must be %s",
                                 ngx_http_upbot_type_names[field->type]);
}


/*
 * Records why the body is refused, with the path of the value:
 * "items[2].event_time: must be an integer".  Returns NGX_DECLINED.
 */

static ngx_int_t
ngx_http_upbot_refuse(ngx_http_upbot_parser_t *p, ngx_http_upbot_path_t *path,
    const ngx_http_upbot_field_t *field, const char *fmt, ...)
{
    u_char   *buf, *pos, *last;
    va_list   args;

    buf = ngx_pnalloc(p->pool, NGX_HTTP_UPBOT_ERROR_LEN);
    if (buf == NULL) {
        ngx_str_set(&p->error, "invalid request");
        return NGX_DECLINED;
    }

    last = buf + NGX_HTTP_UPBOT_ERROR_LEN;

    pos = ngx_http_upbot_put_path(buf, last, buf, path);

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

    return NGX_DECLINED;
}


/* from the top down; the path is as deep as the shapes, a few levels */

static u_char *
ngx_http_upbot_put_path(u_char *pos, u_char *last, u_char *start,
    ngx_http_upbot_path_t *path)
{
    if (path == NULL) {
        return pos;
    }

    pos = ngx_http_upbot_put_path(pos, last, start, path->parent);

    if (path->via == NULL) {
        return ngx_slprintf(pos, last, "[%ui]", path->index);
    }

    return ngx_slprintf(pos, last, "%s%V", pos == start ? "" : ".",
                        &path->via->name);
}
