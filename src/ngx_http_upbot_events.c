
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The event log: one JSON line per accepted item.  The file is one of
 * nginx's open files (O_APPEND, reopened by "nginx -s reopen" like access
 * logs); a batch goes out in a single write(), so lines of concurrent
 * workers never interleave, and a batch is acknowledged only when that
 * write took all of it, and, with "fsync=on", once a sync covers it
 * (ngx_http_upbot_sync.c).
 */


#include "ngx_http_upbot.h"

#include <openssl/rand.h>


/* the most digits of a 64-bit number; every number written is >= 0 */
#define NGX_HTTP_UPBOT_INT_LEN  (sizeof("18446744073709551615") - 1)


static ngx_http_variable_value_t *ngx_http_upbot_request_id(
    ngx_http_request_t *r, ngx_int_t index);
static void ngx_http_upbot_hex16(u_char *dst, const u_char *src);
static size_t ngx_http_upbot_item_len(ngx_http_upbot_event_item_t *item);
static u_char *ngx_http_upbot_put_item(u_char *p,
    ngx_http_upbot_event_item_t *item);
static u_char *ngx_http_upbot_put_str(u_char *p, ngx_str_t *s);
static u_char *ngx_http_upbot_put_escaped(u_char *p, ngx_str_t *s,
    size_t escaped_len);
static u_char *ngx_http_upbot_put_field(u_char *p, void *obj, ngx_uint_t bit,
    ngx_str_t *s);
static u_char *ngx_http_upbot_put_int(u_char *p, uint64_t n);
static ngx_inline ngx_uint_t ngx_http_upbot_int_len(uint64_t n);


/* ,"key": */
#define ngx_http_upbot_put_key(p, key)                                       \
    ngx_cpymem(p, ",\"" key "\":", sizeof(",\"" key "\":") - 1)

#define ngx_http_upbot_key_len(key)  (sizeof(",\"" key "\":") - 1)

#define ngx_http_upbot_str_len(s)                                            \
    (2 + ngx_http_upbot_json_escaped_len((s)->data, (s)->len))

/* a string of the body: one without escapes is its own JSON form */
#define ngx_http_upbot_field_len(obj, bit, s)                                \
    (NGX_HTTP_UPBOT_DECODED(obj, bit) ? ngx_http_upbot_str_len(s)            \
                                      : 2 + (s)->len)


/*
 * upbot_event_log FILE [fsync=on|off] [thread_pool=NAME] | off
 */

char *
ngx_http_upbot_event_log(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upbot_loc_conf_t *ulcf = conf;

    ngx_str_t                   *value, *pool_arg, pool;
    ngx_uint_t                   i, fsync;
    ngx_http_upbot_event_log_t  *elog;

    if (ulcf->event_log != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {

        if (cf->args->nelts > 2) {
            ngx_http_upbot_conf_unplaced(cf, "nothing after \"off\"",
                                         "invalid parameter 2 of \"%V\"",
                                         &cmd->name);
            return NGX_CONF_ERROR;
        }

        ulcf->event_log = NULL;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "syslog:", 7) == 0) {
        return "takes a file path; \"syslog:\" targets are not supported";
    }

    fsync = 0;
    pool_arg = NULL;
    ngx_str_null(&pool);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "fsync=", 6) == 0) {

            if (ngx_strcmp(value[i].data + 6, "on") == 0) {
                fsync = 1;

            } else if (ngx_strcmp(value[i].data + 6, "off") == 0) {
                fsync = 0;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\", it "
                                   "must be \"fsync=on\" or \"fsync=off\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "thread_pool=", 12) == 0) {
            pool_arg = &value[i];
            pool.data = value[i].data + 12;
            pool.len = value[i].len - 12;

            if (pool.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\", it "
                                   "must name a thread pool",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_http_upbot_conf_unplaced(cf, "fsync= or thread_pool=",
                                     "invalid parameter %ui of \"%V\"",
                                     i, &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (pool_arg && !fsync) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is used only with \"fsync=on\"",
                           pool_arg);
        return NGX_CONF_ERROR;
    }

    elog = ngx_pcalloc(cf->pool, sizeof(ngx_http_upbot_event_log_t));
    if (elog == NULL) {
        return NGX_CONF_ERROR;
    }

    elog->file = ngx_conf_open_file(cf->cycle, &value[1]);
    if (elog->file == NULL) {
        return NGX_CONF_ERROR;
    }

    if (fsync) {
#if (NGX_THREADS)
        elog->syncer = ngx_http_upbot_syncer(cf, elog->file,
                                             pool.len ? &pool : NULL);
        if (elog->syncer == NULL) {
            return NGX_CONF_ERROR;
        }
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fsync=on\" needs nginx built with threads "
                           "(--with-threads): the sync runs in a thread "
                           "pool, and this nginx has none");
        return NGX_CONF_ERROR;
#endif
    }

    ulcf->event_log = elog;

    return NGX_CONF_OK;
}


/*
 * The lines of a batch differ only in their items' fields: what comes
 * before them (the time, the request, the head) is written once and
 * copied to each line.  NGX_OK: written; NGX_AGAIN (fsync=on): written,
 * and handler(r, rc) answers once a sync covers it.
 */

ngx_int_t
ngx_http_upbot_events_store(ngx_http_request_t *r,
    ngx_http_upbot_loc_conf_t *ulcf, ngx_http_upbot_media_event_req_t *req,
    ngx_http_upbot_synced_pt handler)
{
    u_char                       *buf, *p, *head;
    size_t                        len, head_len, id_len, client_len;
    ssize_t                       n;
    ngx_str_t                     request_id, client;
    ngx_uint_t                    i;
    ngx_time_t                   *tp;
    ngx_open_file_t              *file;
    ngx_http_variable_value_t    *vv;
    ngx_http_upbot_device_t      *device;
    ngx_http_upbot_account_t     *account;
    ngx_http_upbot_main_conf_t   *umcf;
    ngx_http_upbot_event_item_t  *items;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upbot_module);

    vv = ngx_http_upbot_request_id(r, umcf->request_id_index);
    if (vv == NULL || vv->not_found) {
        ngx_str_null(&request_id);

    } else {
        request_id.data = vv->data;
        request_id.len = vv->len;
    }

    client = r->connection->addr_text;
    tp = ngx_timeofday();

    account = &req->head.account_info;
    device = &req->head.device_info;
    items = req->items->elts;

    /* the most the batch can take */

    /*
     * $request_id is nginx's own, 32 hex digits (no module may redefine
     * it): nothing to escape, 87 instructions a batch of 3 not spent looking
     */
    id_len = request_id.len;

    /*
     * an IPv4 or IPv6 address in text has nothing to escape either (70
     * instructions a batch not spent looking); a unix socket's path may
     */
    client_len = client.len;

#if (NGX_HAVE_UNIX_DOMAIN)
    if (r->connection->sockaddr->sa_family == AF_UNIX) {
        client_len = ngx_http_upbot_json_escaped_len(client.data, client.len);
    }
#endif

    head_len = sizeof("{\"received_ms\":") - 1 + NGX_HTTP_UPBOT_INT_LEN
               + ngx_http_upbot_key_len("request_id") + 2 + id_len
               + ngx_http_upbot_key_len("client_addr") + 2 + client_len
               + ngx_http_upbot_key_len("account_type")
               + NGX_HTTP_UPBOT_INT_LEN
               + ngx_http_upbot_key_len("appid")
               + ngx_http_upbot_field_len(account, NGX_HTTP_UPBOT_ACCOUNT_APPID,
                                          &account->appid)
               + ngx_http_upbot_key_len("openid")
               + ngx_http_upbot_field_len(account,
                                          NGX_HTTP_UPBOT_ACCOUNT_OPENID,
                                          &account->openid)
               + ngx_http_upbot_key_len("device_type")
               + NGX_HTTP_UPBOT_INT_LEN
               + ngx_http_upbot_key_len("uuid")
               + ngx_http_upbot_field_len(device, NGX_HTTP_UPBOT_DEVICE_UUID,
                                          &device->uuid);

    len = head_len;

    for (i = 0; i < req->items->nelts; i++) {
        len += head_len + ngx_http_upbot_item_len(&items[i]);
    }

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    /* the head, at the end of the buffer, where no line reaches */

    head = buf + len - head_len;

    p = ngx_cpymem(head, "{\"received_ms\":",
                   sizeof("{\"received_ms\":") - 1);
    p = ngx_http_upbot_put_int(p, (uint64_t) tp->sec * 1000 + tp->msec);
    p = ngx_http_upbot_put_key(p, "request_id");
    p = ngx_http_upbot_put_escaped(p, &request_id, id_len);
    p = ngx_http_upbot_put_key(p, "client_addr");
    p = ngx_http_upbot_put_escaped(p, &client, client_len);
    p = ngx_http_upbot_put_key(p, "account_type");
    p = ngx_http_upbot_put_int(p, account->account_type);
    p = ngx_http_upbot_put_key(p, "appid");
    p = ngx_http_upbot_put_field(p, account, NGX_HTTP_UPBOT_ACCOUNT_APPID,
                                 &account->appid);
    p = ngx_http_upbot_put_key(p, "openid");
    p = ngx_http_upbot_put_field(p, account, NGX_HTTP_UPBOT_ACCOUNT_OPENID,
                                 &account->openid);

    if (NGX_HTTP_UPBOT_PRESENT(device, NGX_HTTP_UPBOT_DEVICE_TYPE)) {
        p = ngx_http_upbot_put_key(p, "device_type");
        p = ngx_http_upbot_put_int(p, device->device_type);
    }

    if (NGX_HTTP_UPBOT_PRESENT(device, NGX_HTTP_UPBOT_DEVICE_UUID)) {
        p = ngx_http_upbot_put_key(p, "uuid");
        p = ngx_http_upbot_put_field(p, device, NGX_HTTP_UPBOT_DEVICE_UUID,
                                     &device->uuid);
    }

    head_len = p - head;

    p = buf;

    for (i = 0; i < req->items->nelts; i++) {
        p = ngx_cpymem(p, head, head_len);
        p = ngx_http_upbot_put_item(p, &items[i]);
    }

    len = p - buf;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: lines built: %ui lines, %uz bytes",
                   req->items->nelts, len);

    file = ulcf->event_log->file;

    n = ngx_write_fd(file->fd, buf, len);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: written: %z of %uz bytes, fd:%d",
                   n, len, file->fd);

    if (n == -1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "upbot: " ngx_write_fd_n " to \"%V\" failed",
                      &file->name);
        ngx_http_upbot_metrics_event_log(r, 0, 1);
        return NGX_ERROR;
    }

    if ((size_t) n != len) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upbot: " ngx_write_fd_n " to \"%V\" was incomplete: "
                      "%z of %uz", &file->name, n, len);
        ngx_http_upbot_metrics_event_log(r, n, 1);
        return NGX_ERROR;
    }

    ngx_http_upbot_metrics_event_log(r, len, 0);

#if (NGX_THREADS)
    if (ulcf->event_log->syncer) {
        return ngx_http_upbot_sync_wait(r, ulcf->event_log->syncer, handler);
    }
#endif

    return NGX_OK;
}


/*
 * nginx's $request_id, 16 random bytes in hex.  When nothing has asked for
 * it yet, it is made here and left in the request's variables, so that
 * access logs show the same id: two SipHash-2-4 values of a counter under
 * a key drawn per process, which are as unpredictable and as unique.
 * nginx's own, RAND_bytes() of OpenSSL 3, took 6346 instructions a
 * request more: ReportMediaEvent of 3 items, 25231 instead of 18885
 * ("BENCH_ONLY=ir BENCH_TARGETS='upbot return200' perl bench/bench.pl",
 * nginx 1.22.1 of Debian 12; bench/ir-diff.pl shows where).
 */

static ngx_http_variable_value_t *
ngx_http_upbot_request_id(ngx_http_request_t *r, ngx_int_t index)
{
    u_char                     *id;
    uint64_t                    half[2], n[2];
    ngx_http_variable_value_t  *vv;

    static uint64_t   key[2], counter;
    static ngx_pid_t  keyed;

    vv = &r->variables[index];

    if (vv->valid || vv->not_found || r != r->main) {
        return ngx_http_get_indexed_variable(r, index);
    }

    if (keyed != ngx_pid) {
        if (RAND_bytes((u_char *) key, sizeof(key)) != 1) {
            return ngx_http_get_indexed_variable(r, index);
        }

        keyed = ngx_pid;
    }

    id = ngx_pnalloc(r->pool, 32);
    if (id == NULL) {
        return NULL;
    }

    n[0] = ++counter;
    n[1] = ++counter;

    ngx_http_upbot_siphash_pair(key[0], key[1], (u_char *) &n[0],
                                (u_char *) &n[1], half);

    ngx_http_upbot_hex16(id, (u_char *) half);

    vv->data = id;
    vv->len = 32;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;

    return vv;
}


/*
 * 16 bytes in lower-case hex, as ngx_hex_dump() writes them: with SSE2,
 * all at once (ngx_hex_dump() took 200 instructions more, a nibble at a
 * time)
 */

static void
ngx_http_upbot_hex16(u_char *dst, const u_char *src)
{
#if (NGX_HTTP_UPBOT_SSE2)
    __m128i  v, hi, lo, nibbles;

    v = _mm_loadu_si128((const __m128i *) src);

    lo = _mm_and_si128(v, _mm_set1_epi8(0x0f));
    hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0f));

    /* a nibble is '0' + it, and 'a' - '0' - 10 more if it is over 9 */

    nibbles = _mm_unpacklo_epi8(hi, lo);
    nibbles = _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')),
                           _mm_and_si128(_mm_cmpgt_epi8(nibbles,
                                                        _mm_set1_epi8(9)),
                                         _mm_set1_epi8('a' - '0' - 10)));
    _mm_storeu_si128((__m128i *) dst, nibbles);

    nibbles = _mm_unpackhi_epi8(hi, lo);
    nibbles = _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')),
                           _mm_and_si128(_mm_cmpgt_epi8(nibbles,
                                                        _mm_set1_epi8(9)),
                                         _mm_set1_epi8('a' - '0' - 10)));
    _mm_storeu_si128((__m128i *) (dst + 16), nibbles);

#else
    (void) ngx_hex_dump(dst, (u_char *) src, 16);
#endif
}


/* an item's fields, only those the client sent, and the line's end */

static size_t
ngx_http_upbot_item_len(ngx_http_upbot_event_item_t *item)
{
    return ngx_http_upbot_key_len("event_id")
           + ngx_http_upbot_field_len(item, NGX_HTTP_UPBOT_ITEM_EVENT_ID,
                                      &item->event_id)
           + ngx_http_upbot_key_len("event_time") + NGX_HTTP_UPBOT_INT_LEN
           + ngx_http_upbot_key_len("media_type") + NGX_HTTP_UPBOT_INT_LEN
           + ngx_http_upbot_key_len("code")
           + ngx_http_upbot_field_len(item, NGX_HTTP_UPBOT_ITEM_CODE,
                                      &item->code)
           + ngx_http_upbot_key_len("trace_id")
           + ngx_http_upbot_field_len(item, NGX_HTTP_UPBOT_ITEM_TRACE_ID,
                                      &item->trace_id)
           + ngx_http_upbot_key_len("duration") + NGX_HTTP_UPBOT_INT_LEN
           + ngx_http_upbot_key_len("group") + 2
           + ngx_http_upbot_json_escaped_len(item->group.data,
                                             item->group.len)
           + sizeof("}\n") - 1;
}


static u_char *
ngx_http_upbot_put_item(u_char *p, ngx_http_upbot_event_item_t *item)
{
    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_EVENT_ID)) {
        p = ngx_http_upbot_put_key(p, "event_id");
        p = ngx_http_upbot_put_field(p, item, NGX_HTTP_UPBOT_ITEM_EVENT_ID,
                                     &item->event_id);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_EVENT_TIME)) {
        p = ngx_http_upbot_put_key(p, "event_time");
        p = ngx_http_upbot_put_int(p, item->event_time);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_MEDIA_TYPE)) {
        p = ngx_http_upbot_put_key(p, "media_type");
        p = ngx_http_upbot_put_int(p, item->media_type);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_CODE)) {
        p = ngx_http_upbot_put_key(p, "code");
        p = ngx_http_upbot_put_field(p, item, NGX_HTTP_UPBOT_ITEM_CODE,
                                     &item->code);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_TRACE_ID)) {
        p = ngx_http_upbot_put_key(p, "trace_id");
        p = ngx_http_upbot_put_field(p, item, NGX_HTTP_UPBOT_ITEM_TRACE_ID,
                                     &item->trace_id);
    }

    if (NGX_HTTP_UPBOT_PRESENT(item, NGX_HTTP_UPBOT_ITEM_DURATION)) {
        p = ngx_http_upbot_put_key(p, "duration");
        p = ngx_http_upbot_put_int(p, item->duration);
    }

    /* the group shown for the item's code and trace id, if known */

    if (item->group.len) {
        p = ngx_http_upbot_put_key(p, "group");
        p = ngx_http_upbot_put_str(p, &item->group);
    }

    *p++ = '}';
    *p++ = '\n';

    return p;
}


static u_char *
ngx_http_upbot_put_str(u_char *p, ngx_str_t *s)
{
    *p++ = '"';
    p = ngx_http_upbot_json_escape(p, s->data, s->len);
    *p++ = '"';

    return p;
}


/* a string whose escaped length is known: copied when that is its own */

static u_char *
ngx_http_upbot_put_escaped(u_char *p, ngx_str_t *s, size_t escaped_len)
{
    if (escaped_len != s->len) {
        return ngx_http_upbot_put_str(p, s);
    }

    *p++ = '"';
    p = ngx_cpymem(p, s->data, s->len);
    *p++ = '"';

    return p;
}


static u_char *
ngx_http_upbot_put_field(u_char *p, void *obj, ngx_uint_t bit, ngx_str_t *s)
{
    if (NGX_HTTP_UPBOT_DECODED(obj, bit)) {
        return ngx_http_upbot_put_str(p, s);
    }

    *p++ = '"';
    p = ngx_cpymem(p, s->data, s->len);
    *p++ = '"';

    return p;
}


/*
 * What ngx_sprintf(p, "%uL", n) writes, without its format parsing: a
 * batch of 3 items writes 9 numbers, and ngx_sprintf() took 1310
 * instructions a request more (bench.pl, BENCH_ONLY=ir).  Its length is
 * known first, so that the digits go straight into place, two at a time
 * from a table: a digit at a time into a buffer, then copied, took 444
 * more (ReportMediaEvent of 3 items, ir-diff.pl).
 */

static u_char *
ngx_http_upbot_put_int(u_char *p, uint64_t n)
{
    u_char      *d;
    ngx_uint_t   len;

    static const u_char  pairs[] =
        "0001020304050607080910111213141516171819"
        "2021222324252627282930313233343536373839"
        "4041424344454647484950515253545556575859"
        "6061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";

    if (n < 10) {
        *p++ = (u_char) ('0' + n);
        return p;
    }

    len = ngx_http_upbot_int_len(n);
    d = p + len;

    while (n >= 100) {
        d -= 2;
        ngx_memcpy(d, &pairs[(n % 100) * 2], 2);
        n /= 100;
    }

    if (n >= 10) {
        ngx_memcpy(d - 2, &pairs[n * 2], 2);

    } else {
        d[-1] = (u_char) ('0' + n);
    }

    return p + len;
}


/* the number of decimal digits of n */

static ngx_inline ngx_uint_t
ngx_http_upbot_int_len(uint64_t n)
{
    ngx_uint_t  len;

    static const uint64_t  powers[] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
        10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
        100000000000ULL, 1000000000000ULL, 10000000000000ULL,
        100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL,
        10000000000000000000ULL
    };

#if (defined __GNUC__)

    /*
     * from the number of its bits: log10(2) of them, 1233 / 4096, rounded
     * down, is the length or one short of it (a loop over the powers of
     * ten took 40 instructions more for a time in milliseconds)
     */

    len = ((64 - __builtin_clzll(n | 1)) * 1233) >> 12;

    return len + (n >= powers[len]);

#else

    for (len = 1; len < 20 && n >= powers[len]; len++) {
        /* void */
    }

    return len;

#endif
}
