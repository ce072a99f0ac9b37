
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The rows of "upbot_codes { ... }" and of the files it includes, read by
 * the rules of nginx's own reader (ngx_conf_read_token(), the same from
 * nginx 1.22 to 1.30): the same words, the same line numbers and the same
 * errors, in the same 4096-byte buffer, so a row reads alike whichever
 * reads it.  What differs is what is kept: nginx copies every word into
 * the cycle's pool, where it stays, and (built --with-debug, as Debian's
 * nginx is) a copy of each whole file; here a row's words live until its
 * handler returns, and the handler copies what it keeps.  With 1,000,000
 * rows of 78 bytes that is ~150 MB less (the words and the copy), and
 * nginx's reader took ~4,000 instructions a row where this one takes
 * ~1,100 (callgrind).
 *
 * "nginx -T" (ngx_dump_config) has nginx read an included file itself, so
 * that the file is shown.
 */


#include "ngx_http_upbot.h"


/* nginx's buffer: a word longer than that is an error there, so here */
#define NGX_HTTP_UPBOT_CONF_BUFFER  4096


static ngx_int_t ngx_http_upbot_conf_name(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *kept);
static char *ngx_http_upbot_conf_file(ngx_conf_t *cf, ngx_str_t *name);
static char *ngx_http_upbot_conf_read(ngx_conf_t *cf, ngx_uint_t block);
static ngx_int_t ngx_http_upbot_conf_token(ngx_conf_t *cf, ngx_pool_t *pool);
static ngx_int_t ngx_http_upbot_conf_fill(ngx_conf_t *cf, u_char **start,
    ngx_uint_t start_line, ngx_uint_t quote);
static ngx_int_t ngx_http_upbot_conf_word(ngx_conf_t *cf, ngx_pool_t *pool,
    u_char *start, u_char *end, ngx_uint_t escaped);


/* the bytes that end a run that changes nothing but the position */
static u_char  ngx_http_upbot_conf_word_stop[256];      /* in a word */
static u_char  ngx_http_upbot_conf_quoted_stop[256];    /* in quotes */


/*
 * The rest of the block whose "{" was just read, in the file nginx is
 * reading, as ngx_conf_parse(cf, NULL) would: each row to cf->handler.
 */

char *
ngx_http_upbot_conf_block(ngx_conf_t *cf)
{
    return ngx_http_upbot_conf_read(cf, 1);
}


/* "include FILE;" of a row: a file, or files that match a glob, in order */

char *
ngx_http_upbot_conf_include(ngx_conf_t *cf)
{
    char        *rv;
    ngx_str_t   *value, file, name;
    ngx_glob_t   gl;

    value = cf->args->elts;

    if (ngx_http_upbot_conf_name(cf, &value[1], &file) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_dump_config) {
        value[1] = file;
        return ngx_conf_include(cf, NULL, NULL);
    }

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (strpbrk((char *) file.data, "*?[") == NULL) {
        return ngx_http_upbot_conf_file(cf, &file);
    }

    ngx_memzero(&gl, sizeof(ngx_glob_t));

    gl.pattern = file.data;
    gl.log = cf->log;
    gl.test = 1;

    if (ngx_open_glob(&gl) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_glob_n " \"%s\" failed", file.data);
        return NGX_CONF_ERROR;
    }

    rv = NGX_CONF_OK;

    while (ngx_read_glob(&gl, &name) == NGX_OK) {

        if (ngx_http_upbot_conf_name(cf, &name, &file) != NGX_OK) {
            rv = NGX_CONF_ERROR;
            break;
        }

        rv = ngx_http_upbot_conf_file(cf, &file);

        if (rv != NGX_CONF_OK) {
            break;
        }
    }

    ngx_close_glob(&gl);

    return rv;
}


/*
 * A file's name, kept with a zero at its end: it outlives the row's words,
 * for the rows' locations name it
 */

static ngx_int_t
ngx_http_upbot_conf_name(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *kept)
{
    kept->len = name->len;
    kept->data = ngx_pnalloc(cf->pool, name->len + 1);
    if (kept->data == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(kept->data, name->data, name->len + 1);

    return NGX_OK;
}


static char *
ngx_http_upbot_conf_file(ngx_conf_t *cf, ngx_str_t *name)
{
    char             *rv;
    ngx_fd_t          fd;
    ngx_buf_t         buf;
    ngx_conf_file_t  *prev, conf_file;

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, cf->log, 0, "upbot: include %s",
                   name->data);

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", name->data);
        return NGX_CONF_ERROR;
    }

    prev = cf->conf_file;

    ngx_memzero(&conf_file, sizeof(ngx_conf_file_t));
    cf->conf_file = &conf_file;

    if (ngx_fd_info(fd, &conf_file.file.info) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      ngx_fd_info_n " \"%s\" failed", name->data);
    }

    rv = NGX_CONF_ERROR;

    buf.start = ngx_alloc(NGX_HTTP_UPBOT_CONF_BUFFER, cf->log);

    if (buf.start) {
        buf.pos = buf.start;
        buf.last = buf.start;
        buf.end = buf.start + NGX_HTTP_UPBOT_CONF_BUFFER;

        conf_file.buffer = &buf;
        conf_file.file.fd = fd;
        conf_file.file.name = *name;
        conf_file.file.log = cf->log;
        conf_file.line = 1;

        rv = ngx_http_upbot_conf_read(cf, 0);

        ngx_free(buf.start);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " %s failed", name->data);
        rv = NGX_CONF_ERROR;
    }

    cf->conf_file = prev;

    return rv;
}


/*
 * Rows until the block's "}" or the file's end, as ngx_conf_parse() reads
 * them for a handler.  A row's words are in a pool of their own, emptied
 * after each row.
 */

static char *
ngx_http_upbot_conf_read(ngx_conf_t *cf, ngx_uint_t block)
{
    char        *rv;
    u_char      *p;
    ngx_int_t    rc;
    ngx_pool_t  *pool;

    if (ngx_http_upbot_conf_word_stop[' '] == 0) {
        for (p = (u_char *) " \t\r\n;{\\$"; *p; p++) {
            ngx_http_upbot_conf_word_stop[*p] = 1;
        }

        for (p = (u_char *) "\"'\n\\$"; *p; p++) {
            ngx_http_upbot_conf_quoted_stop[*p] = 1;
        }
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, cf->log);
    if (pool == NULL) {
        return NGX_CONF_ERROR;
    }

    for ( ;; ) {
        rc = ngx_http_upbot_conf_token(cf, pool);

        if (rc == NGX_ERROR) {
            rv = NGX_CONF_ERROR;
            break;
        }

        if ((rc == NGX_CONF_BLOCK_DONE && block)
            || (rc == NGX_CONF_FILE_DONE && !block))
        {
            rv = NGX_CONF_OK;
            break;
        }

        if (rc == NGX_CONF_BLOCK_DONE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "unexpected \"}\"");
            rv = NGX_CONF_ERROR;
            break;
        }

        if (rc == NGX_CONF_FILE_DONE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unexpected end of file, expecting \"}\"");
            rv = NGX_CONF_ERROR;
            break;
        }

        if (rc == NGX_CONF_BLOCK_START) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "unexpected \"{\"");
            rv = NGX_CONF_ERROR;
            break;
        }

        rv = (*cf->handler)(cf, NULL, cf->handler_conf);

        if (rv != NGX_CONF_OK) {
            if (rv != NGX_CONF_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", rv);
                rv = NGX_CONF_ERROR;
            }

            break;
        }

        ngx_reset_pool(pool);
    }

    ngx_destroy_pool(pool);

    return rv;
}


/*
 * A row's words into cf->args, by ngx_conf_read_token()'s rules: NGX_OK at
 * its ";", NGX_CONF_BLOCK_START at a "{", NGX_CONF_BLOCK_DONE at a "}"
 * alone, NGX_CONF_FILE_DONE at the end, NGX_ERROR (said) otherwise.  Runs
 * of bytes that change no state are skipped at once: the rest of a comment,
 * and plain bytes of a word.
 */

static ngx_int_t
ngx_http_upbot_conf_token(ngx_conf_t *cf, ngx_pool_t *pool)
{
    u_char      *start, *p, *last, *stop, ch;
    ngx_int_t    rc;
    ngx_uint_t   need_space, last_space, sharp_comment, variable, quoted;
    ngx_uint_t   s_quoted, d_quoted, escaped, start_line;
    ngx_buf_t   *b;

    need_space = 0;
    last_space = 1;
    sharp_comment = 0;
    variable = 0;
    quoted = 0;
    s_quoted = 0;
    d_quoted = 0;
    escaped = 0;

    cf->args->nelts = 0;
    b = cf->conf_file->buffer;
    start = b->pos;
    start_line = cf->conf_file->line;

    for ( ;; ) {

        if (b->pos >= b->last) {

            rc = ngx_http_upbot_conf_fill(cf, &start, start_line,
                                          d_quoted ? '"'
                                          : s_quoted ? '\'' : 0);

            if (rc == NGX_DONE) {
                if (cf->args->nelts > 0 || !last_space) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "unexpected end of file, "
                                       "expecting \";\" or \"}\"");
                    return NGX_ERROR;
                }

                return NGX_CONF_FILE_DONE;
            }

            if (rc != NGX_OK) {
                return NGX_ERROR;
            }
        }

        if (sharp_comment) {
            p = ngx_strlchr(b->pos, b->last, LF);

            if (p == NULL) {
                b->pos = b->last;
                continue;
            }

            b->pos = p;

        } else if (!last_space && !need_space && !quoted && !variable) {
            stop = (d_quoted || s_quoted) ? ngx_http_upbot_conf_quoted_stop
                                          : ngx_http_upbot_conf_word_stop;

            for (p = b->pos, last = b->last; p < last && !stop[*p]; p++) {
                /* void */
            }

            b->pos = p;

            if (p == last) {
                continue;
            }
        }

        ch = *b->pos++;

        if (ch == LF) {
            cf->conf_file->line++;
            sharp_comment = 0;
        }

        if (sharp_comment) {
            continue;
        }

        if (quoted) {
            quoted = 0;
            continue;
        }

        if (need_space) {
            if (ch == ' ' || ch == '\t' || ch == CR || ch == LF) {
                last_space = 1;
                need_space = 0;
                continue;
            }

            if (ch == ';') {
                return NGX_OK;
            }

            if (ch == '{') {
                return NGX_CONF_BLOCK_START;
            }

            if (ch != ')') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unexpected \"%c\"", ch);
                return NGX_ERROR;
            }

            /* as nginx: ")" after a quoted word begins the next word */

            last_space = 1;
            need_space = 0;
        }

        if (last_space) {

            start = b->pos - 1;
            start_line = cf->conf_file->line;

            switch (ch) {

            case ' ':
            case '\t':
            case CR:
            case LF:
                continue;

            case ';':
            case '{':
                if (cf->args->nelts == 0) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "unexpected \"%c\"", ch);
                    return NGX_ERROR;
                }

                return (ch == '{') ? NGX_CONF_BLOCK_START : NGX_OK;

            case '}':
                if (cf->args->nelts != 0) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "unexpected \"}\"");
                    return NGX_ERROR;
                }

                return NGX_CONF_BLOCK_DONE;

            case '#':
                sharp_comment = 1;
                continue;

            case '\\':
                quoted = 1;
                escaped = 1;
                last_space = 0;
                continue;

            case '"':
                start++;
                d_quoted = 1;
                last_space = 0;
                continue;

            case '\'':
                start++;
                s_quoted = 1;
                last_space = 0;
                continue;

            case '$':
                variable = 1;
                last_space = 0;
                continue;

            default:
                last_space = 0;
                continue;
            }
        }

        /* in a word: "${" does not end it */

        if (ch == '{' && variable) {
            continue;
        }

        variable = 0;

        if (ch == '\\') {
            quoted = 1;
            escaped = 1;
            continue;
        }

        if (ch == '$') {
            variable = 1;
            continue;
        }

        if (d_quoted || s_quoted) {
            if (ch != (d_quoted ? '"' : '\'')) {
                continue;
            }

            d_quoted = 0;
            s_quoted = 0;
            need_space = 1;

        } else if (ch == ' ' || ch == '\t' || ch == CR || ch == LF
                   || ch == ';' || ch == '{')
        {
            last_space = 1;

        } else {
            continue;
        }

        if (ngx_http_upbot_conf_word(cf, pool, start, b->pos - 1, escaped)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        escaped = 0;

        if (ch == ';') {
            return NGX_OK;
        }

        if (ch == '{') {
            return NGX_CONF_BLOCK_START;
        }
    }
}


/*
 * More of the file into the buffer, the word begun at *start kept: NGX_OK,
 * NGX_DONE at the file's end, NGX_ERROR (said).  A word that fills the
 * buffer is too long, as in nginx; "quote" is the one it is inside.
 */

static ngx_int_t
ngx_http_upbot_conf_fill(ngx_conf_t *cf, u_char **start,
    ngx_uint_t start_line, ngx_uint_t quote)
{
    off_t       file_size;
    size_t      len;
    ssize_t     n, size;
    ngx_buf_t  *b, *dump;

    b = cf->conf_file->buffer;
    dump = cf->conf_file->dump;
    file_size = ngx_file_size(&cf->conf_file->file.info);

    if (cf->conf_file->file.offset >= file_size) {
        return NGX_DONE;
    }

    len = b->pos - *start;

    if (len == NGX_HTTP_UPBOT_CONF_BUFFER) {
        cf->conf_file->line = start_line;

        if (quote == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "too long parameter \"%*s...\" started",
                               10, *start);
            return NGX_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too long parameter, probably "
                           "missing terminating \"%c\" character", quote);
        return NGX_ERROR;
    }

    if (len) {
        ngx_memmove(b->start, *start, len);
    }

    size = (ssize_t) (file_size - cf->conf_file->file.offset);

    if (size > b->end - (b->start + len)) {
        size = b->end - (b->start + len);
    }

    n = ngx_read_file(&cf->conf_file->file, b->start + len, size,
                      cf->conf_file->file.offset);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " returned "
                           "only %z bytes instead of %z", n, size);
        return NGX_ERROR;
    }

    b->pos = b->start + len;
    b->last = b->pos + n;
    *start = b->start;

    /* nginx -T, or the file nginx itself keeps when built --with-debug */

    if (dump) {
        dump->last = ngx_cpymem(dump->last, b->pos, size);
    }

    return NGX_OK;
}


/*
 * A word, its escapes undone as nginx does: \" \' \\ \t \r \n.  Most
 * words have none ("escaped" says whether a backslash came): copied at
 * once, ~500 instructions a row less.
 */

static ngx_int_t
ngx_http_upbot_conf_word(ngx_conf_t *cf, ngx_pool_t *pool, u_char *start,
    u_char *end, ngx_uint_t escaped)
{
    u_char     *src, *dst;
    ngx_str_t  *word;

    word = ngx_array_push(cf->args);
    if (word == NULL) {
        return NGX_ERROR;
    }

    word->data = ngx_pnalloc(pool, end - start + 1);
    if (word->data == NULL) {
        return NGX_ERROR;
    }

    if (!escaped) {
        dst = ngx_cpymem(word->data, start, end - start);
        *dst = '\0';
        word->len = end - start;

        return NGX_OK;
    }

    dst = word->data;
    src = start;

    while (src < end) {

        if (*src == '\\') {
            switch (src[1]) {

            case '"':
            case '\'':
            case '\\':
                src++;
                break;

            case 't':
                *dst++ = '\t';
                src += 2;
                continue;

            case 'r':
                *dst++ = '\r';
                src += 2;
                continue;

            case 'n':
                *dst++ = '\n';
                src += 2;
                continue;
            }
        }

        *dst++ = *src++;
    }

    *dst = '\0';
    word->len = dst - word->data;

    return NGX_OK;
}
