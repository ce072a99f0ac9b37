
/*
 * Copyright (C) 2026, the upbot authors
 */


#ifndef _NGX_HTTP_UPBOT_SIPHASH_H_INCLUDED_
#define _NGX_HTTP_UPBOT_SIPHASH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


uint64_t ngx_http_upbot_siphash(uint64_t k0, uint64_t k1, const u_char *data,
    size_t len);

/* out[0]: of the 8 bytes at a; out[1]: of the 8 at b */
void ngx_http_upbot_siphash_pair(uint64_t k0, uint64_t k1, const u_char *a,
    const u_char *b, uint64_t out[2]);


#endif /* _NGX_HTTP_UPBOT_SIPHASH_H_INCLUDED_ */
