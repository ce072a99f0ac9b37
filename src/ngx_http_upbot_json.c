
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The pieces of a strict JSON reader, the writer's escaping and the
 * sanitiser of client bytes for logs (see the header).  The common string
 * (printable ASCII or valid UTF-8, no escapes) is found with a compare of
 * 16 bytes at a time (SSE2, part of every x86-64) or 8 (elsewhere) and
 * handed out in place.
 */


#include "ngx_http_upbot_json.h"


#define NGX_HTTP_UPBOT_INT64_MAX_10  922337203685477580ULL  /* (2^63-1)/10 */


/* the bytes a string holds as they are: printable ASCII but '"' and '\' */
static const u_char  ngx_http_upbot_json_verbatim[256] = {
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
 * or (with "high") 0x80 and over; last when there is none.  Strings are
 * mostly long runs of other bytes.
 */

static ngx_inline u_char *
ngx_http_upbot_json_scan(const u_char *p, const u_char *last, ngx_uint_t high)
{
    uint64_t  w, m;

#if (NGX_HTTP_UPBOT_SSE2)
    int       bits;
    __m128i   v, hit;

    while (last - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);

        hit = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                           _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));

        if (high) {
            /* signed: both 0x00-0x1f and 0x80-0xff are below 0x20 */
            hit = _mm_or_si128(hit, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));

        } else {
            /* unsigned v < 0x20 */
            hit = _mm_or_si128(hit,
                               _mm_cmpeq_epi8(
                                   _mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
        }

        bits = _mm_movemask_epi8(hit);

        if (bits) {
            return (u_char *) p + __builtin_ctz(bits);
        }

        p += 16;
    }
#endif

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
           && (ngx_http_upbot_json_verbatim[*p] || (!high && *p >= 0x80)))
    {
        p++;
    }

    return (u_char *) p;
}


/* pretty-printed bodies indent with runs of spaces: 16 bytes at a time */

u_char *
ngx_http_upbot_json_space_end(u_char *p, u_char *last)
{
#if (NGX_HTTP_UPBOT_SSE2)
    int       bits;
    __m128i   v, space;

    while (last - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);

        space = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))),
                    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))));

        bits = _mm_movemask_epi8(space) ^ 0xffff;

        if (bits) {
            return p + __builtin_ctz(bits);
        }

        p += 16;
    }
#endif

    while (p < last
           && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    {
        p++;
    }

    return p;
}


static ngx_int_t ngx_http_upbot_json_unescape(ngx_http_upbot_json_t *j,
    u_char *start, ngx_str_t *s);
static int32_t ngx_http_upbot_json_hex4(u_char *p);
static size_t ngx_http_upbot_json_utf8(u_char *p, u_char *last);


ngx_int_t
ngx_http_upbot_json_string_from(ngx_http_upbot_json_t *j, u_char *p,
    ngx_str_t *s, ngx_uint_t *decoded)
{
    u_char  *start, *last;
    size_t   n;

    start = j->pos + 1;
    last = j->last;

    while (p < last) {

        p = ngx_http_upbot_json_scan(p, last, 1);

        if (p == last) {
            break;
        }

        if (*p == '"') {
            s->data = start;
            s->len = p - start;
            j->pos = p + 1;
            *decoded = 0;
            return NGX_OK;
        }

        if (*p == '\\') {
            *decoded = 1;
            return ngx_http_upbot_json_unescape(j, start, s);
        }

        if (*p < 0x20) {
            return ngx_http_upbot_json_fail(j, p,
                                        "a control character in a string");
        }

        n = ngx_http_upbot_json_utf8(p, last);
        if (n == 0) {
            return ngx_http_upbot_json_fail(j, p, "invalid UTF-8");
        }

        p += n;
    }

    return ngx_http_upbot_json_fail(j, p, "the body ends inside a string");
}


/* a string with escapes, decoded into the pool: never longer than it was */

static ngx_int_t
ngx_http_upbot_json_unescape(ngx_http_upbot_json_t *j, u_char *start,
    ngx_str_t *s)
{
    u_char    *p, *d, *out;
    size_t     n;
    int32_t    cp, lo;

    /* its end first, for the size of the copy */

    for (p = start; p < j->last && *p != '"'; p++) {
        if (*p == '\\' && p + 1 < j->last) {
            p++;
        }
    }

    out = ngx_pnalloc(j->pool, p - start);
    if (out == NULL) {
        return NGX_ERROR;
    }

    d = out;

    for (p = start; p < j->last; /* void */) {

        if (ngx_http_upbot_json_verbatim[*p]) {
            *d++ = *p++;
            continue;
        }

        if (*p == '"') {
            s->data = out;
            s->len = d - out;
            j->pos = p + 1;
            return NGX_OK;
        }

        if (*p < 0x20) {
            return ngx_http_upbot_json_fail(j, p,
                                        "a control character in a string");
        }

        if (*p >= 0x80) {
            n = ngx_http_upbot_json_utf8(p, j->last);
            if (n == 0) {
                return ngx_http_upbot_json_fail(j, p, "invalid UTF-8");
            }

            d = ngx_cpymem(d, p, n);
            p += n;
            continue;
        }

        /* a backslash */

        if (j->last - p < 2) {
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
            cp = (j->last - p < 6) ? -1 : ngx_http_upbot_json_hex4(p + 2);

            if (cp < 0) {
                return ngx_http_upbot_json_fail(j, p, "an invalid \\u escape");
            }

            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return ngx_http_upbot_json_fail(j, p,
                                                "a lone UTF-16 surrogate");
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* a pair: \uD83D\uDE00; 12 bytes make 4 */

                lo = (j->last - p < 12 || p[6] != '\\' || p[7] != 'u')
                     ? -1 : ngx_http_upbot_json_hex4(p + 8);

                if (lo < 0xdc00 || lo > 0xdfff)
                {
                    return ngx_http_upbot_json_fail(j, p,
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
            return ngx_http_upbot_json_fail(j, p, "an invalid escape");
        }

        p += 2;
    }

    return ngx_http_upbot_json_fail(j, j->last,
                                    "the body ends inside a string");
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


/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, its value in passing */

ngx_int_t
ngx_http_upbot_json_number_any(ngx_http_upbot_json_t *j, ngx_str_t *text,
    int64_t *value)
{
    u_char      *p, *start, *last;
    uint64_t     n, d;
    ngx_int_t    rc;
    ngx_uint_t   negative, big;

    start = j->pos;
    p = start;
    last = j->last;

    negative = (*p == '-');
    p += negative;

    n = 0;
    big = 0;

    if (p < last && *p == '0') {
        p++;

        if (p < last && *p >= '0' && *p <= '9') {
            return ngx_http_upbot_json_fail(j, p, "an invalid number");
        }

    } else if (p < last && *p >= '1' && *p <= '9') {
        do {
            d = *p++ - '0';

            /* n * 10 + d must stay within 2^63-1 */

            if (n < NGX_HTTP_UPBOT_INT64_MAX_10
                || (n == NGX_HTTP_UPBOT_INT64_MAX_10 && d <= 7))
            {
                n = n * 10 + d;

            } else {
                big = 1;
            }

        } while (p < last && *p >= '0' && *p <= '9');

    } else {
        return ngx_http_upbot_json_fail(j, p, "an invalid number");
    }

    rc = NGX_OK;

    if (p < last && *p == '.') {
        if (++p == last || *p < '0' || *p > '9') {
            return ngx_http_upbot_json_fail(j, p, "an invalid number");
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        rc = NGX_DONE;
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == last || *p < '0' || *p > '9') {
            return ngx_http_upbot_json_fail(j, p, "an invalid number");
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        rc = NGX_DONE;
    }

    if (big) {
        rc = NGX_ABORT;             /* out of range before anything else */
    }

    text->data = start;
    text->len = p - start;
    j->pos = p;

    *value = negative ? - (int64_t) n : (int64_t) n;

    return rc;
}


ngx_int_t
ngx_http_upbot_json_literal(ngx_http_upbot_json_t *j)
{
    u_char  *p;
    size_t   len;

    p = j->pos;
    len = j->last - p;

    if ((*p == 't' && len >= 4 && ngx_strncmp(p, "true", 4) == 0)
        || (*p == 'n' && len >= 4 && ngx_strncmp(p, "null", 4) == 0))
    {
        j->pos += 4;
        return NGX_OK;
    }

    if (*p == 'f' && len >= 5 && ngx_strncmp(p, "false", 5) == 0) {
        j->pos += 5;
        return NGX_OK;
    }

    return ngx_http_upbot_json_fail(j, p, "a value expected");
}


ngx_int_t
ngx_http_upbot_json_name(ngx_http_upbot_json_t *j, ngx_str_t *name,
    ngx_uint_t *decoded)
{
    if (j->pos == j->last || *j->pos != '"') {
        return ngx_http_upbot_json_fail(j, j->pos,
                                        "a name in quotes expected");
    }

    return ngx_http_upbot_json_string(j, name, decoded);
}


ngx_int_t
ngx_http_upbot_json_next_fail(ngx_http_upbot_json_t *j, u_char close)
{
    if (j->pos == j->last) {
        return ngx_http_upbot_json_fail(j, j->pos, "the body ends too early");
    }

    return ngx_http_upbot_json_fail(j, j->pos,
                                    close == '}' ? "\",\" or \"}\" expected"
                                                 : "\",\" or \"]\" expected");
}


ngx_int_t
ngx_http_upbot_json_skip(ngx_http_upbot_json_t *j, ngx_uint_t depth,
    ngx_uint_t max_depth)
{
    u_char      close;
    int64_t     n;
    ngx_int_t   rc;
    ngx_str_t   s;
    ngx_uint_t  decoded;

    ngx_http_upbot_json_space(j);

    if (j->pos == j->last) {
        return ngx_http_upbot_json_fail(j, j->pos, "the body ends too early");
    }

    switch (*j->pos) {

    case '"':
        return ngx_http_upbot_json_string(j, &s, &decoded);

    case '{':
    case '[':
        if (depth == max_depth) {
            return NGX_ABORT;
        }

        close = (*j->pos == '{') ? '}' : ']';

        j->pos++;
        ngx_http_upbot_json_space(j);

        if (j->pos < j->last && *j->pos == close) {
            j->pos++;
            return NGX_OK;
        }

        for ( ;; ) {
            if (close == '}') {
                rc = ngx_http_upbot_json_name(j, &s, &decoded);

                if (rc == NGX_OK) {
                    rc = ngx_http_upbot_json_colon(j);
                }

                if (rc != NGX_OK) {
                    return rc;
                }
            }

            rc = ngx_http_upbot_json_skip(j, depth + 1, max_depth);
            if (rc != NGX_OK) {
                return rc;
            }

            rc = ngx_http_upbot_json_next(j, close);

            if (rc == NGX_DONE) {
                return NGX_OK;
            }

            if (rc != NGX_OK) {
                return rc;
            }
        }

    default:
        if (*j->pos == '-' || (*j->pos >= '0' && *j->pos <= '9')) {
            rc = ngx_http_upbot_json_number(j, &s, &n);
            return (rc == NGX_DONE || rc == NGX_ABORT) ? NGX_OK : rc;
        }

        return ngx_http_upbot_json_literal(j);
    }
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


ngx_int_t
ngx_http_upbot_json_fail(ngx_http_upbot_json_t *j, u_char *at,
    const char *what)
{
    u_char  *msg, *last;

    if (at < j->last && *at == '/') {
        what = "comments are not JSON";
    }

    msg = ngx_pnalloc(j->pool, NGX_INT_T_LEN + 64 + ngx_strlen(what));
    if (msg == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(msg, "invalid JSON at byte %uz: %s",
                       (size_t) (at - j->start), what);

    j->error->data = msg;
    j->error->len = last - msg;

    return NGX_DECLINED;
}


/*
 * An empty string may have no data (NULL): NULL + 0 and memcpy() from NULL
 * are undefined in C, so the three below return before either.
 */

ngx_uint_t
ngx_http_upbot_json_safe(const u_char *s, size_t len)
{
    if (len == 0) {
        return 1;
    }

    return ngx_http_upbot_json_scan(s, s + len, 0) == s + len;
}


size_t
ngx_http_upbot_json_escaped_len(const u_char *s, size_t len)
{
    size_t         n;
    const u_char  *last;

    if (len == 0) {
        return 0;
    }

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

    if (len == 0) {
        return dst;
    }

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


/* a byte that ngx_http_upbot_printable() shows as '?' */
#define ngx_http_upbot_unprintable(c, quote)                                 \
    ((c) < 0x20 || (c) == 0x7f || ((quote) && (c) == '"'))


u_char *
ngx_http_upbot_printable(u_char *dst, const u_char *s, size_t len,
    ngx_uint_t quote)
{
    const u_char  *last;

    for (last = s + len; s < last; s++) {
        *dst++ = ngx_http_upbot_unprintable(*s, quote) ? '?' : *s;
    }

    return dst;
}


ngx_uint_t
ngx_http_upbot_is_printable(const u_char *s, size_t len, ngx_uint_t quote)
{
    const u_char  *last;

    for (last = s + len; s < last; s++) {
        if (ngx_http_upbot_unprintable(*s, quote)) {
            return 0;
        }
    }

    return 1;
}
