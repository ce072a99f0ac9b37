
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The nginx core as the fuzz targets see it (fuzz/ngx_stubs.c).
 */


#ifndef _NGX_STUBS_H_INCLUDED_
#define _NGX_STUBS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* whether [s, s + len) lies in one block taken from the pool */
ngx_uint_t fuzz_in_pool(const u_char *s, size_t len);

/* frees every block taken since the last call */
void fuzz_pool_free(void);


#endif /* _NGX_STUBS_H_INCLUDED_ */
