
/*
 * Copyright (C) 2026, the upbot authors
 *
 * A strict JSON reader and the writer's escaping (see the header).  The
 * reader keeps its nesting in a stack of bytes, one per open object or
 * array, and goes through the input once; the common string (printable
 * ASCII or valid UTF-8, no escapes) costs a table look-up a byte.
 */


#include "ngx_http_upbot_json.h"


#define NGX_HTTP_UPBOT_JSON_MAP     'm'
#define NGX_HTTP_UPBOT_JSON_ARRAY   'a'


typedef struct {
    u_char                                *start;
    u_char                                *p;
    u_char                                *last;
    ngx_str_t                              s;         /* the last string */
    ngx_pool_t                            *pool;
    const ngx_http_upbot_json_handler_t   *h;
    void                                  *ctx;
    ngx_str_t                             *error;
} ngx_http_upbot_json_reader_t;


/* the bytes a string holds as they are: printable ASCII but '"' and '\' */
static const u_char  ngx_http_upbot_json_plain[256] = {
    /* 0x00 - 0x1f: control characters */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /*    !  "  #  $  %  &  '  (  )  *  +  ,  -  .  / */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /*                                   \          */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80 - 0xff: UTF-8, checked on their own */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};


#define NGX_HTTP_UPBOT_ONES   0x0101010101010101ULL
#define NGX_HTTP_UPBOT_HIGHS  0x8080808080808080ULL

/* the bytes of w that are zero, in their high bits (exact if any is) */
#define ngx_http_upbot_zero_bytes(w)                                         \
    (((w) - NGX_HTTP_UPBOT_ONES) & ~(w) & NGX_HTTP_UPBOT_HIGHS)


/*
 * The first byte in [p, last) that is '"', '\\' or a control character,
 * or (with "high") 0x80 and over; last when there is none.  Eight bytes at
 * a time: strings are mostly such bytes, and long runs of them.
 */

static ngx_inline u_char *
ngx_http_upbot_json_scan(const u_char *p, const u_char *last, ngx_uint_t high)
{
    uint64_t  w, m;

    while (last - p >= 8) {
        ngx_memcpy(&w, p, 8);

        m = ngx_http_upbot_zero_bytes(w ^ (NGX_HTTP_UPBOT_ONES * '"'))
            | ngx_http_upbot_zero_bytes(w ^ (NGX_HTTP_UPBOT_ONES * '\\'))
            | ((w - NGX_HTTP_UPBOT_ONES * 0x20) & ~w & NGX_HTTP_UPBOT_HIGHS);

        if (high) {
            m |= w & NGX_HTTP_UPBOT_HIGHS;
        }

        if (m) {
            break;
        }

        p += 8;
    }

    while (p < last
           && (ngx_http_upbot_json_plain[*p] || (!high && *p >= 0x80)))
    {
        p++;
    }

    return (u_char *) p;
}


static ngx_int_t ngx_http_upbot_json_value(ngx_http_upbot_json_reader_t *rd,
    u_char *stack, ngx_uint_t *depth, ngx_uint_t max_depth);
static ngx_int_t ngx_http_upbot_json_name(ngx_http_upbot_json_reader_t *rd);
static ngx_int_t ngx_http_upbot_json_string(
    ngx_http_upbot_json_reader_t *rd);
static ngx_int_t ngx_http_upbot_json_unescape(
    ngx_http_upbot_json_reader_t *rd, u_char *start);
static int32_t ngx_http_upbot_json_hex4(u_char *p);
static ngx_int_t ngx_http_upbot_json_number(ngx_http_upbot_json_reader_t *rd);
static size_t ngx_http_upbot_json_utf8(u_char *p, u_char *last);
static ngx_int_t ngx_http_upbot_json_fail(ngx_http_upbot_json_reader_t *rd,
    u_char *at, const char *what);
static ngx_inline void ngx_http_upbot_json_skip_space(
    ngx_http_upbot_json_reader_t *rd);


ngx_int_t
ngx_http_upbot_json_read(u_char *buf, size_t len,
    const ngx_http_upbot_json_handler_t *h, void *ctx, ngx_uint_t max_depth,
    ngx_pool_t *pool, ngx_str_t *error)
{
    u_char                        *stack;
    ngx_int_t                      rc;
    ngx_uint_t                     depth;
    ngx_http_upbot_json_reader_t   rd;

    rd.start = buf;
    rd.p = buf;
    rd.last = buf + len;
    rd.pool = pool;
    rd.h = h;
    rd.ctx = ctx;
    rd.error = error;

    stack = ngx_pnalloc(pool, max_depth + 1);
    if (stack == NULL) {
        return NGX_ERROR;
    }

    depth = 0;

    ngx_http_upbot_json_skip_space(&rd);

    if (rd.p == rd.last) {
        return ngx_http_upbot_json_fail(&rd, rd.p, "the body is empty");
    }

    rc = ngx_http_upbot_json_value(&rd, stack, &depth, max_depth);

    /* after a value: a comma, the end of its container, or the end */

    while (rc == NGX_OK) {

        ngx_http_upbot_json_skip_space(&rd);

        if (depth == 0) {
            if (rd.p != rd.last) {
                return ngx_http_upbot_json_fail(&rd, rd.p,
                                                "data after the JSON value");
            }

            return NGX_OK;
        }

        if (rd.p == rd.last) {
            return ngx_http_upbot_json_fail(&rd, rd.p,
                                            "the body ends too early");
        }

        if (*rd.p == ',') {
            rd.p++;
            ngx_http_upbot_json_skip_space(&rd);

            if (stack[depth - 1] == NGX_HTTP_UPBOT_JSON_MAP) {
                rc = ngx_http_upbot_json_name(&rd);
                if (rc != NGX_OK) {
                    return rc;
                }
            }

            rc = ngx_http_upbot_json_value(&rd, stack, &depth, max_depth);
            continue;
        }

        if (*rd.p == (stack[depth - 1] == NGX_HTTP_UPBOT_JSON_MAP ? '}' : ']'))
        {
            rd.p++;

            if (!(stack[--depth] == NGX_HTTP_UPBOT_JSON_MAP
                  ? h->end_map(ctx) : h->end_array(ctx)))
            {
                return NGX_ABORT;
            }

            continue;
        }

        return ngx_http_upbot_json_fail(&rd, rd.p,
                                        stack[depth - 1]
                                        == NGX_HTTP_UPBOT_JSON_MAP
                                        ? "\",\" or \"}\" expected"
                                        : "\",\" or \"]\" expected");
    }

    return rc;
}


/*
 * One value; an object or an array is opened (and, when empty, closed)
 * here, its members are read by the loop above.
 */

static ngx_int_t
ngx_http_upbot_json_value(ngx_http_upbot_json_reader_t *rd, u_char *stack,
    ngx_uint_t *depth, ngx_uint_t max_depth)
{
    u_char                                *p;
    ngx_int_t                              rc;
    const ngx_http_upbot_json_handler_t   *h = rd->h;

    ngx_http_upbot_json_skip_space(rd);

    if (rd->p == rd->last) {
        return ngx_http_upbot_json_fail(rd, rd->p, "the body ends too early");
    }

    p = rd->p;

    switch (*p) {

    case '"':
        rc = ngx_http_upbot_json_string(rd);
        if (rc != NGX_OK) {
            return rc;
        }

        return h->string(rd->ctx, rd->s.data, rd->s.len) ? NGX_OK : NGX_ABORT;

    case '{':
    case '[':
        if (*depth == max_depth) {
            return ngx_http_upbot_json_fail(rd, p, "nested too deeply");
        }

        rd->p++;

        if (*p == '{') {
            stack[(*depth)++] = NGX_HTTP_UPBOT_JSON_MAP;

            if (!h->start_map(rd->ctx)) {
                return NGX_ABORT;
            }

            ngx_http_upbot_json_skip_space(rd);

            if (rd->p < rd->last && *rd->p == '}') {
                rd->p++;
                (*depth)--;
                return h->end_map(rd->ctx) ? NGX_OK : NGX_ABORT;
            }

            rc = ngx_http_upbot_json_name(rd);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_upbot_json_value(rd, stack, depth, max_depth);
        }

        stack[(*depth)++] = NGX_HTTP_UPBOT_JSON_ARRAY;

        if (!h->start_array(rd->ctx)) {
            return NGX_ABORT;
        }

        ngx_http_upbot_json_skip_space(rd);

        if (rd->p < rd->last && *rd->p == ']') {
            rd->p++;
            (*depth)--;
            return h->end_array(rd->ctx) ? NGX_OK : NGX_ABORT;
        }

        /* the first element: an array in an array recurses once a level */
        return ngx_http_upbot_json_value(rd, stack, depth, max_depth);

    case 't':
        if (rd->last - p >= 4 && ngx_strncmp(p, "true", 4) == 0) {
            rd->p += 4;
            return h->boolean(rd->ctx, 1) ? NGX_OK : NGX_ABORT;
        }

        break;

    case 'f':
        if (rd->last - p >= 5 && ngx_strncmp(p, "false", 5) == 0) {
            rd->p += 5;
            return h->boolean(rd->ctx, 0) ? NGX_OK : NGX_ABORT;
        }

        break;

    case 'n':
        if (rd->last - p >= 4 && ngx_strncmp(p, "null", 4) == 0) {
            rd->p += 4;
            return h->null(rd->ctx) ? NGX_OK : NGX_ABORT;
        }

        break;

    default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            return ngx_http_upbot_json_number(rd);
        }
    }

    return ngx_http_upbot_json_fail(rd, p, "a value expected");
}


/* a member's name and its ":"; the handler is told the name */

static ngx_int_t
ngx_http_upbot_json_name(ngx_http_upbot_json_reader_t *rd)
{
    ngx_int_t  rc;

    if (rd->p == rd->last || *rd->p != '"') {
        return ngx_http_upbot_json_fail(rd, rd->p,
                                        "a name in quotes expected");
    }

    rc = ngx_http_upbot_json_string(rd);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!rd->h->map_key(rd->ctx, rd->s.data, rd->s.len)) {
        return NGX_ABORT;
    }

    ngx_http_upbot_json_skip_space(rd);

    if (rd->p == rd->last || *rd->p != ':') {
        return ngx_http_upbot_json_fail(rd, rd->p, "\":\" expected");
    }

    rd->p++;

    return NGX_OK;
}


/* a string at rd->p (its opening quote) into rd->s; rd->p moves past it */

static ngx_int_t
ngx_http_upbot_json_string(ngx_http_upbot_json_reader_t *rd)
{
    u_char  *p, *start;
    size_t   n;

    start = rd->p + 1;

    for (p = start; p < rd->last; /* void */) {

        p = ngx_http_upbot_json_scan(p, rd->last, 1);

        if (p == rd->last) {
            break;
        }

        if (*p == '"') {
            rd->s.data = start;
            rd->s.len = p - start;
            rd->p = p + 1;
            return NGX_OK;
        }

        if (*p == '\\') {
            return ngx_http_upbot_json_unescape(rd, start);
        }

        if (*p < 0x20) {
            return ngx_http_upbot_json_fail(rd, p,
                                        "a control character in a string");
        }

        n = ngx_http_upbot_json_utf8(p, rd->last);
        if (n == 0) {
            return ngx_http_upbot_json_fail(rd, p, "invalid UTF-8");
        }

        p += n;
    }

    return ngx_http_upbot_json_fail(rd, p, "the body ends inside a string");
}


/* a string with escapes, decoded into the pool: never longer than it was */

static ngx_int_t
ngx_http_upbot_json_unescape(ngx_http_upbot_json_reader_t *rd, u_char *start)
{
    u_char    *p, *d, *out;
    size_t     n;
    int32_t    cp, lo;

    /* its end first, for the size of the copy */

    for (p = start; p < rd->last && *p != '"'; p++) {
        if (*p == '\\' && p + 1 < rd->last) {
            p++;
        }
    }

    out = ngx_pnalloc(rd->pool, p - start);
    if (out == NULL) {
        return NGX_ERROR;
    }

    d = out;

    for (p = start; p < rd->last; /* void */) {

        if (ngx_http_upbot_json_plain[*p]) {
            *d++ = *p++;
            continue;
        }

        if (*p == '"') {
            rd->s.data = out;
            rd->s.len = d - out;
            rd->p = p + 1;
            return NGX_OK;
        }

        if (*p < 0x20) {
            return ngx_http_upbot_json_fail(rd, p,
                                        "a control character in a string");
        }

        if (*p >= 0x80) {
            n = ngx_http_upbot_json_utf8(p, rd->last);
            if (n == 0) {
                return ngx_http_upbot_json_fail(rd, p, "invalid UTF-8");
            }

            d = ngx_cpymem(d, p, n);
            p += n;
            continue;
        }

        /* a backslash */

        if (rd->last - p < 2) {
            break;
        }

        switch (p[1]) {
        case '"':  *d++ = '"';  break;
        case '\\': *d++ = '\\'; break;
        case '/':  *d++ = '/';  break;
        case 'b':  *d++ = '\b'; break;
        case 'f':  *d++ = '\f'; break;
        case 'n':  *d++ = '\n'; break;
        case 'r':  *d++ = '\r'; break;
        case 't':  *d++ = '\t'; break;

        case 'u':
            cp = (rd->last - p < 6) ? -1 : ngx_http_upbot_json_hex4(p + 2);

            if (cp < 0) {
                return ngx_http_upbot_json_fail(rd, p, "an invalid \\u escape");
            }

            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return ngx_http_upbot_json_fail(rd, p,
                                                "a lone UTF-16 surrogate");
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* a pair: \uD83D\uDE00; 12 bytes make 4 */

                lo = (rd->last - p < 12 || p[6] != '\\' || p[7] != 'u')
                     ? -1 : ngx_http_upbot_json_hex4(p + 8);

                if (lo < 0xdc00 || lo > 0xdfff)
                {
                    return ngx_http_upbot_json_fail(rd, p,
                                                "a lone UTF-16 surrogate");
                }

                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }

            if (cp < 0x80) {
                *d++ = (u_char) cp;

            } else if (cp < 0x800) {
                *d++ = (u_char) (0xc0 | (cp >> 6));
                *d++ = (u_char) (0x80 | (cp & 0x3f));

            } else if (cp < 0x10000) {
                *d++ = (u_char) (0xe0 | (cp >> 12));
                *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
                *d++ = (u_char) (0x80 | (cp & 0x3f));

            } else {
                *d++ = (u_char) (0xf0 | (cp >> 18));
                *d++ = (u_char) (0x80 | ((cp >> 12) & 0x3f));
                *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
                *d++ = (u_char) (0x80 | (cp & 0x3f));
            }

            p += 6;
            continue;

        default:
            return ngx_http_upbot_json_fail(rd, p, "an invalid escape");
        }

        p += 2;
    }

    return ngx_http_upbot_json_fail(rd, rd->last, "the body ends inside a string");
}


/* four hex digits, or -1 */

static int32_t
ngx_http_upbot_json_hex4(u_char *p)
{
    u_char      c;
    int32_t     v;
    ngx_uint_t  i;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            v = v * 16 + (c - '0');

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v = v * 16 + ((c | 0x20) - 'a' + 10);

        } else {
            return -1;
        }
    }

    return v;
}


/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, handed out as text */

static ngx_int_t
ngx_http_upbot_json_number(ngx_http_upbot_json_reader_t *rd)
{
    u_char  *p, *start, *last;

    start = rd->p;
    p = start;
    last = rd->last;

    if (*p == '-') {
        p++;
    }

    if (p < last && *p == '0') {
        p++;

        if (p < last && *p >= '0' && *p <= '9') {
            return ngx_http_upbot_json_fail(rd, p, "an invalid number");
        }

    } else if (p < last && *p >= '1' && *p <= '9') {
        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

    } else {
        return ngx_http_upbot_json_fail(rd, p, "an invalid number");
    }

    if (p < last && *p == '.') {
        if (++p == last || *p < '0' || *p > '9') {
            return ngx_http_upbot_json_fail(rd, p, "an invalid number");
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == last || *p < '0' || *p > '9') {
            return ngx_http_upbot_json_fail(rd, p, "an invalid number");
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    rd->p = p;

    return rd->h->number(rd->ctx, (char *) start, p - start) ? NGX_OK
                                                             : NGX_ABORT;
}


/*
 * The length of the UTF-8 sequence at p, 0 when it is not one: no
 * overlong forms, no surrogates, nothing past U+10FFFF.
 */

static size_t
ngx_http_upbot_json_utf8(u_char *p, u_char *last)
{
    u_char  c;

    c = p[0];

    if (c >= 0xc2 && c <= 0xdf) {
        return (last - p >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
    }

    if (c >= 0xe0 && c <= 0xef) {
        if (last - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80
            || (c == 0xe0 && p[1] < 0xa0)           /* overlong */
            || (c == 0xed && p[1] > 0x9f))          /* a surrogate */
        {
            return 0;
        }

        return 3;
    }

    if (c >= 0xf0 && c <= 0xf4) {
        if (last - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80
            || (p[3] & 0xc0) != 0x80
            || (c == 0xf0 && p[1] < 0x90)           /* overlong */
            || (c == 0xf4 && p[1] > 0x8f))          /* past U+10FFFF */
        {
            return 0;
        }

        return 4;
    }

    return 0;
}


static ngx_inline void
ngx_http_upbot_json_skip_space(ngx_http_upbot_json_reader_t *rd)
{
    u_char  *p, *last;

    /* one compare turns most bytes away: no white space is above ' ' */

    for (p = rd->p, last = rd->last;
         p < last && *p <= ' '
         && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t');
         p++)
    {
        /* void */
    }

    rd->p = p;
}


static ngx_int_t
ngx_http_upbot_json_fail(ngx_http_upbot_json_reader_t *rd, u_char *at,
    const char *what)
{
    u_char  *msg, *last;

    if (at < rd->last && *at == '/') {
        what = "comments are not JSON";
    }

    msg = ngx_pnalloc(rd->pool, NGX_INT_T_LEN + 64 + ngx_strlen(what));
    if (msg == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(msg, "invalid JSON at byte %uz: %s",
                       (size_t) (at - rd->start), what);

    rd->error->data = msg;
    rd->error->len = last - msg;

    return NGX_DECLINED;
}


size_t
ngx_http_upbot_json_escaped_len(const u_char *s, size_t len)
{
    size_t         n;
    const u_char  *last;

    n = len;
    last = s + len;

    for ( ;; ) {
        s = ngx_http_upbot_json_scan(s, last, 0);

        if (s == last) {
            return n;
        }

        if (*s < 0x20) {
            n += (*s == '\b' || *s == '\f' || *s == '\n' || *s == '\r'
                  || *s == '\t') ? 1 : 5;

        } else {
            n++;                                /* '"' or '\\' */
        }

        s++;
    }
}


u_char *
ngx_http_upbot_json_escape(u_char *dst, const u_char *s, size_t len)
{
    const u_char  *last, *clean;

    static const u_char  hex[] = "0123456789ABCDEF";

    last = s + len;

    for ( ;; ) {
        clean = ngx_http_upbot_json_scan(s, last, 0);
        dst = ngx_cpymem(dst, s, clean - s);

        if (clean == last) {
            return dst;
        }

        s = clean;
        *dst++ = '\\';

        switch (*s) {
        case '"':  *dst++ = '"';  break;
        case '\\': *dst++ = '\\'; break;
        case '\b': *dst++ = 'b';  break;
        case '\f': *dst++ = 'f';  break;
        case '\n': *dst++ = 'n';  break;
        case '\r': *dst++ = 'r';  break;
        case '\t': *dst++ = 't';  break;

        default:
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = hex[*s >> 4];
            *dst++ = hex[*s & 0xf];
        }

        s++;
    }
}
