
/*
 * Copyright (C) 2026, the upbot authors
 *
 * "upbot_event_log FILE fsync=on": a batch is answered only after an
 * fdatasync() that began after its write has completed.  The sync runs in
 * one of nginx's thread pools, so the worker never waits for the disk, and
 * batches share syncs (group commit): while a sync runs, the batches
 * written meanwhile gather in the next group, which one sync covers as
 * soon as the running one ends.  A syncer per event log file and thread
 * pool, in each worker; one sync at a time each.  The thread that ends a
 * sync starts the next group's at once, so the disk does not wait for the
 * worker to wake up between two syncs; the worker answers each group when
 * its sync is done.  The pending groups are shared with the threads under
 * the syncer's mutex.
 *
 * A group is the batches written to one file, known by its device and
 * inode, and it holds a dup() of the descriptor they went through: when
 * "nginx -s reopen" closes that descriptor, the group's sync still covers
 * the file its batches are in, and batches written to the new file form a
 * group of their own, synced after it.
 */


#include "ngx_http_upbot.h"


#if (NGX_THREADS)

#include <ngx_thread_pool.h>


/* a sync that takes longer is logged, again at each period */
#define NGX_HTTP_UPBOT_SYNC_SLOW  5000


/* the batches one fdatasync() covers */
typedef struct {
    ngx_queue_t                     queue;       /* pending, or free */
    ngx_queue_t                     waiting;     /* the batches' requests */
    ngx_uint_t                      n;
    ngx_http_upbot_syncer_t        *syncer;
    ngx_thread_task_t              *task;
    ngx_fd_t                        fd;          /* a dup(), its own */
    dev_t                           dev;         /* of the file written */
    ngx_file_uniq_t                 uniq;
    ngx_uint_t                      id;          /* for debug lines */
    ngx_msec_t                      start;
    ngx_err_t                       err;         /* fdatasync()'s */
    unsigned                        not_started:1;
} ngx_http_upbot_sync_t;


struct ngx_http_upbot_syncer_s {
    ngx_open_file_t                *file;
    ngx_str_t                       pool_name;
    ngx_thread_pool_t              *pool;
    ngx_thread_mutex_t              mtx;         /* running and pending */
    ngx_http_upbot_sync_t          *running;
    ngx_queue_t                     pending;     /* groups, as written */
    ngx_queue_t                     free;
    ngx_event_t                     slow;        /* see sync_slow() */
    ngx_uint_t                      watched;     /* by sync_slow() */
    ngx_uint_t                      groups;      /* not yet answered */
    ngx_uint_t                      syncs;       /* groups made */
};


/* a batch written, its request waiting */
typedef struct {
    ngx_queue_t                     queue;       /* in its group */
    ngx_http_request_t             *r;
    ngx_http_upbot_synced_pt        handler;
} ngx_http_upbot_sync_wait_t;


static ngx_http_upbot_sync_t *ngx_http_upbot_sync_group(
    ngx_http_upbot_syncer_t *syncer, ngx_file_info_t *fi, ngx_log_t *log);
static ngx_http_upbot_sync_t *ngx_http_upbot_sync_next(
    ngx_http_upbot_syncer_t *syncer);
static void ngx_http_upbot_sync_start(ngx_http_upbot_sync_t *sync,
    ngx_log_t *log);
static void ngx_http_upbot_sync_watch(ngx_http_upbot_syncer_t *syncer);
static void ngx_http_upbot_sync_thread(void *data, ngx_log_t *log);
static void ngx_http_upbot_sync_done(ngx_event_t *ev);
static void ngx_http_upbot_sync_answer(ngx_http_upbot_syncer_t *syncer,
    ngx_http_upbot_sync_t *sync, ngx_int_t rc);
static void ngx_http_upbot_sync_blocked(ngx_http_request_t *r);
static void ngx_http_upbot_sync_slow(ngx_event_t *ev);


static ngx_str_t  ngx_http_upbot_default_pool = ngx_string("default");


/*
 * At configuration: the syncer of a file and thread pool, shared by the
 * locations that name both.  ngx_thread_pool_add() asks nginx for the
 * pool: "default" is then made even when no "thread_pool" or "aio
 * threads" asks for it, and an unknown name fails "nginx -t" with this
 * line.
 */

ngx_http_upbot_syncer_t *
ngx_http_upbot_syncer(ngx_conf_t *cf, ngx_open_file_t *file, ngx_str_t *pool)
{
    ngx_uint_t                    i;
    ngx_http_upbot_syncer_t      *syncer, **sp;
    ngx_http_upbot_main_conf_t   *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upbot_module);

    if (pool == NULL) {
        pool = &ngx_http_upbot_default_pool;
    }

    sp = umcf->syncers.elts;

    for (i = 0; i < umcf->syncers.nelts; i++) {
        if (sp[i]->file == file
            && sp[i]->pool_name.len == pool->len
            && ngx_strncmp(sp[i]->pool_name.data, pool->data, pool->len) == 0)
        {
            return sp[i];
        }
    }

    syncer = ngx_pcalloc(cf->pool, sizeof(ngx_http_upbot_syncer_t));
    if (syncer == NULL) {
        return NULL;
    }

    syncer->file = file;
    syncer->pool_name = *pool;

    syncer->pool = ngx_thread_pool_add(cf, pool);
    if (syncer->pool == NULL) {
        return NULL;
    }

    if (ngx_thread_mutex_create(&syncer->mtx, cf->log) != NGX_OK) {
        return NULL;
    }

    /* not cancelable: an exiting worker stays until its syncs are done */
    syncer->slow.handler = ngx_http_upbot_sync_slow;
    syncer->slow.data = syncer;

    ngx_queue_init(&syncer->pending);
    ngx_queue_init(&syncer->free);

    sp = ngx_array_push(&umcf->syncers);
    if (sp == NULL) {
        return NULL;
    }

    *sp = syncer;

    return syncer;
}


/*
 * After a batch's write took all of it: the request waits for a sync
 * that begins after now.  NGX_AGAIN: handler(r, rc) answers it then.
 */

ngx_int_t
ngx_http_upbot_sync_wait(ngx_http_request_t *r,
    ngx_http_upbot_syncer_t *syncer, ngx_http_upbot_synced_pt handler)
{
    ngx_queue_t                 *q;
    ngx_file_info_t              fi;
    ngx_http_upbot_sync_t       *sync;
    ngx_http_upbot_sync_wait_t  *w;

    w = ngx_palloc(r->pool, sizeof(ngx_http_upbot_sync_wait_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    /* the file written, which a reopen may have changed since the last */

    if (ngx_fd_info(syncer->file->fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "upbot: " ngx_fd_info_n " of \"%V\" failed",
                      &syncer->file->name);
        return NGX_ERROR;
    }

    w->r = r;
    w->handler = handler;

    /*
     * Joining the last pending group and a thread taking it for its sync
     * exclude each other: a batch joins before that sync begins, or joins
     * a new group.
     */

    if (ngx_thread_mutex_lock(&syncer->mtx, r->connection->log) != NGX_OK) {
        return NGX_ERROR;
    }

    sync = NULL;

    if (!ngx_queue_empty(&syncer->pending)) {
        q = ngx_queue_last(&syncer->pending);
        sync = ngx_queue_data(q, ngx_http_upbot_sync_t, queue);

        if (sync->dev != fi.st_dev || sync->uniq != ngx_file_uniq(&fi)) {
            sync = NULL;
        }
    }

    if (sync == NULL) {
        (void) ngx_thread_mutex_unlock(&syncer->mtx, r->connection->log);

        sync = ngx_http_upbot_sync_group(syncer, &fi, r->connection->log);
        if (sync == NULL) {
            return NGX_ERROR;
        }

        if (ngx_thread_mutex_lock(&syncer->mtx, r->connection->log)
            != NGX_OK)
        {
            ngx_queue_insert_tail(&syncer->free, &sync->queue);
            (void) ngx_close_file(sync->fd);
            syncer->groups--;
            return NGX_ERROR;
        }

        ngx_queue_insert_tail(&syncer->pending, &sync->queue);
    }

    ngx_queue_insert_tail(&sync->waiting, &w->queue);
    sync->n++;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: batch waits for sync #%ui of \"%V\" "
                   "(%ui batches), %s",
                   sync->id, &syncer->file->name, sync->n,
                   syncer->running ? "after the running one"
                                   : "which starts now");

    sync = ngx_http_upbot_sync_next(syncer);

    (void) ngx_thread_mutex_unlock(&syncer->mtx, r->connection->log);

    /* the request and its pool stay until the sync is done, as for aio */

    r->main->blocked++;
    r->aio = 1;
    r->write_event_handler = ngx_http_upbot_sync_blocked;

    if (sync) {
        ngx_http_upbot_sync_start(sync, r->connection->log);
    }

    ngx_http_upbot_sync_watch(syncer);

    return NGX_AGAIN;
}


/* under the mutex, with none running: the first pending group, to start */

static ngx_http_upbot_sync_t *
ngx_http_upbot_sync_next(ngx_http_upbot_syncer_t *syncer)
{
    ngx_queue_t            *q;
    ngx_http_upbot_sync_t  *sync;

    if (syncer->running || ngx_queue_empty(&syncer->pending)) {
        return NULL;
    }

    q = ngx_queue_head(&syncer->pending);
    ngx_queue_remove(q);

    sync = ngx_queue_data(q, ngx_http_upbot_sync_t, queue);
    syncer->running = sync;

    return sync;
}


/* a new group, last in the pending queue, for batches written to fi */

static ngx_http_upbot_sync_t *
ngx_http_upbot_sync_group(ngx_http_upbot_syncer_t *syncer,
    ngx_file_info_t *fi, ngx_log_t *log)
{
    ngx_fd_t                fd;
    ngx_queue_t            *q;
    ngx_http_upbot_sync_t  *sync;

    fd = dup(syncer->file->fd);

    if (fd == -1) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "upbot: dup() of the descriptor of \"%V\" failed",
                      &syncer->file->name);
        return NULL;
    }

    if (ngx_queue_empty(&syncer->free)) {
        sync = ngx_palloc(ngx_cycle->pool, sizeof(ngx_http_upbot_sync_t));
        if (sync == NULL) {
            (void) ngx_close_file(fd);
            return NULL;
        }

        sync->task = ngx_thread_task_alloc(ngx_cycle->pool, 0);
        if (sync->task == NULL) {
            (void) ngx_close_file(fd);
            return NULL;
        }

        sync->syncer = syncer;
        sync->task->ctx = sync;
        sync->task->handler = ngx_http_upbot_sync_thread;
        sync->task->event.handler = ngx_http_upbot_sync_done;
        sync->task->event.data = sync;

    } else {
        q = ngx_queue_head(&syncer->free);
        ngx_queue_remove(q);
        sync = ngx_queue_data(q, ngx_http_upbot_sync_t, queue);
    }

    ngx_queue_init(&sync->waiting);
    sync->n = 0;
    sync->fd = fd;
    sync->dev = fi->st_dev;
    sync->uniq = ngx_file_uniq(fi);
    sync->id = ++syncer->syncs;
    sync->start = 0;
    sync->err = 0;
    sync->not_started = 0;

    syncer->groups++;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                   "upbot: sync #%ui of \"%V\": fd:%d, a dup of fd:%d",
                   sync->id, &syncer->file->name, fd, syncer->file->fd);

    return sync;
}


/* from the worker: a group's sync goes to the thread pool */

static void
ngx_http_upbot_sync_start(ngx_http_upbot_sync_t *sync, ngx_log_t *log)
{
    ngx_http_upbot_syncer_t  *syncer;

    syncer = sync->syncer;

    sync->start = ngx_current_msec;
    sync->task->event.log = ngx_cycle->log;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                   "upbot: sync #%ui of \"%V\" started: %ui batches, fd:%d",
                   sync->id, &syncer->file->name, sync->n, sync->fd);

    if (ngx_thread_task_post(syncer->pool, sync->task) != NGX_OK) {

        /* answered 1006 from the event loop, not from inside a request */

        sync->not_started = 1;
        ngx_post_event(&sync->task->event, &ngx_posted_events);
    }
}


/*
 * In a thread of the pool.  When the sync went well and another group
 * waits, its sync is started from here: the task goes to the pool's queue,
 * where this thread, or another, takes it as soon as this one returns.
 */

static void
ngx_http_upbot_sync_thread(void *data, ngx_log_t *log)
{
    ngx_http_upbot_sync_t  *sync = data;

    ngx_http_upbot_sync_t    *next;
    ngx_http_upbot_syncer_t  *syncer;

    syncer = sync->syncer;

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, log, 0,
                   "upbot: fdatasync() of fd:%d, sync #%ui",
                   sync->fd, sync->id);

    sync->err = (fdatasync(sync->fd) == -1) ? ngx_errno : 0;

    if (ngx_thread_mutex_lock(&syncer->mtx, log) != NGX_OK) {
        return;
    }

    /* not after a failure: the worker fails the pending groups too */

    syncer->running = NULL;
    next = sync->err ? NULL : ngx_http_upbot_sync_next(syncer);

    if (next) {
        next->start = ngx_current_msec;
        next->task->event.log = log;

        if (ngx_thread_task_post(syncer->pool, next->task) != NGX_OK) {
            /* the worker starts it, or fails it, once this one is done */
            ngx_queue_insert_head(&syncer->pending, &next->queue);
            syncer->running = NULL;
            next = NULL;
        }
    }

    (void) ngx_thread_mutex_unlock(&syncer->mtx, log);

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, log, 0,
                   "upbot: sync #%ui done, sync #%ui started after it",
                   sync->id, next ? next->id : 0);
}


/*
 * Back in the worker, the group's sync done: its batches are answered.  A
 * failed fdatasync() fails the pending groups too: their pages were
 * written before it ended, it may have tried to write them back as well,
 * and Linux reports a write-back error once, so their own sync could
 * succeed without them.
 */

static void
ngx_http_upbot_sync_done(ngx_event_t *ev)
{
    ngx_uint_t                more;
    ngx_queue_t               failed, *q;
    ngx_http_upbot_sync_t    *sync, *next, *s;
    ngx_http_upbot_syncer_t  *syncer;

    sync = ev->data;
    syncer = sync->syncer;

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "upbot: sync #%ui of \"%V\" done in %M ms: %ui batches, "
                   "err:%d", sync->id, &syncer->file->name,
                   ngx_current_msec - sync->start, sync->n, sync->err);

    if (ngx_close_file(sync->fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_errno,
                      "upbot: " ngx_close_file_n " of a descriptor of "
                      "\"%V\" failed", &syncer->file->name);
    }

    ngx_queue_init(&failed);
    more = 0;

    if (ngx_thread_mutex_lock(&syncer->mtx, ev->log) != NGX_OK) {
        return;
    }

    if (sync->not_started) {
        syncer->running = NULL;

    } else if (sync->err) {
        ngx_queue_add(&failed, &syncer->pending);
        ngx_queue_init(&syncer->pending);
    }

    /* none running: the thread did not start the next one */

    next = ngx_http_upbot_sync_next(syncer);

    (void) ngx_thread_mutex_unlock(&syncer->mtx, ev->log);

    if (next) {
        ngx_http_upbot_sync_start(next, ev->log);
    }

    for (q = ngx_queue_head(&failed);
         q != ngx_queue_sentinel(&failed);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_upbot_sync_t, queue);
        more += s->n;

        if (ngx_close_file(s->fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_errno,
                          "upbot: " ngx_close_file_n " of a descriptor of "
                          "\"%V\" failed", &syncer->file->name);
        }
    }

    if (sync->not_started) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "upbot: %ui batches not acknowledged: their sync of "
                      "\"%V\" could not be given to thread pool \"%V\"",
                      sync->n, &syncer->file->name, &syncer->pool_name);

    } else if (sync->err) {
        ngx_log_error(NGX_LOG_ERR, ev->log, sync->err,
                      "upbot: %ui batches not acknowledged (%ui of them "
                      "written while it ran): fdatasync() of \"%V\" failed",
                      sync->n + more, more, &syncer->file->name);
    }

    ngx_http_upbot_sync_answer(syncer, sync,
                               (sync->err || sync->not_started)
                               ? NGX_ERROR : NGX_OK);

    while (!ngx_queue_empty(&failed)) {
        q = ngx_queue_head(&failed);
        ngx_queue_remove(q);

        s = ngx_queue_data(q, ngx_http_upbot_sync_t, queue);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "upbot: sync #%ui failed with the one before: "
                       "%ui batches", s->id, s->n);

        ngx_http_upbot_sync_answer(syncer, s, NGX_ERROR);
    }

    ngx_http_upbot_sync_watch(syncer);
}


/* each batch of a group answered, then the group kept for reuse */

static void
ngx_http_upbot_sync_answer(ngx_http_upbot_syncer_t *syncer,
    ngx_http_upbot_sync_t *sync, ngx_int_t rc)
{
    ngx_queue_t                 *q;
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_upbot_sync_wait_t  *w;

    while (!ngx_queue_empty(&sync->waiting)) {
        q = ngx_queue_head(&sync->waiting);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_upbot_sync_wait_t, queue);
        r = w->r;
        c = r->connection;

        ngx_http_set_log_request(c->log, r);

        r->main->blocked--;
        r->aio = 0;

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "upbot: batch synced by sync #%ui: %s%s",
                       sync->id, rc == NGX_OK ? "ok" : "failed",
                       r->write_event_handler == ngx_http_upbot_sync_blocked
                       ? "" : ", request terminated meanwhile");

        if (r->write_event_handler == ngx_http_upbot_sync_blocked) {
            r->write_event_handler = ngx_http_request_empty_handler;
            w->handler(r, rc);

        } else {
            /* ngx_http_terminate_request() found it blocked */
            r->write_event_handler(r);
        }

        ngx_http_run_posted_requests(c);
    }

    ngx_queue_insert_tail(&syncer->free, &sync->queue);
    syncer->groups--;
}


/* while blocked: the connection's write events are not the request's */

static void
ngx_http_upbot_sync_blocked(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upbot: write event while the batch waits for its sync");
}


/*
 * While a group waits, a timer: not cancelable, so that a worker that
 * exits after a reload answers its batches first; and a sync still running
 * at the next tick is said in the error log, since its clients wait.
 */

static void
ngx_http_upbot_sync_watch(ngx_http_upbot_syncer_t *syncer)
{
    if (syncer->groups && !syncer->slow.timer_set) {
        syncer->slow.log = ngx_cycle->log;
        syncer->watched = 0;
        ngx_add_timer(&syncer->slow, NGX_HTTP_UPBOT_SYNC_SLOW);

    } else if (syncer->groups == 0 && syncer->slow.timer_set) {
        ngx_del_timer(&syncer->slow);
    }
}


static void
ngx_http_upbot_sync_slow(ngx_event_t *ev)
{
    ngx_http_upbot_syncer_t  *syncer = ev->data;

    ngx_uint_t              running;
    ngx_http_upbot_sync_t  *sync;

    if (ngx_thread_mutex_lock(&syncer->mtx, ev->log) != NGX_OK) {
        return;
    }

    sync = syncer->running;
    running = sync ? sync->id : 0;

    (void) ngx_thread_mutex_unlock(&syncer->mtx, ev->log);

    /* groups are made and recycled by this process only: sync stays */

    if (running && running == syncer->watched) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "upbot: fdatasync() of \"%V\" has taken %M ms so far, "
                      "%ui batches wait for it",
                      &syncer->file->name, ngx_current_msec - sync->start,
                      sync->n);
    }

    syncer->watched = running;

    if (syncer->groups) {
        ngx_add_timer(ev, NGX_HTTP_UPBOT_SYNC_SLOW);
    }
}

#endif /* NGX_THREADS */
