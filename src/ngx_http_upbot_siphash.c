
/*
 * Copyright (C) 2026, the upbot authors
 *
 * SipHash-2-4 (Aumasson, Bernstein 2012), written from the paper: the
 * keyed hash of API tokens and of $request_id's counter.  Pure; its known
 * answers are checked by t/105-siphash.t.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_upbot_siphash.h"


#define ngx_http_upbot_rotl(x, b)  (((x) << (b)) | ((x) >> (64 - (b))))

#define ngx_http_upbot_sipround(v0, v1, v2, v3)                              \
    v0 += v1; v1 = ngx_http_upbot_rotl(v1, 13); v1 ^= v0;                    \
    v0 = ngx_http_upbot_rotl(v0, 32);                                        \
    v2 += v3; v3 = ngx_http_upbot_rotl(v3, 16); v3 ^= v2;                    \
    v0 += v3; v3 = ngx_http_upbot_rotl(v3, 21); v3 ^= v0;                    \
    v2 += v1; v1 = ngx_http_upbot_rotl(v1, 17); v1 ^= v2;                    \
    v2 = ngx_http_upbot_rotl(v2, 32)


/*
 * Of data under the key k0, k1; inlined where the length is known, so
 * that its loops are unrolled (the pair below)
 */

#if (defined __GNUC__)
static ngx_inline __attribute__((always_inline)) uint64_t
#else
static ngx_inline uint64_t
#endif
ngx_http_upbot_siphash_of(uint64_t k0, uint64_t k1, const u_char *data,
    size_t len)
{
    size_t      i;
    uint64_t    v0, v1, v2, v3, m;
    ngx_uint_t  j;

    v0 = k0 ^ 0x736f6d6570736575ULL;
    v1 = k1 ^ 0x646f72616e646f6dULL;
    v2 = k0 ^ 0x6c7967656e657261ULL;
    v3 = k1 ^ 0x7465646279746573ULL;

    /* whole little-endian words, then the rest with the length on top */

    for (i = 0; i + 8 <= len; i += 8) {
#if (NGX_HAVE_LITTLE_ENDIAN)
        ngx_memcpy(&m, data + i, 8);
#else
        m = 0;

        for (j = 0; j < 8; j++) {
            m |= (uint64_t) data[i + j] << (8 * j);
        }
#endif

        v3 ^= m;
        ngx_http_upbot_sipround(v0, v1, v2, v3);
        ngx_http_upbot_sipround(v0, v1, v2, v3);
        v0 ^= m;
    }

    m = (uint64_t) (len & 0xff) << 56;

    for (j = 0; i + j < len; j++) {
        m |= (uint64_t) data[i + j] << (8 * j);
    }

    v3 ^= m;
    ngx_http_upbot_sipround(v0, v1, v2, v3);
    ngx_http_upbot_sipround(v0, v1, v2, v3);
    v0 ^= m;

    v2 ^= 0xff;

    for (j = 0; j < 4; j++) {
        ngx_http_upbot_sipround(v0, v1, v2, v3);
    }

    return v0 ^ v1 ^ v2 ^ v3;
}


uint64_t
ngx_http_upbot_siphash(uint64_t k0, uint64_t k1, const u_char *data,
    size_t len)
{
    return ngx_http_upbot_siphash_of(k0, k1, data, len);
}


/*
 * Of two 8-byte words, in one call and with no loop: $request_id's two
 * halves took 318 instructions as two calls of the above, 283 so.
 */

void
ngx_http_upbot_siphash_pair(uint64_t k0, uint64_t k1, const u_char *a,
    const u_char *b, uint64_t out[2])
{
    out[0] = ngx_http_upbot_siphash_of(k0, k1, a, 8);
    out[1] = ngx_http_upbot_siphash_of(k0, k1, b, 8);
}
