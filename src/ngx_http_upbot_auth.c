
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Authentication: API tokens from a file, read once at configuration time.
 * Only a keyed hash of each token is kept (SipHash-2-4, 64 bits, with a
 * key drawn at random once per process): a presented token is hashed the
 * same way and its tag compared with every token's, so neither a token
 * nor how much of it matched shows in timing, memory or logs.  SipHash
 * costs a small fraction of a SHA-256 through OpenSSL's EVP layer, on a
 * path every request takes.
 *
 * A keep-alive connection shows the same token request after request: the
 * one it was last let in with is remembered with the connection (in its
 * pool, wiped when it closes), with the tokens file it was found in, and
 * the same bytes again, compared in full whatever they hold, are let in
 * without hashing.  Only what this connection itself sent is compared.
 */


#include "ngx_http_upbot.h"

#include <openssl/rand.h>


/* longer tokens are hashed at every request */
#define NGX_HTTP_UPBOT_TOKEN_MEMO_MAX  128


typedef struct {
    ngx_array_t                    *tokens;   /* the file it is in */
    ngx_str_t                      *label;
    size_t                          len;
    u_char                          data[NGX_HTTP_UPBOT_TOKEN_MEMO_MAX];
} ngx_http_upbot_token_memo_t;


static ngx_http_upbot_token_memo_t *ngx_http_upbot_token_memo(
    ngx_connection_t *c);
static void ngx_http_upbot_token_wipe(void *data);
static ngx_uint_t ngx_http_upbot_token_same(const u_char *a, const u_char *b,
    size_t len);
static ngx_int_t ngx_http_upbot_token_tag(u_char *data, size_t len,
    uint64_t *tag);
static char *ngx_http_upbot_read_tokens(ngx_conf_t *cf, ngx_str_t *name,
    ngx_array_t *tokens);


char *
ngx_http_upbot_auth_tokens(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_loc_conf_t *ulcf = conf;

    ngx_str_t  *value, name;

    if (ulcf->tokens != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ulcf->tokens = NULL;
        return NGX_CONF_OK;
    }

    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ulcf->tokens = ngx_array_create(cf->pool, 4,
                                    sizeof(ngx_http_upbot_token_t));
    if (ulcf->tokens == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_upbot_read_tokens(cf, &name, ulcf->tokens);
}


/*
 * The whole of a small file (tokens, a provider's secret) in memory from
 * "pool", with a terminating zero that is not counted.  Whoever is done
 * with a secret wipes it.
 */

char *
ngx_http_upbot_read_file(ngx_conf_t *cf, ngx_str_t *name, ngx_pool_t *pool,
    ngx_str_t *content)
{
    u_char           *buf;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = *name;
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto failed;
    }

    size = (size_t) ngx_file_size(&fi);

    buf = ngx_pnalloc(pool, size + 1);
    if (buf == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, buf, size, 0);

    if (n == NGX_ERROR) {
        goto failed;
    }

    if ((size_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " \"%V\" returned only %z bytes "
                           "instead of %uz", name, n, size);
        goto failed;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", name);
    }

    buf[size] = '\0';

    content->data = buf;
    content->len = size;

    return NGX_CONF_OK;

failed:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", name);
    }

    return NGX_CONF_ERROR;
}


/*
 * One token a line, an optional label after white space, "#" comments.
 */

static char *
ngx_http_upbot_read_tokens(ngx_conf_t *cf, ngx_str_t *name,
    ngx_array_t *tokens)
{
    u_char                  *buf, *p, *end, *eol, *tok, *label;
    size_t                   size, tlen;
    ngx_str_t                content;
    ngx_uint_t               line, i;
    ngx_http_upbot_token_t  *t, *all;

    if (ngx_http_upbot_read_file(cf, name, cf->temp_pool, &content)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    buf = content.data;
    size = content.len;
    end = buf + size;
    line = 0;

    for (p = buf; p < end; p = eol + 1) {
        line++;

        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r')) {
            p++;
        }

        if (p == eol || *p == '#') {
            continue;
        }

        tok = p;

        while (p < eol && *p != ' ' && *p != '\t' && *p != '\r') {
            if (*p < 0x21 || *p == 0x7f) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "control character in token "
                                   "in \"%V\" line %ui", name, line);
                return NGX_CONF_ERROR;
            }

            p++;
        }

        tlen = p - tok;

        while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r')) {
            p++;
        }

        label = p;

        while (p < eol && *p != '\r' && *p != '#') {
            p++;
        }

        while (p > label && (p[-1] == ' ' || p[-1] == '\t')) {
            p--;
        }

        t = ngx_array_push(tokens);
        if (t == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_upbot_token_tag(tok, tlen, &t->tag) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        /* the label names the token in logs; the line number by default */

        if (p > label) {
            t->label.len = p - label;
            t->label.data = label;
            t->label.data = ngx_pstrdup(cf->pool, &t->label);

        } else {
            t->label.data = ngx_pnalloc(cf->pool, NGX_INT_T_LEN + 5);
            if (t->label.data == NULL) {
                return NGX_CONF_ERROR;
            }

            t->label.len = ngx_sprintf(t->label.data, "line %ui", line)
                           - t->label.data;
        }

        if (t->label.data == NULL) {
            return NGX_CONF_ERROR;
        }

        all = tokens->elts;

        for (i = 0; i < tokens->nelts - 1; i++) {
            if (all[i].tag == t->tag) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate token in \"%V\" line %ui",
                                   name, line);
                return NGX_CONF_ERROR;
            }
        }
    }

    if (tokens->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "no tokens in \"%V\"", name);
        return NGX_CONF_ERROR;
    }

    ngx_explicit_memzero(buf, size);

    return NGX_CONF_OK;
}


/*
 * "Authorization: <token>" or "Authorization: Bearer <token>".
 */

ngx_int_t
ngx_http_upbot_authenticate(ngx_http_request_t *r,
    ngx_http_upbot_loc_conf_t *ulcf, ngx_http_upbot_ctx_t *ctx)
{
    u_char                       *p, *last;
    size_t                        len;
    uint64_t                      tag;
    ngx_uint_t                    i, found;
    ngx_pool_cleanup_t           *cln;
    ngx_http_upbot_token_t       *tokens;
    ngx_http_upbot_token_memo_t  *memo;

    if (ulcf->tokens == NULL) {
        return NGX_OK;
    }

    if (r->headers_in.authorization == NULL) {
        ngx_str_set(&ctx->error, "no Authorization header");
        return NGX_DECLINED;
    }

    p = r->headers_in.authorization->value.data;
    last = p + r->headers_in.authorization->value.len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    /* "Bearer" in any case: ASCII letters differ from capitals in 0x20 */

    if (last - p > 7
        && (p[0] | 0x20) == 'b' && (p[1] | 0x20) == 'e'
        && (p[2] | 0x20) == 'a' && (p[3] | 0x20) == 'r'
        && (p[4] | 0x20) == 'e' && (p[5] | 0x20) == 'r'
        && (p[6] == ' ' || p[6] == '\t'))
    {
        p += 7;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }
    }

    if (p == last) {
        ngx_str_set(&ctx->error, "empty Authorization header");
        return NGX_DECLINED;
    }

    len = last - p;

    memo = ngx_http_upbot_token_memo(r->connection);

    if (memo
        && memo->tokens == ulcf->tokens
        && memo->len == len
        && ngx_http_upbot_token_same(memo->data, p, len))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upbot: token as before on this connection");

        ctx->token_label = *memo->label;
        return NGX_OK;
    }

    if (ngx_http_upbot_token_tag(p, len, &tag) != NGX_OK) {
        return NGX_ERROR;
    }

    tokens = ulcf->tokens->elts;
    found = ulcf->tokens->nelts;

    /* every tag is looked at, whichever matches */

    for (i = 0; i < ulcf->tokens->nelts; i++) {
        if ((tokens[i].tag ^ tag) == 0) {
            found = i;
        }
    }

    if (found == ulcf->tokens->nelts) {
        ngx_str_set(&ctx->error, "unknown token");
        return NGX_DECLINED;
    }

    ctx->token_label = tokens[found].label;

    if (len > NGX_HTTP_UPBOT_TOKEN_MEMO_MAX) {
        return NGX_OK;
    }

    if (memo == NULL) {
        cln = ngx_pool_cleanup_add(r->connection->pool,
                                   sizeof(ngx_http_upbot_token_memo_t));
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_upbot_token_wipe;
        memo = cln->data;
    }

    memo->tokens = ulcf->tokens;
    memo->label = &tokens[found].label;
    memo->len = len;
    ngx_memcpy(memo->data, p, len);

    return NGX_OK;
}


static ngx_http_upbot_token_memo_t *
ngx_http_upbot_token_memo(ngx_connection_t *c)
{
    ngx_pool_cleanup_t  *cln;

    for (cln = c->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_upbot_token_wipe) {
            return cln->data;
        }
    }

    return NULL;
}


static void
ngx_http_upbot_token_wipe(void *data)
{
    ngx_http_upbot_token_memo_t  *memo = data;

    ngx_explicit_memzero(memo, sizeof(ngx_http_upbot_token_memo_t));
}


/* every byte looked at, so that the time taken tells nothing of where */

static ngx_uint_t
ngx_http_upbot_token_same(const u_char *a, const u_char *b, size_t len)
{
    size_t    i;
    uint64_t  x, y, d;

    d = 0;

    for (i = 0; i + 8 <= len; i += 8) {
        ngx_memcpy(&x, a + i, 8);
        ngx_memcpy(&y, b + i, 8);
        d |= x ^ y;
    }

    /*
     * the last bytes as the last 8, over some compared already: one step,
     * where a byte at a time took 16 instructions more for an 11-byte token
     */

    if (i < len && len >= 8) {
        ngx_memcpy(&x, a + len - 8, 8);
        ngx_memcpy(&y, b + len - 8, 8);
        return (d | (x ^ y)) == 0;
    }

    for ( /* void */ ; i < len; i++) {
        d |= a[i] ^ b[i];
    }

    return d == 0;
}


static ngx_int_t
ngx_http_upbot_token_tag(u_char *data, size_t len, uint64_t *tag)
{
    static uint64_t    key[2];
    static ngx_uint_t  keyed;

    if (!keyed) {
        if (RAND_bytes((u_char *) key, sizeof(key)) != 1) {
            return NGX_ERROR;
        }

        keyed = 1;
    }

    *tag = ngx_http_upbot_siphash(key[0], key[1], data, len);

    return NGX_OK;
}
