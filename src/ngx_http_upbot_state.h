
/*
 * Copyright (C) 2026, the upbot authors
 *
 * The state file's format (upbot_zone ... state=FILE): the facts of the
 * cached live groups, so that a restarted nginx answers from them at once.
 * Pure: a reader (bytes in, entries out through a callback) and the
 * pieces of a writer, on the nginx core only, so that fuzz/state_fuzz.c
 * runs them alone.  The nginx side (when to load, when to write, which
 * entries to keep) is ngx_http_upbot_warm.c.
 *
 * All numbers little-endian.  A header of 40 bytes:
 *
 *      0  8  magic "upbotst\n"
 *      8  4  format version (1)
 *     12  4  entries
 *     16  8  the payload's bytes (the file's, less the header)
 *     24  8  when the file was written, unix ms
 *     32  4  CRC-32 of the payload
 *     36  4  CRC-32 of bytes 0-35
 *
 * then the entries, each 25 bytes and its strings:
 *
 *      0  8  when its facts were fetched, unix ms
 *      8  4  members
 *     12  4  max_members
 *     16  1  flags: 1 the group is gone; no other bit is set
 *     17  2  key length (1 or more), "tim:prod @TGS#1", the cache's key
 *     19  2  name length
 *     21  2  face_url length
 *     23  2  url length
 *     25     key, name, face_url, url (the last three at most
 *            NGX_HTTP_UPBOT_STATE_STRING_MAX bytes each; their bytes as
 *            the provider's answer gave them, which answers escape)
 *
 * Nothing else: no secret, no UserSig, nothing of a visitor.
 */


#ifndef _NGX_HTTP_UPBOT_STATE_H_INCLUDED_
#define _NGX_HTTP_UPBOT_STATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_UPBOT_STATE_MAGIC       "upbotst\n"
#define NGX_HTTP_UPBOT_STATE_VERSION     1
#define NGX_HTTP_UPBOT_STATE_HEADER      40
#define NGX_HTTP_UPBOT_STATE_ENTRY       25

/* as the cache keeps them (NGX_HTTP_UPBOT_CACHE_STRING_MAX) */
#define NGX_HTTP_UPBOT_STATE_STRING_MAX  4096

#define NGX_HTTP_UPBOT_STATE_GONE        0x01


typedef struct {
    ngx_str_t                       key;
    ngx_str_t                       name;
    ngx_str_t                       face_url;
    ngx_str_t                       url;
    uint64_t                        fetched;     /* unix ms */
    uint32_t                        members;
    uint32_t                        max_members;
    ngx_uint_t                      gone;
} ngx_http_upbot_state_entry_t;


/* what the header says; filled as far as the reader got */
typedef struct {
    ngx_uint_t                      version;
    ngx_uint_t                      entries;
    uint64_t                        written;     /* unix ms */
    ngx_uint_t                      bad;         /* the entry, from 1 */
} ngx_http_upbot_state_info_t;


/*
 * An entry read: NGX_OK for the next one, NGX_DONE to stop there.  Its
 * strings point into the buffer.
 */
typedef ngx_int_t (*ngx_http_upbot_state_pt)(
    ngx_http_upbot_state_entry_t *entry, void *data);


/*
 * Reads a whole file from buf: it is checked first, all of it, and only
 * then are its entries handed to "handler", in the file's order.  NGX_OK:
 * all of them were; NGX_DONE: the handler stopped; NGX_DECLINED: the file
 * is not one this nginx reads (*why says why, in a few words, and
 * info->bad which entry when it is one), and no entry was handed over.
 */
ngx_int_t ngx_http_upbot_state_read(const u_char *buf, size_t len,
    ngx_http_upbot_state_pt handler, void *data,
    ngx_http_upbot_state_info_t *info, const char **why);

/* an entry's bytes in the file, and the entry written at p: past it */
size_t ngx_http_upbot_state_entry_size(ngx_http_upbot_state_entry_t *entry);
u_char *ngx_http_upbot_state_entry_write(u_char *p,
    ngx_http_upbot_state_entry_t *entry);

/* the header, at p, of a payload of "size" bytes whose CRC-32 is crc */
void ngx_http_upbot_state_header(u_char *p, ngx_uint_t entries,
    uint64_t size, uint64_t written, uint32_t crc);


#endif /* _NGX_HTTP_UPBOT_STATE_H_INCLUDED_ */
