
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Warm restarts (upbot_zone ... state=FILE): the facts of the cached live
 * groups outlive nginx in a file.  It is written every state_interval by
 * one worker (the first whose timer finds the interval passed, by a time
 * in the zone), and by the master at exit, once every worker has gone, so
 * that it holds the last facts; each time to FILE.tmp-PID, synced, then
 * renamed over FILE, so that FILE is always a whole file.  A worker
 * writes it a chunk of groups at a time, one chunk a turn of its event
 * loop, so that it answers requests between chunks.  It is read by
 * the master when the zone is new (a start, a binary upgrade, a reload
 * that changes the zone's size; not a reload that keeps the zone): each
 * entry whose key is a live group of this configuration, with facts
 * younger than ttl + stale, goes into the zone with its age, so that a
 * request answers from it at once (HIT, or UPDATING while refreshed at
 * the app's rate).  A file that cannot be read whole is one line in the
 * error log, and the cache starts empty.  The format is
 * ngx_http_upbot_state.c's.
 */


#include "ngx_http_upbot.h"


/* groups looked at in one hold of the zone's mutex while writing */
#define NGX_HTTP_UPBOT_WARM_CHUNK   512

/* the write buffer: the largest entry (25 bytes, a 64 KB key, three
 * strings of 4 KB) fits in it */
#define NGX_HTTP_UPBOT_WARM_BUFFER  (128 * 1024)


typedef struct {
    u_char                         *start;
    u_char                         *pos;
    u_char                         *end;
    ngx_uint_t                      entries;
} ngx_http_upbot_warm_out_t;


/* a write of the file under way: a worker's spans turns of its loop */
typedef struct {
    ngx_pool_t                     *pool;
    ngx_cycle_t                    *cycle;       /* whose zone it walks */
    ngx_str_t                       file;        /* FILE */
    u_char                         *tmp;         /* FILE.tmp-PID */
    ngx_fd_t                        fd;
    off_t                           offset;
    uint32_t                        crc;
    uint64_t                        wall;        /* when it began, unix ms */
    ngx_msec_t                      start;
    unsigned                        at_exit:1;
    unsigned                        created:1;
    ngx_http_upbot_warm_out_t       out;
    ngx_http_upbot_cache_cursor_t   cursor;
} ngx_http_upbot_warm_save_t;


/* the live groups of the configuration by key, to place a file's entries */
typedef struct {
    ngx_http_upbot_main_conf_t     *umcf;
    ngx_http_upbot_group_t        **groups;      /* open addressing */
    ngx_uint_t                      mask;
    uint64_t                        wall;        /* now, unix ms */
    ngx_uint_t                      loaded;
    ngx_uint_t                      unknown;     /* not a live group here */
    ngx_uint_t                      old;         /* past ttl + stale */
    ngx_uint_t                      repeated;
    ngx_uint_t                      full;        /* no room in the zone */
    ngx_uint_t                      seen;
} ngx_http_upbot_warm_in_t;


static ngx_http_upbot_warm_save_t *ngx_http_upbot_warm_begin(
    ngx_http_upbot_main_conf_t *umcf, ngx_log_t *log, ngx_uint_t at_exit);
static ngx_int_t ngx_http_upbot_warm_step(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_warm_save_t *save, ngx_log_t *log);
static void ngx_http_upbot_warm_finish(ngx_http_upbot_warm_save_t *save,
    ngx_log_t *log);
static void ngx_http_upbot_warm_abort(ngx_http_upbot_warm_save_t *save,
    ngx_log_t *log, const char *what);
static void ngx_http_upbot_warm_next(ngx_event_t *ev);
static ngx_int_t ngx_http_upbot_warm_take(ngx_http_upbot_state_entry_t *entry,
    void *data);
static ngx_int_t ngx_http_upbot_warm_pwrite(ngx_fd_t fd, u_char *buf,
    size_t len, off_t offset);
static void ngx_http_upbot_warm_timer(ngx_event_t *ev);
static u_char *ngx_http_upbot_warm_read(ngx_http_upbot_main_conf_t *umcf,
    ngx_log_t *log, size_t *len);
static ngx_int_t ngx_http_upbot_warm_index(ngx_http_upbot_warm_in_t *in,
    ngx_pool_t *pool);
static ngx_int_t ngx_http_upbot_warm_place(
    ngx_http_upbot_state_entry_t *entry, void *data);
static uint64_t ngx_http_upbot_warm_wall(void);


/* a worker's timer: its look at whether the file is due */
static ngx_event_t  ngx_http_upbot_warm_event;

/* a worker's write under way, and its next chunk's turn */
static ngx_http_upbot_warm_save_t  *ngx_http_upbot_warm_saving;
static ngx_event_t                  ngx_http_upbot_warm_next_event;


/*
 * The master, when the zone is new.  Whatever the file holds, nginx
 * starts: at worst with an empty cache.
 */

void
ngx_http_upbot_warm_load(ngx_http_upbot_main_conf_t *umcf, ngx_log_t *log)
{
    u_char                       *buf;
    size_t                        len;
    ngx_int_t                     rc;
    ngx_msec_t                    start;
    ngx_pool_t                   *pool;
    const char                   *why;
    ngx_http_upbot_warm_in_t      in;
    ngx_http_upbot_state_info_t   info;

    /* nginx -t makes its zones too: it reads nothing and says nothing */

    if (umcf->state.len == 0 || ngx_test_config) {
        return;
    }

    ngx_time_update();
    start = ngx_current_msec;

    buf = ngx_http_upbot_warm_read(umcf, log, &len);
    if (buf == NULL) {
        return;
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        ngx_free(buf);
        return;
    }

    ngx_memzero(&in, sizeof(ngx_http_upbot_warm_in_t));
    in.umcf = umcf;

    if (ngx_http_upbot_warm_index(&in, pool) != NGX_OK) {
        goto done;
    }

    /* the zone is new: none of its workers runs yet */

    in.wall = ngx_http_upbot_warm_wall();

    ngx_http_upbot_cache_begin(umcf);

    rc = ngx_http_upbot_state_read(buf, len, ngx_http_upbot_warm_place, &in,
                                   &info, &why);

    ngx_http_upbot_cache_end(umcf);

    if (rc == NGX_DECLINED) {
        if (info.bad) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "upbot: the state file \"%V\" is ignored: %s "
                          "(entry %ui of %ui); the cache starts empty",
                          &umcf->state, why, info.bad, info.entries);

        } else if (info.version != 0
                   && info.version != NGX_HTTP_UPBOT_STATE_VERSION)
        {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "upbot: the state file \"%V\" is ignored: format "
                          "version %ui, this nginx reads version %d; the "
                          "cache starts empty",
                          &umcf->state, info.version,
                          NGX_HTTP_UPBOT_STATE_VERSION);

        } else {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "upbot: the state file \"%V\" is ignored: %s; "
                          "the cache starts empty", &umcf->state, why);
        }

        goto done;
    }

    if (rc == NGX_DONE) {
        in.full = info.entries - in.seen + 1;
    }

    ngx_time_update();

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "upbot: loaded %ui facts from \"%V\", skipped %ui (%ui "
                  "not live groups of this configuration, %ui older than "
                  "ttl + stale, %ui for want of room in the zone, %ui "
                  "repeated); the file was written %uL s before, read in "
                  "%M ms",
                  in.loaded, &umcf->state, info.entries - in.loaded,
                  in.unknown, in.old, in.full, in.repeated,
                  (uint64_t) (in.wall > info.written
                              ? (in.wall - info.written) / 1000 : 0),
                  ngx_current_msec - start);

done:

    ngx_destroy_pool(pool);
    ngx_free(buf);
}


/* the whole file, or NULL when there is none to read (said in the log) */

static u_char *
ngx_http_upbot_warm_read(ngx_http_upbot_main_conf_t *umcf, ngx_log_t *log,
    size_t *len)
{
    u_char           *buf;
    size_t            size, max;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_err_t         err;
    ngx_file_info_t   fi;

    fd = ngx_open_file(umcf->state.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "upbot: no state file \"%V\" yet; the cache "
                          "starts empty", &umcf->state);

        } else {
            ngx_log_error(NGX_LOG_ERR, log, err,
                          "upbot: the state file \"%V\" cannot be read: "
                          ngx_open_file_n " failed; the cache starts empty",
                          &umcf->state);
        }

        return NULL;
    }

    buf = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "upbot: the state file \"%V\" cannot be read: "
                      ngx_fd_info_n " failed; the cache starts empty",
                      &umcf->state);
        goto failed;
    }

    /* a file many times the zone's size is not one it wrote: not read */

    size = (size_t) ngx_file_size(&fi);
    max = 4 * umcf->zone->shm.size + 1024 * 1024;

    if (!ngx_is_file(&fi) || size > max) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "upbot: the state file \"%V\" is ignored: %s; the "
                      "cache starts empty", &umcf->state,
                      ngx_is_file(&fi) ? "too large for the zone"
                                       : "not a file");
        goto failed;
    }

    buf = ngx_alloc(size ? size : 1, log);
    if (buf == NULL) {
        goto failed;
    }

    for (*len = 0; *len < size; *len += n) {
        n = ngx_read_fd(fd, buf + *len, size - *len);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            n = 0;
            continue;
        }

        if (n == -1) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "upbot: the state file \"%V\" cannot be read: "
                          ngx_read_fd_n " failed; the cache starts empty",
                          &umcf->state);
            goto failed;
        }

        if (n == 0) {
            break;              /* cut short meanwhile: the reader says so */
        }
    }

    (void) ngx_close_file(fd);

    return buf;

failed:

    if (buf) {
        ngx_free(buf);
    }

    (void) ngx_close_file(fd);

    return NULL;
}


/* the configuration's live groups by key; a group in several pools once */

static ngx_int_t
ngx_http_upbot_warm_index(ngx_http_upbot_warm_in_t *in, ngx_pool_t *pool)
{
    ngx_uint_t                   i, j, n, size, slot;
    ngx_http_upbot_live_t       *live, *g;
    ngx_http_upbot_code_t       *code;
    ngx_http_upbot_group_t      *group;
    ngx_http_upbot_main_conf_t  *umcf;

    umcf = in->umcf;
    n = 0;

    for (i = 0; umcf->codes && i <= umcf->codes_mask; i++) {
        if (umcf->codes[i]) {
            n += umcf->codes[i]->live;
        }
    }

    for (size = 16; size < 2 * n; size *= 2) { /* void */ }

    in->groups = ngx_pcalloc(pool, size * sizeof(ngx_http_upbot_group_t *));
    if (in->groups == NULL) {
        return NGX_ERROR;
    }

    in->mask = size - 1;

    for (i = 0; umcf->codes && i <= umcf->codes_mask; i++) {
        code = umcf->codes[i];

        if (code == NULL) {
            continue;
        }

        for (j = 0; j < code->ngroups; j++) {
            group = &code->groups[j];

            live = group->live;

            if (live == NULL) {
                continue;
            }

            for (slot = live->key_hash & in->mask;
                 in->groups[slot];
                 slot = (slot + 1) & in->mask)
            {
                g = in->groups[slot]->live;

                if (g->key_hash == live->key_hash
                    && g->key.len == live->key.len
                    && ngx_memcmp(g->key.data, live->key.data,
                                  live->key.len) == 0)
                {
                    break;
                }
            }

            in->groups[slot] = group;
        }
    }

    return NGX_OK;
}


/* an entry of the file: into the zone when it still means something */

static ngx_int_t
ngx_http_upbot_warm_place(ngx_http_upbot_state_entry_t *entry, void *data)
{
    ngx_http_upbot_warm_in_t *in = data;

    uint32_t                   hash;
    uint64_t                   age;
    ngx_uint_t                 slot;
    ngx_http_upbot_live_t     *live;
    ngx_http_upbot_group_t    *group;
    ngx_http_upbot_facts_t     facts;
    ngx_http_upbot_fetched_t   f;

    in->seen++;

    hash = ngx_crc32_long(entry->key.data, entry->key.len);

    for (slot = hash & in->mask;
         in->groups[slot];
         slot = (slot + 1) & in->mask)
    {
        live = in->groups[slot]->live;

        if (live->key_hash == hash && live->key.len == entry->key.len
            && ngx_memcmp(live->key.data, entry->key.data, entry->key.len)
               == 0)
        {
            break;
        }
    }

    group = in->groups[slot];

    if (group == NULL) {
        in->unknown++;
        return NGX_OK;
    }

    /* a time ahead of the clock (a clock set back) is taken as now */

    age = in->wall > entry->fetched ? in->wall - entry->fetched : 0;

    if (age >= in->umcf->ttl + in->umcf->stale) {
        in->old++;
        return NGX_OK;
    }

    /* the facts as the provider's answer would have made them */

    ngx_memzero(&f, sizeof(ngx_http_upbot_fetched_t));
    f.error = entry->gone;
    f.name = entry->name;
    f.face_url = entry->face_url;
    f.url = entry->url;
    f.members = entry->members;
    f.max_members = entry->max_members;

    ngx_http_upbot_facts_from(&facts, &f);

    switch (ngx_http_upbot_cache_import_locked(in->umcf, group, &facts,
                                               (ngx_msec_t) age))
    {
    case NGX_OK:
        in->loaded++;
        return NGX_OK;

    case NGX_DECLINED:
        in->repeated++;
        return NGX_OK;

    default:                                    /* the zone is full */
        return NGX_DONE;
    }
}


/* a worker's timer, from its start */

ngx_int_t
ngx_http_upbot_warm_init_process(ngx_cycle_t *cycle)
{
    ngx_http_upbot_main_conf_t  *umcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    umcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_upbot_module);

    if (umcf == NULL || umcf->zone == NULL || umcf->state.len == 0) {
        return NGX_OK;
    }

    ngx_http_upbot_warm_event.handler = ngx_http_upbot_warm_timer;
    ngx_http_upbot_warm_event.log = cycle->log;
    ngx_http_upbot_warm_event.data = cycle;

    /* a worker that is shutting down waits for no such timer */
    ngx_http_upbot_warm_event.cancelable = 1;

    ngx_http_upbot_warm_next_event.handler = ngx_http_upbot_warm_next;
    ngx_http_upbot_warm_next_event.log = cycle->log;

    ngx_add_timer(&ngx_http_upbot_warm_event, umcf->state_interval);

    return NGX_OK;
}


/* a worker leaves no FILE.tmp-PID behind: a write under way is dropped */

void
ngx_http_upbot_warm_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_upbot_warm_save_t  *save;

    save = ngx_http_upbot_warm_saving;

    if (save == NULL) {
        return;
    }

    ngx_http_upbot_warm_saving = NULL;

    if (ngx_http_upbot_warm_next_event.posted) {
        ngx_delete_posted_event(&ngx_http_upbot_warm_next_event);
    }

    ngx_http_upbot_warm_abort(save, cycle->log, NULL);
}


static void
ngx_http_upbot_warm_timer(ngx_event_t *ev)
{
    ngx_msec_t                   left;
    ngx_http_upbot_main_conf_t  *umcf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    /* the cycle of now: a single process keeps its timer across reloads */

    umcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_upbot_module);

    if (umcf == NULL || umcf->zone == NULL || umcf->state.len == 0) {
        return;
    }

    left = umcf->state_interval;

    /* a write still under way here is not followed by another */

    if (ngx_http_upbot_warm_saving == NULL
        && ngx_http_upbot_cache_save_turn(umcf, umcf->state_interval, &left)
           == NGX_OK)
    {
        ngx_http_upbot_warm_saving = ngx_http_upbot_warm_begin(umcf, ev->log,
                                                               0);
        if (ngx_http_upbot_warm_saving) {
            ngx_http_upbot_warm_next(&ngx_http_upbot_warm_next_event);
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, ev->log, 0,
                   "upbot: state file: next look in %M ms", left);

    ngx_add_timer(ev, left);
}


/*
 * A worker's write, a chunk a turn: the next chunk waits for the next
 * turn of the event loop (ngx_posted_next_events), after the events that
 * came meanwhile.  Written in one go, 100,000 groups held the worker up
 * to 89 ms; a chunk a turn, the longest hold is the sync and the rename
 * at the end, about 20 ms.
 */

static void
ngx_http_upbot_warm_next(ngx_event_t *ev)
{
    ngx_int_t                     rc;
    ngx_http_upbot_main_conf_t   *umcf;
    ngx_http_upbot_warm_save_t   *save;

    save = ngx_http_upbot_warm_saving;

    /* a worker leaving, or a single process reloaded: the master, or the
     * next write, has it */

    if (ngx_exiting || ngx_quit || ngx_terminate || save->cycle != ngx_cycle)
    {
        ngx_http_upbot_warm_saving = NULL;
        ngx_http_upbot_warm_abort(save, ev->log, NULL);
        return;
    }

    umcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_upbot_module);

    rc = ngx_http_upbot_warm_step(umcf, save, ev->log);

    if (rc == NGX_AGAIN) {
        ngx_post_event(ev, &ngx_posted_next_events);
        return;
    }

    ngx_http_upbot_warm_saving = NULL;

    if (rc == NGX_OK) {
        ngx_http_upbot_warm_finish(save, ev->log);
    }
}


/*
 * The master's last word: every worker has exited, so the zone holds the
 * facts as they ended, and nobody else writes the file now.  (A worker
 * could not know it was the last: workers of a reload's old and new
 * configurations overlap, and one killed never says goodbye.)  Nothing
 * waits on the master then: the file is written in one go.
 */

void
ngx_http_upbot_warm_exit_master(ngx_cycle_t *cycle)
{
    ngx_int_t                    rc;
    ngx_http_upbot_main_conf_t  *umcf;
    ngx_http_upbot_warm_save_t  *save;

    umcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_upbot_module);

    if (umcf == NULL || umcf->zone == NULL || umcf->state.len == 0
        || umcf->zone->data == NULL)
    {
        return;
    }

    ngx_time_update();

    save = ngx_http_upbot_warm_begin(umcf, cycle->log, 1);
    if (save == NULL) {
        return;
    }

    do {
        rc = ngx_http_upbot_warm_step(umcf, save, cycle->log);
    } while (rc == NGX_AGAIN);

    if (rc == NGX_OK) {
        ngx_http_upbot_warm_finish(save, cycle->log);
    }
}


/*
 * A write begins: FILE.tmp-PID is created; its entries follow a chunk at
 * a time as the zone gives them (the mutex is held for a chunk's copy
 * only, never for the file's I/O), then the header with the count and the
 * checksum, a sync, and a rename over FILE.  A failure is a line in the
 * error log, and FILE stays as it was.
 */

static ngx_http_upbot_warm_save_t *
ngx_http_upbot_warm_begin(ngx_http_upbot_main_conf_t *umcf, ngx_log_t *log,
    ngx_uint_t at_exit)
{
    ngx_pool_t                  *pool;
    ngx_http_upbot_warm_save_t  *save;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        return NULL;
    }

    save = ngx_pcalloc(pool, sizeof(ngx_http_upbot_warm_save_t));
    if (save == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    save->pool = pool;
    save->cycle = (ngx_cycle_t *) ngx_cycle;
    save->file = umcf->state;
    save->fd = NGX_INVALID_FILE;
    save->at_exit = at_exit;
    save->start = ngx_current_msec;
    save->wall = ngx_http_upbot_warm_wall();
    save->offset = NGX_HTTP_UPBOT_STATE_HEADER;

    save->tmp = ngx_pnalloc(pool, umcf->state.len + sizeof(".tmp-")
                                  + NGX_INT_T_LEN);
    save->out.start = ngx_palloc(pool, NGX_HTTP_UPBOT_WARM_BUFFER);
    save->cursor.key.data = ngx_pnalloc(pool, 65536);

    if (save->tmp == NULL || save->out.start == NULL
        || save->cursor.key.data == NULL)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    save->out.end = save->out.start + NGX_HTTP_UPBOT_WARM_BUFFER;

    ngx_sprintf(save->tmp, "%V.tmp-%P%Z", &save->file, ngx_pid);

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                   "upbot: state file: writing \"%s\"", save->tmp);

    /* the join links are for the groups' visitors only: 0600, which the
     * master (root) reads and the workers replace */

    save->fd = ngx_open_file(save->tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                             NGX_FILE_OWNER_ACCESS);

    if (save->fd == NGX_INVALID_FILE) {
        ngx_http_upbot_warm_abort(save, log, ngx_open_file_n);
        return NULL;
    }

    save->created = 1;

    ngx_crc32_init(save->crc);

    return save;
}


/*
 * One chunk of the zone's groups into the file.  NGX_AGAIN: more to come;
 * NGX_OK: every entry is written; NGX_ERROR: the write is dropped.
 */

static ngx_int_t
ngx_http_upbot_warm_step(ngx_http_upbot_main_conf_t *umcf,
    ngx_http_upbot_warm_save_t *save, ngx_log_t *log)
{
    size_t                      len;
    ngx_int_t                   rc;
    ngx_http_upbot_warm_out_t  *out;

    out = &save->out;
    out->pos = out->start;

    rc = ngx_http_upbot_cache_export(umcf, &save->cursor, save->wall,
                                     NGX_HTTP_UPBOT_WARM_CHUNK,
                                     ngx_http_upbot_warm_take, out);

    len = out->pos - out->start;

    if (len) {
        ngx_crc32_update(&save->crc, out->start, len);

        if (ngx_http_upbot_warm_pwrite(save->fd, out->start, len,
                                       save->offset)
            != NGX_OK)
        {
            ngx_http_upbot_warm_abort(save, log, "pwrite()");
            return NGX_ERROR;
        }

#if (NGX_LINUX)
        /*
         * the chunk's writeback starts now (at most 0.3 ms a call), so
         * that the sync at the end has less left to wait for: 100,000
         * groups (9.5 MB), fsync() 13 ms -> 6.5 ms
         */
        (void) sync_file_range(save->fd, save->offset, len,
                               SYNC_FILE_RANGE_WRITE);
#endif

        save->offset += len;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, log, 0,
                   "upbot: state file: %ui facts, %O bytes so far",
                   out->entries, save->offset);

    return (rc == NGX_OK) ? NGX_AGAIN : NGX_OK;
}


/* the header, the sync and the rename; the write is over either way */

static void
ngx_http_upbot_warm_finish(ngx_http_upbot_warm_save_t *save, ngx_log_t *log)
{
    u_char     header[NGX_HTTP_UPBOT_STATE_HEADER];
    ngx_fd_t   fd;

    ngx_crc32_final(save->crc);

    ngx_http_upbot_state_header(header, save->out.entries,
                                save->offset - NGX_HTTP_UPBOT_STATE_HEADER,
                                save->wall, save->crc);

    if (ngx_http_upbot_warm_pwrite(save->fd, header, sizeof(header), 0)
        != NGX_OK)
    {
        ngx_http_upbot_warm_abort(save, log, "pwrite()");
        return;
    }

    /* the data on disk before the name: a crash leaves the old file */

    if (fsync(save->fd) == -1) {
        ngx_http_upbot_warm_abort(save, log, "fsync()");
        return;
    }

    fd = save->fd;
    save->fd = NGX_INVALID_FILE;

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_http_upbot_warm_abort(save, log, ngx_close_file_n);
        return;
    }

    if (ngx_rename_file(save->tmp, save->file.data) == NGX_FILE_ERROR) {
        ngx_http_upbot_warm_abort(save, log, ngx_rename_file_n);
        return;
    }

    ngx_time_update();

    if (save->at_exit) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "upbot: wrote %ui facts to \"%V\" at exit, in %M ms",
                      save->out.entries, &save->file,
                      ngx_current_msec - save->start);

    } else {
        ngx_log_debug3(NGX_LOG_DEBUG_CORE, log, 0,
                       "upbot: state file: wrote %ui facts to \"%V\" in "
                       "%M ms", save->out.entries, &save->file,
                       ngx_current_msec - save->start);
    }

    ngx_destroy_pool(save->pool);
}


/*
 * A write dropped: "what" failed (logged with errno), or NULL when the
 * process is leaving.  FILE.tmp-PID goes, FILE stays as it was.
 */

static void
ngx_http_upbot_warm_abort(ngx_http_upbot_warm_save_t *save, ngx_log_t *log,
    const char *what)
{
    ngx_err_t  err;

    err = ngx_errno;

    if (what) {
        ngx_log_error(NGX_LOG_ERR, log, err,
                      "upbot: the state file \"%V\" was not written: "
                      "%s \"%s\" failed", &save->file, what, save->tmp);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                       "upbot: state file: \"%s\" dropped at exit",
                       save->tmp);
    }

    if (save->fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(save->fd);
    }

    if (save->created) {
        (void) ngx_delete_file(save->tmp);
    }

    ngx_destroy_pool(save->pool);
}


/* an entry from the zone into the buffer, when it has room */

static ngx_int_t
ngx_http_upbot_warm_take(ngx_http_upbot_state_entry_t *entry, void *data)
{
    ngx_http_upbot_warm_out_t *out = data;

    if (ngx_http_upbot_state_entry_size(entry)
        > (size_t) (out->end - out->pos))
    {
        return NGX_AGAIN;
    }

    out->pos = ngx_http_upbot_state_entry_write(out->pos, entry);
    out->entries++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upbot_warm_pwrite(ngx_fd_t fd, u_char *buf, size_t len,
    off_t offset)
{
    ssize_t  n;

    while (len) {
        n = pwrite(fd, buf, len, offset);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            continue;
        }

        if (n <= 0) {
            return NGX_ERROR;
        }

        buf += n;
        len -= n;
        offset += n;
    }

    return NGX_OK;
}


/* now, unix ms, as the last ngx_time_update() saw it */

static uint64_t
ngx_http_upbot_warm_wall(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}
