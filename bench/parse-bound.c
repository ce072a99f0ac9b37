
/*
 * Copyright (C) 2026, the upbot authors
 *
 * For bench/parse-bound.sh: the instructions a request body costs the
 * module's parser, beside those that only the first stage of a parser
 * built on a structural index would cost (the design of simdjson: each 64
 * bytes classified with SIMD, strings found by a prefix xor of the
 * quotes, then the positions of the structural bytes listed for a second
 * stage to walk).  The question (issue 15) was whether such a parser
 * could take an event batch to 1.5x the instructions of `return 200`.
 *
 * The index is a lower bound, not a parser: it checks no UTF-8, reads no
 * value and fills no field; a parser on it costs at least this much.
 * Built with -mssse3 or -mavx2 it classifies bytes with nibble tables
 * (pshufb) instead of a compare per byte; with -mpclmul the prefix xor is
 * one carry-less multiplication.
 *
 *   parse-bound parser info|event FILE N
 *   parse-bound index FILE N
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>

#include "ngx_stubs.h"
#include "ngx_http_upbot_json.h"
#include "ngx_http_upbot_parse.h"


#if (defined __AVX2__)

typedef __m256i  bound_vec_t;

#define BOUND_WIDTH    32
#define BOUND_LANE     0xffffffffULL
#define bound_load(p)  _mm256_loadu_si256((const __m256i *) (p))
#define bound_eq(v, c) _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c))
#define bound_lt(v, c) _mm256_cmpgt_epi8(_mm256_set1_epi8(c), v)
#define bound_or(a, b) _mm256_or_si256(a, b)
#define bound_and(v, c) _mm256_and_si256(v, _mm256_set1_epi8(c))
#define bound_bits(v)  ((uint64_t) (uint32_t) _mm256_movemask_epi8(v))
#define bound_nibble_hi(v)  bound_and(_mm256_srli_epi16(v, 4), 0x0f)
#define bound_lookup(t, i)                                                   \
    _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(t), i)
#define bound_both(a, b)    _mm256_and_si256(a, b)

#else

typedef __m128i  bound_vec_t;

#define BOUND_WIDTH    16
#define BOUND_LANE     0xffffULL
#define bound_load(p)  _mm_loadu_si128((const __m128i *) (p))
#define bound_eq(v, c) _mm_cmpeq_epi8(v, _mm_set1_epi8(c))
#define bound_lt(v, c) _mm_cmplt_epi8(v, _mm_set1_epi8(c))
#define bound_or(a, b) _mm_or_si128(a, b)
#define bound_and(v, c) _mm_and_si128(v, _mm_set1_epi8(c))
#define bound_bits(v)  ((uint64_t) (uint32_t) _mm_movemask_epi8(v))
#define bound_nibble_hi(v)  bound_and(_mm_srli_epi16(v, 4), 0x0f)
#define bound_lookup(t, i)  _mm_shuffle_epi8(t, i)
#define bound_both(a, b)    _mm_and_si128(a, b)

#endif


/* the classes of the nibble tables: ',' ':' brackets, then white space */
#define BOUND_OP       0x07
#define BOUND_SPACE    0x18


static long bound_index(const u_char *buf, size_t len);
static long bound_parser(const ngx_http_upbot_shape_t *shape, void *out,
    u_char *buf, size_t len);


static uint32_t  bound_positions[65536];


/*
 * The structural positions of a body: a "{", "}", "[", "]", ":" or ","
 * outside strings, every unescaped quote and the first byte of every
 * number or literal.  Returns how many, or -1 for a control byte inside a
 * string or a byte over 0x7f outside one.
 */

static __attribute__((noinline, noclone)) long
bound_index(const u_char *buf, size_t len)
{
    long            n;
    size_t          i, k;
    u_char          tail[64];
    uint64_t        quote, slash, space, op, low, high, bad, in, scalar,
                    starts, begin, even, odd, escaped, carry, in_before,
                    slash_before, scalar_before;
    bound_vec_t     v;
    const u_char   *b;
#if (defined __SSSE3__)
    bound_vec_t     class;
    const __m128i   lo = _mm_setr_epi8(8, 0, 0, 0, 0, 0, 0, 0, 0, 16, 18, 4,
                                       1, 20, 0, 0);
    const __m128i   hi = _mm_setr_epi8(16, 0, 9, 2, 0, 4, 0, 4, 0, 0, 0, 0,
                                       0, 0, 0, 0);
#endif

    n = 0;
    bad = 0;
    in_before = 0;
    slash_before = 0;
    scalar_before = 0;

    for (i = 0; i < len; i += 64) {
        b = buf + i;

        if (len - i < 64) {
            memset(tail, ' ', 64);
            memcpy(tail, b, len - i);
            b = tail;
        }

        quote = 0;
        slash = 0;
        space = 0;
        op = 0;
        low = 0;
        high = 0;

        for (k = 0; k < 64; k += BOUND_WIDTH) {
            v = bound_load(b + k);

            quote |= bound_bits(bound_eq(v, '"')) << k;
            slash |= bound_bits(bound_eq(v, '\\')) << k;

#if (defined __SSSE3__)
            /* a byte's class: its low nibble's bits and its high one's */
            class = bound_both(bound_lookup(lo, bound_and(v, 0x0f)),
                               bound_lookup(hi, bound_nibble_hi(v)));

            space |= (~bound_bits(bound_eq(bound_and(class, BOUND_SPACE), 0))
                      & BOUND_LANE) << k;
            op |= (~bound_bits(bound_eq(bound_and(class, BOUND_OP), 0))
                   & BOUND_LANE) << k;
#else
            space |= bound_bits(bound_or(bound_or(bound_eq(v, ' '),
                                                  bound_eq(v, '\n')),
                                         bound_or(bound_eq(v, '\t'),
                                                  bound_eq(v, '\r'))))
                     << k;
            op |= bound_bits(bound_or(bound_or(bound_or(bound_eq(v, '{'),
                                                        bound_eq(v, '}')),
                                               bound_or(bound_eq(v, '['),
                                                        bound_eq(v, ']'))),
                                      bound_or(bound_eq(v, ':'),
                                               bound_eq(v, ','))))
                  << k;
#endif

            low |= bound_bits(bound_lt(v, 0x20)) << k;  /* and 0x80 up */
            high |= bound_bits(v) << k;
        }

        /* quotes after an odd run of backslashes are escaped */

        begin = slash & ~(slash << 1) & ~slash_before;
        even = begin & 0x5555555555555555ULL;
        odd = begin & ~0x5555555555555555ULL;
        carry = __builtin_add_overflow(slash, odd, &escaped);
        escaped = (((slash + even) & ~slash) & ~0x5555555555555555ULL)
                  | (((escaped | slash_before) & ~slash)
                     & 0x5555555555555555ULL);
        slash_before = carry;
        quote &= ~escaped;

        /* inside a string: an odd number of quotes before */

#if (defined __PCLMUL__)
        in = (uint64_t) _mm_cvtsi128_si64(
                 _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long) quote),
                                      _mm_set1_epi8((char) 0xff), 0));
#else
        in = quote;
        in ^= in << 1;
        in ^= in << 2;
        in ^= in << 4;
        in ^= in << 8;
        in ^= in << 16;
        in ^= in << 32;
#endif
        in ^= in_before;
        in_before = (uint64_t) ((int64_t) in >> 63);

        bad |= (low & ~high & in) | (high & ~in);

        scalar = ~(op | space | quote | in);
        starts = (op & ~in) | quote
                 | (scalar & ~((scalar << 1) | scalar_before));
        scalar_before = scalar >> 63;

        while (starts) {
            bound_positions[n++] = (uint32_t) (i + __builtin_ctzll(starts));
            starts &= starts - 1;
        }
    }

    return bad ? -1 : n;
}


static __attribute__((noinline, noclone)) long
bound_parser(const ngx_http_upbot_shape_t *shape, void *out, u_char *buf,
    size_t len)
{
    ngx_http_upbot_parser_t  *p;

    static const ngx_http_upbot_limits_t  limits = { 4096, 256, 100, 32 };

    p = ngx_http_upbot_parser_create(NULL, shape, out, &limits);
    if (p == NULL) {
        return -1;
    }

    if (ngx_http_upbot_parser_run(p, buf, len) != NGX_OK) {
        fprintf(stderr, "parse-bound: %.*s\n", (int) p->error.len,
                p->error.data);
        return -1;
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int                                n, i;
    long                               r;
    FILE                              *f;
    size_t                             len;
    ngx_uint_t                         parser;
    ngx_http_upbot_media_info_req_t    info;
    ngx_http_upbot_media_event_req_t   event;

    static u_char  buf[65536];

    parser = (argc == 5 && strcmp(argv[1], "parser") == 0);

    if (!parser && !(argc == 4 && strcmp(argv[1], "index") == 0)) {
        fprintf(stderr, "usage: parse-bound parser info|event FILE N\n"
                        "       parse-bound index FILE N\n");
        return 2;
    }

    f = fopen(argv[argc - 2], "rb");
    if (f == NULL) {
        perror(argv[argc - 2]);
        return 1;
    }

    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);

    n = atoi(argv[argc - 1]);
    r = 0;

    for (i = 0; i < n; i++) {
        if (!parser) {
            r = bound_index(buf, len);

        } else if (strcmp(argv[2], "info") == 0) {
            memset(&info, 0, sizeof(info));
            r = bound_parser(&ngx_http_upbot_media_info_shape, &info, buf, len);

        } else {
            memset(&event, 0, sizeof(event));
            r = bound_parser(&ngx_http_upbot_media_event_shape, &event, buf,
                             len);
        }

        fuzz_pool_free();

        if (r < 0) {
            return 1;
        }
    }

    printf("%ld\n", r);

    return 0;
}
