/*
 * For t/105-siphash.t: prints SipHash-2-4 of the bytes 00 01 02 ... of
 * each length given, under the key 00 01 ... 0f, as the paper's test
 * vectors are made.
 */

#include <stdio.h>
#include <stdlib.h>

#include "ngx_http_upbot_siphash.h"


int
main(int argc, char **argv)
{
    int       i, n;
    u_char    data[64];
    uint64_t  k0, k1;

    for (i = 0; i < 64; i++) {
        data[i] = (u_char) i;
    }

    k0 = 0x0706050403020100ULL;
    k1 = 0x0f0e0d0c0b0a0908ULL;

    for (i = 1; i < argc; i++) {
        n = atoi(argv[i]);
        printf("%d %016llx\n", n, (unsigned long long)
               ngx_http_upbot_siphash(k0, k1, data, (size_t) n));
    }

    return 0;
}
