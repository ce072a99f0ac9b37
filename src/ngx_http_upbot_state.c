
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The state file's format: see ngx_http_upbot_state.h.  A file is read
 * twice: once to check all of it (a truncated or corrupt file hands over
 * nothing), once to hand its entries over.
 */


#include "ngx_http_upbot_state.h"


static ngx_int_t ngx_http_upbot_state_entry(const u_char **pp,
    const u_char *last, ngx_http_upbot_state_entry_t *entry,
    const char **why);
static uint16_t ngx_http_upbot_state_get16(const u_char *p);
static uint32_t ngx_http_upbot_state_get32(const u_char *p);
static uint64_t ngx_http_upbot_state_get64(const u_char *p);
static u_char *ngx_http_upbot_state_put16(u_char *p, uint16_t n);
static u_char *ngx_http_upbot_state_put32(u_char *p, uint32_t n);
static u_char *ngx_http_upbot_state_put64(u_char *p, uint64_t n);


ngx_int_t
ngx_http_upbot_state_read(const u_char *buf, size_t len,
    ngx_http_upbot_state_pt handler, void *data,
    ngx_http_upbot_state_info_t *info, const char **why)
{
    size_t                         magic;
    uint64_t                       size;
    ngx_int_t                      rc;
    ngx_uint_t                     i, pass;
    const u_char                  *p, *last;
    ngx_http_upbot_state_entry_t   entry;

    ngx_memzero(info, sizeof(ngx_http_upbot_state_info_t));

    magic = sizeof(NGX_HTTP_UPBOT_STATE_MAGIC) - 1;

    if (len == 0) {
        *why = "empty";
        return NGX_DECLINED;
    }

    /* the magic and the version are where every version has them */

    if (ngx_memcmp(buf, NGX_HTTP_UPBOT_STATE_MAGIC, ngx_min(len, magic))
        != 0)
    {
        *why = "not an upbot state file";
        return NGX_DECLINED;
    }

    if (len < magic + 4) {
        *why = "truncated in its header";
        return NGX_DECLINED;
    }

    info->version = ngx_http_upbot_state_get32(buf + magic);

    if (info->version != NGX_HTTP_UPBOT_STATE_VERSION) {
        *why = "another format version";
        return NGX_DECLINED;
    }

    if (len < NGX_HTTP_UPBOT_STATE_HEADER) {
        *why = "truncated in its header";
        return NGX_DECLINED;
    }

    if (ngx_crc32_long((u_char *) buf, 36)
        != ngx_http_upbot_state_get32(buf + 36))
    {
        *why = "its header's checksum does not match";
        return NGX_DECLINED;
    }

    info->entries = ngx_http_upbot_state_get32(buf + 12);
    info->written = ngx_http_upbot_state_get64(buf + 24);
    size = ngx_http_upbot_state_get64(buf + 16);

    if (size > len - NGX_HTTP_UPBOT_STATE_HEADER) {
        *why = "truncated";
        return NGX_DECLINED;
    }

    if (size < len - NGX_HTTP_UPBOT_STATE_HEADER) {
        *why = "bytes after its end";
        return NGX_DECLINED;
    }

    p = buf + NGX_HTTP_UPBOT_STATE_HEADER;
    last = buf + len;

    /* ngx_crc32_long() of no bytes reads none */

    if (ngx_crc32_long((u_char *) p, last - p)
        != ngx_http_upbot_state_get32(buf + 32))
    {
        *why = "its checksum does not match";
        return NGX_DECLINED;
    }

    for (pass = 0; pass < 2; pass++) {

        p = buf + NGX_HTTP_UPBOT_STATE_HEADER;

        for (i = 0; i < info->entries; i++) {

            if (ngx_http_upbot_state_entry(&p, last, &entry, why) != NGX_OK) {
                info->bad = i + 1;
                return NGX_DECLINED;
            }

            if (pass == 0) {
                continue;
            }

            rc = handler(&entry, data);

            if (rc != NGX_OK) {
                return NGX_DONE;
            }
        }

        if (p != last) {
            *why = "more bytes than its entries";
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_state_entry(const u_char **pp, const u_char *last,
    ngx_http_upbot_state_entry_t *entry, const char **why)
{
    size_t         len[4];
    ngx_str_t     *s[4];
    ngx_uint_t     i, flags;
    const u_char  *p;

    p = *pp;

    if ((size_t) (last - p) < NGX_HTTP_UPBOT_STATE_ENTRY) {
        *why = "an entry cut short";
        return NGX_DECLINED;
    }

    entry->fetched = ngx_http_upbot_state_get64(p);
    entry->members = ngx_http_upbot_state_get32(p + 8);
    entry->max_members = ngx_http_upbot_state_get32(p + 12);
    flags = p[16];

    if (flags & ~NGX_HTTP_UPBOT_STATE_GONE) {
        *why = "an entry with unknown flags";
        return NGX_DECLINED;
    }

    entry->gone = flags & NGX_HTTP_UPBOT_STATE_GONE;

    s[0] = &entry->key;
    s[1] = &entry->name;
    s[2] = &entry->face_url;
    s[3] = &entry->url;

    for (i = 0; i < 4; i++) {
        len[i] = ngx_http_upbot_state_get16(p + 17 + 2 * i);
    }

    if (len[0] == 0) {
        *why = "an entry without a key";
        return NGX_DECLINED;
    }

    p += NGX_HTTP_UPBOT_STATE_ENTRY;

    for (i = 0; i < 4; i++) {

        if ((size_t) (last - p) < len[i]) {
            *why = "an entry cut short";
            return NGX_DECLINED;
        }

        if (i > 0 && len[i] > NGX_HTTP_UPBOT_STATE_STRING_MAX) {
            *why = "an entry with a string too long";
            return NGX_DECLINED;
        }

        s[i]->len = len[i];
        s[i]->data = len[i] ? (u_char *) p : NULL;
        p += len[i];
    }

    *pp = p;

    return NGX_OK;
}


size_t
ngx_http_upbot_state_entry_size(ngx_http_upbot_state_entry_t *entry)
{
    return NGX_HTTP_UPBOT_STATE_ENTRY + entry->key.len + entry->name.len
           + entry->face_url.len + entry->url.len;
}


/* the writer's entries come from the cache, which keeps these bounds */

u_char *
ngx_http_upbot_state_entry_write(u_char *p,
    ngx_http_upbot_state_entry_t *entry)
{
    ngx_uint_t   i;
    ngx_str_t   *s[4];

    s[0] = &entry->key;
    s[1] = &entry->name;
    s[2] = &entry->face_url;
    s[3] = &entry->url;

    p = ngx_http_upbot_state_put64(p, entry->fetched);
    p = ngx_http_upbot_state_put32(p, entry->members);
    p = ngx_http_upbot_state_put32(p, entry->max_members);
    *p++ = entry->gone ? NGX_HTTP_UPBOT_STATE_GONE : 0;

    for (i = 0; i < 4; i++) {
        p = ngx_http_upbot_state_put16(p, (uint16_t) s[i]->len);
    }

    /* an empty string may have no data: no memcpy() from NULL */

    for (i = 0; i < 4; i++) {
        if (s[i]->len) {
            p = ngx_cpymem(p, s[i]->data, s[i]->len);
        }
    }

    return p;
}


void
ngx_http_upbot_state_header(u_char *p, ngx_uint_t entries, uint64_t size,
    uint64_t written, uint32_t crc)
{
    u_char  *start;

    start = p;

    p = ngx_cpymem(p, NGX_HTTP_UPBOT_STATE_MAGIC,
                   sizeof(NGX_HTTP_UPBOT_STATE_MAGIC) - 1);
    p = ngx_http_upbot_state_put32(p, NGX_HTTP_UPBOT_STATE_VERSION);
    p = ngx_http_upbot_state_put32(p, (uint32_t) entries);
    p = ngx_http_upbot_state_put64(p, size);
    p = ngx_http_upbot_state_put64(p, written);
    p = ngx_http_upbot_state_put32(p, crc);

    (void) ngx_http_upbot_state_put32(p, ngx_crc32_long(start, p - start));
}


static uint16_t
ngx_http_upbot_state_get16(const u_char *p)
{
    return (uint16_t) (p[0] | p[1] << 8);
}


static uint32_t
ngx_http_upbot_state_get32(const u_char *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}


static uint64_t
ngx_http_upbot_state_get64(const u_char *p)
{
    return (uint64_t) ngx_http_upbot_state_get32(p)
           | (uint64_t) ngx_http_upbot_state_get32(p + 4) << 32;
}


static u_char *
ngx_http_upbot_state_put16(u_char *p, uint16_t n)
{
    *p++ = (u_char) n;
    *p++ = (u_char) (n >> 8);

    return p;
}


static u_char *
ngx_http_upbot_state_put32(u_char *p, uint32_t n)
{
    p = ngx_http_upbot_state_put16(p, (uint16_t) n);

    return ngx_http_upbot_state_put16(p, (uint16_t) (n >> 16));
}


static u_char *
ngx_http_upbot_state_put64(u_char *p, uint64_t n)
{
    p = ngx_http_upbot_state_put32(p, (uint32_t) n);

    return ngx_http_upbot_state_put32(p, (uint32_t) (n >> 32));
}
