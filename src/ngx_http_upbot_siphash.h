
/*
 * Copyright (C) 2026, the upbot authors
 */


#ifndef _NGX_HTTP_UPBOT_SIPHASH_H_INCLUDED_
#define _NGX_HTTP_UPBOT_SIPHASH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


uint64_t ngx_http_upbot_siphash(uint64_t k0, uint64_t k1, const u_char *data,
    size_t len);


#endif /* _NGX_HTTP_UPBOT_SIPHASH_H_INCLUDED_ */
