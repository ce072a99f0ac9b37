
/*
 * Copyright (C) 2026, the upbot authors
 *
 * JSON on the hot path, without yajl: the pieces of a strict reader for
 * request bodies (RFC 8259, UTF-8 checked), one value at a time, so that
 * the parser (ngx_http_upbot_parse.c) walks a body by its expected shape
 * and reads each value straight into its field; the writer's escaping,
 * the same bytes yajl_gen makes; and the one sanitiser of client bytes for
 * logs and headers.  Depends on the nginx core only.
 */


#ifndef _NGX_HTTP_UPBOT_JSON_H_INCLUDED_
#define _NGX_HTTP_UPBOT_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#if (defined __SSE2__ && defined __GNUC__)
#include <emmintrin.h>
#define NGX_HTTP_UPBOT_SSE2  1
#endif


typedef struct {
    u_char                         *start;
    u_char                         *pos;
    u_char                         *last;
    ngx_pool_t                     *pool;    /* for strings with escapes */
    ngx_str_t                      *error;   /* "invalid JSON at byte N: …" */
} ngx_http_upbot_json_t;


/*
 * Each reads one token at j->pos and moves past it.  NGX_OK: read;
 * NGX_DECLINED: not JSON, *j->error says where and why; NGX_ERROR: no
 * memory.
 */

/* the part of ngx_http_upbot_json_string() after "p", plain ASCII before */
ngx_int_t ngx_http_upbot_json_string_from(ngx_http_upbot_json_t *j,
    u_char *p, ngx_str_t *s, ngx_uint_t *decoded);

/* ngx_http_upbot_json_number(), every case of it */
ngx_int_t ngx_http_upbot_json_number_any(ngx_http_upbot_json_t *j,
    ngx_str_t *text, int64_t *value);

/* true, false or null */
ngx_int_t ngx_http_upbot_json_literal(ngx_http_upbot_json_t *j);

/* a member's name: a string, and nothing else, must be there */
ngx_int_t ngx_http_upbot_json_name(ngx_http_upbot_json_t *j, ngx_str_t *name,
    ngx_uint_t *decoded);

/*
 * Any value, checked and passed over.  "depth" objects and arrays are open
 * around it; NGX_ABORT: it would open more than max_depth.
 */
ngx_int_t ngx_http_upbot_json_skip(ngx_http_upbot_json_t *j,
    ngx_uint_t depth, ngx_uint_t max_depth);

/* why what follows a member or an element is not JSON */
ngx_int_t ngx_http_upbot_json_next_fail(ngx_http_upbot_json_t *j,
    u_char close);

/* records why the input is not JSON; returns NGX_DECLINED (or NGX_ERROR) */
ngx_int_t ngx_http_upbot_json_fail(ngx_http_upbot_json_t *j, u_char *at,
    const char *what);


/* the white space at p: where it ends */
u_char *ngx_http_upbot_json_space_end(u_char *p, u_char *last);


/*
 * Each piece below works on a position "p" of its own, so that a walk over
 * a body can keep its place in a register; the ngx_http_upbot_json_t
 * forms wrap them.
 */

/* where the white space at p ends */

static ngx_inline u_char *
ngx_http_upbot_json_space_at(u_char *p, u_char *last)
{
#if (NGX_HTTP_UPBOT_SSE2)
    int       bits;
    __m128i   v;
#endif

    /* the usual token follows another directly */

    if (p < last && *p > ' ') {
        return p;
    }

#if (NGX_HTTP_UPBOT_SSE2)

    /*
     * else mostly a space, or a line feed and an indent: the first byte in
     * a block of 16 that is neither a space nor a line feed is the token,
     * unless it is a tab or a carriage return, rare enough to be left to
     * the full scan (the checks for one space first took 8 instructions
     * more a member of a pretty-printed body)
     */

    if (last - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);

        bits = _mm_movemask_epi8(
                   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
                                _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))))
               ^ 0xffff;

        if (bits) {
            p += __builtin_ctz(bits);

            if (*p != '\t' && *p != '\r') {
                return p;
            }
        }

    } else {

        /*
         * the end of the body, "\n}\n" or so: here, where the calls for
         * it took 12 instructions more a GetMediaInfo body
         */

        while (p < last && (*p == ' ' || *p == '\n')) {
            p++;
        }

        if (p == last || *p > ' ') {
            return p;
        }
    }

#else

    if (last - p >= 2 && p[0] == ' ' && p[1] > ' ') {
        return p + 1;
    }

#endif

    return ngx_http_upbot_json_space_end(p, last);
}


static ngx_inline void
ngx_http_upbot_json_space(ngx_http_upbot_json_t *j)
{
    j->pos = ngx_http_upbot_json_space_at(j->pos, j->last);
}


/*
 * Inside a string, from p: the first byte that is '"', '\\', a control
 * character or 0x80 and over, 16 bytes at a time; or where fewer than 16
 * are left.  Every byte before the position returned is plain ASCII, so a
 * '"' there closes a string that needs no decoding.
 */

static ngx_inline u_char *
ngx_http_upbot_json_plain_run(u_char *p, u_char *last)
{
#if (NGX_HTTP_UPBOT_SSE2)
    int       bits;
    __m128i   v, hit;

    while (last - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);

        /* '"', '\\', and (signed) 0x00-0x1f and 0x80-0xff alike */

        hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                        _mm_cmpeq_epi8(v,
                                                       _mm_set1_epi8('\\'))),
                           _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));

        bits = _mm_movemask_epi8(hit);

        if (bits) {
            return p + __builtin_ctz(bits);
        }

        p += 16;
    }
#endif

    return p;
}


/*
 * A string at its opening quote.  One without escapes is handed out in
 * place (*decoded = 0), and is then also its own JSON form; one with
 * escapes is decoded into the pool (*decoded = 1).  Inline: the usual
 * string is short printable ASCII.
 */

static ngx_inline ngx_int_t
ngx_http_upbot_json_string(ngx_http_upbot_json_t *j, ngx_str_t *s,
    ngx_uint_t *decoded)
{
    u_char  *p;

    p = ngx_http_upbot_json_plain_run(j->pos + 1, j->last);

    if (p < j->last && *p == '"') {
        s->data = j->pos + 1;
        s->len = p - s->data;
        j->pos = p + 1;
        *decoded = 0;
        return NGX_OK;
    }

    return ngx_http_upbot_json_string_from(j, p, s, decoded);
}


/*
 * The usual number at p: a positive integer of at most 18 digits, with
 * something after it that ends it.  Where it ends, its value in *value;
 * NULL for any other number, which ngx_http_upbot_json_number_any() reads.
 */

static ngx_inline u_char *
ngx_http_upbot_json_int_end(u_char *p, u_char *last, int64_t *value)
{
    u_char    *start;
    uint64_t   n;
#if (NGX_HAVE_LITTLE_ENDIAN)
    uint64_t   w;
#endif

    start = p;

    if (*p < '1' || *p > '9') {
        return NULL;
    }

    n = *p++ - '0';

    /* a digit alone is common (a type), and too short for the eight below */

    if (p < last && (u_char) (*p - '0') > 9) {
        goto end;
    }

    /* 18 digits never overflow; eight at a time where they can be */

#if (NGX_HAVE_LITTLE_ENDIAN)
    while (last - p >= 8 && p - start <= 10) {
        ngx_memcpy(&w, p, 8);

        if (((w & 0xf0f0f0f0f0f0f0f0ULL)
             | (((w + 0x0606060606060606ULL) & 0xf0f0f0f0f0f0f0f0ULL) >> 4))
            != 0x3333333333333333ULL)
        {
            break;
        }

        /* the bytes are little-endian digits: pairs, quads, octet */

        w -= 0x3030303030303030ULL;
        w = (w * 10) + (w >> 8);
        w = (((w & 0x000000ff000000ffULL) * (100 + (1000000ULL << 32)))
             + (((w >> 16) & 0x000000ff000000ffULL)
                * (1 + (10000ULL << 32)))) >> 32;

        n = n * 100000000 + w;
        p += 8;
    }
#endif

    while (p < last && (u_char) (*p - '0') <= 9 && p - start < 18) {
        n = n * 10 + (*p++ - '0');
    }

end:

    if (p == last || (u_char) (*p - '0') <= 9
        || *p == '.' || *p == 'e' || *p == 'E')
    {
        return NULL;
    }

    *value = (int64_t) n;

    return p;
}


/*
 * A number, its text in *text; besides NGX_OK (an integer of at most
 * 2^63-1 in magnitude, in *value): NGX_ABORT, its integer part is larger;
 * NGX_DONE, it has a fraction or an exponent.
 */

static ngx_inline ngx_int_t
ngx_http_upbot_json_number(ngx_http_upbot_json_t *j, ngx_str_t *text,
    int64_t *value)
{
    u_char  *p;

    p = ngx_http_upbot_json_int_end(j->pos, j->last, value);

    if (p) {
        text->data = j->pos;
        text->len = p - j->pos;
        j->pos = p;
        return NGX_OK;
    }

    return ngx_http_upbot_json_number_any(j, text, value);
}


/* the ":" after a name */

static ngx_inline ngx_int_t
ngx_http_upbot_json_colon(ngx_http_upbot_json_t *j)
{
    if (j->pos < j->last && *j->pos == ':') {
        j->pos++;
        return NGX_OK;
    }

    ngx_http_upbot_json_space(j);

    if (j->pos == j->last || *j->pos != ':') {
        return ngx_http_upbot_json_fail(j, j->pos, "\":\" expected");
    }

    j->pos++;

    return NGX_OK;
}


/*
 * After a member or an element, at *p: NGX_OK, past a "," and the space
 * after it; NGX_DONE, past the "close" of the object or array;
 * NGX_DECLINED, neither (*p at what is there instead).
 */

static ngx_inline ngx_int_t
ngx_http_upbot_json_after(u_char **p, u_char *last, u_char close)
{
    u_char  *pos;

    pos = ngx_http_upbot_json_space_at(*p, last);

    if (pos < last) {
        if (*pos == ',') {
            *p = ngx_http_upbot_json_space_at(pos + 1, last);
            return NGX_OK;
        }

        if (*pos == close) {
            *p = pos + 1;
            return NGX_DONE;
        }
    }

    *p = pos;

    return NGX_DECLINED;
}


static ngx_inline ngx_int_t
ngx_http_upbot_json_next(ngx_http_upbot_json_t *j, u_char close)
{
    ngx_int_t  rc;

    rc = ngx_http_upbot_json_after(&j->pos, j->last, close);

    if (rc == NGX_DECLINED) {
        return ngx_http_upbot_json_next_fail(j, close);
    }

    return rc;
}


/*
 * Whether the bytes at "p" (past an opening quote) are a name of "len"
 * plain ASCII bytes and its closing quote, the first len + 1 of "quoted":
 * 0 if not; 1 if so; 3 if the ": " that follows in "quoted" is there too.
 * "want" has the low len + 1 bits set, "want_colon" the low len + 3.  Such
 * bytes are that JSON string, with no need to read it.
 */

static ngx_inline ngx_uint_t
ngx_http_upbot_json_is(const u_char *p, const u_char *last,
    const u_char quoted[16], size_t len, int want, int want_colon)
{
#if (NGX_HTTP_UPBOT_SSE2)
    int  bits;

    if (last - p >= 16) {
        bits = _mm_movemask_epi8(
                   _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *) p),
                                  _mm_loadu_si128((const __m128i *) quoted)));

        if ((bits & want_colon) == want_colon) {
            return 3;
        }

        return (bits & want) == want;
    }
#endif

    if ((size_t) (last - p) <= len || p[0] != quoted[0]
        || ngx_memcmp(p, quoted, len + 1) != 0)
    {
        return 0;
    }

    return ((size_t) (last - p) > len + 2 && p[len + 1] == ':'
            && p[len + 2] == ' ') ? 3 : 1;
}


/* whether s is its own JSON form: nothing in it needs escaping */
ngx_uint_t ngx_http_upbot_json_safe(const u_char *s, size_t len);

/* the length of s as the inside of a JSON string */
size_t ngx_http_upbot_json_escaped_len(const u_char *s, size_t len);

/* writes s escaped as yajl_gen does (no "/" escaped, \u001F upper case) */
u_char *ngx_http_upbot_json_escape(u_char *dst, const u_char *s, size_t len);


/*
 * Client bytes for a log line or a header: control characters (below 0x20
 * and 0x7f), and with "quote" also '"', are written as '?'.  dst may be s.
 */
u_char *ngx_http_upbot_printable(u_char *dst, const u_char *s, size_t len,
    ngx_uint_t quote);

/* whether ngx_http_upbot_printable() would leave s as it is */
ngx_uint_t ngx_http_upbot_is_printable(const u_char *s, size_t len,
    ngx_uint_t quote);


#endif /* _NGX_HTTP_UPBOT_JSON_H_INCLUDED_ */
