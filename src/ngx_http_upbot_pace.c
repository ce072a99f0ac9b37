
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Where each app's latest call slot is kept, for its rate=.  In the app's
 * node of the zone, which every worker of this nginx sees; and, with
 * "upbot_zone ... state=FILE", in FILE.pace, one page mapped by every
 * nginx that uses that state file.  A binary upgrade (USR2) runs two
 * nginx side by side, each with a zone of its own: paced in the zone
 * alone, each made the app's rate of calls, up to twice the rate
 * together (t/111 at rate=20r/s: 26 and 40 in the busiest second of the
 * overlap, in two runs; 17 in the page).  In the page they take their
 * slots from one time.  A start soon after a stop goes on from the last
 * slot too.
 *
 * The page: slot 0 holds a mark; each other slot an app's key (the CRC32
 * of its name, never 0) and its latest slot, in µs of nginx's monotonic
 * clock, which every process of the host reads alike; words of the
 * machine's size (ngx_atomic_t), as every nginx of the host has them.
 * Slots are taken and times set with compare-and-swap, since no lock is
 * shared by two nginx.  Two apps with one key share a slot: both are then
 * paced slower, never faster.
 */


#include "ngx_http_upbot.h"

#include <sys/mman.h>


#define NGX_HTTP_UPBOT_PACE_SIZE   4096

/* how far one process's clock may be ahead of another's, µs: a second */
#define NGX_HTTP_UPBOT_PACE_SKEW   1000000

#define NGX_HTTP_UPBOT_PACE_MARK   0x3165636170627075ULL   /* "upbpace1" */


typedef struct {
    ngx_atomic_t                    key;
    ngx_atomic_t                    last;
} ngx_http_upbot_pace_slot_t;

#define NGX_HTTP_UPBOT_PACE_SLOTS                                             \
    (NGX_HTTP_UPBOT_PACE_SIZE / sizeof(ngx_http_upbot_pace_slot_t))


static ngx_http_upbot_pace_slot_t *ngx_http_upbot_pace_map(
    ngx_str_t *state, ngx_log_t *log);
static ngx_atomic_t *ngx_http_upbot_pace_slot(
    ngx_http_upbot_pace_slot_t *page, ngx_str_t *name);


/* the master's mapping, kept from one configuration to the next */
static ngx_http_upbot_pace_slot_t  *ngx_http_upbot_pace_page;
static u_char                       ngx_http_upbot_pace_mapped[NGX_MAX_PATH];
static u_char                       ngx_http_upbot_pace_path[NGX_MAX_PATH];


/*
 * In the master, once the apps have their nodes in the zone: each app's
 * pace, in the page when there is one, else in its node.  A page that
 * cannot be mapped is one line in the error log; the apps are paced in
 * the zone then, as without state=.
 */

void
ngx_http_upbot_pace_attach(ngx_http_upbot_main_conf_t *umcf, ngx_log_t *log)
{
    ngx_uint_t                   i;
    ngx_atomic_t                *pace;
    ngx_http_upbot_app_t        *apps;
    ngx_http_upbot_pace_slot_t  *page;

    page = NULL;

    if (umcf->state.len && umcf->apps.nelts && !ngx_test_config) {
        page = ngx_http_upbot_pace_map(&umcf->state, log);
    }

    apps = umcf->apps.elts;

    for (i = 0; i < umcf->apps.nelts; i++) {
        pace = page ? ngx_http_upbot_pace_slot(page, &apps[i].name) : NULL;

        if (pace == NULL) {
            pace = &apps[i].shared->last;

            if (page) {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "upbot: no room for app \"%V\" in \"%s\": "
                              "its calls are paced by this nginx alone",
                              &apps[i].name, ngx_http_upbot_pace_path);
            }
        }

        apps[i].pace = pace;
    }
}


/*
 * A slot for a call "now" (µs) at least "interval" after the latest, and
 * at most "wait" from now: taken, and its time in *start; else NGX_BUSY.
 * Times wrap around (a 32-bit ngx_atomic_t holds 71 minutes of them):
 * they are compared by their difference.  A latest slot further ahead
 * than any slot is ever taken (a time of the page from before the host's
 * reboot, when the monotonic clock began again) is no slot at all.
 */

ngx_int_t
ngx_http_upbot_pace_take(ngx_atomic_t *pace, ngx_atomic_uint_t now,
    ngx_atomic_uint_t interval, ngx_atomic_uint_t wait,
    ngx_atomic_uint_t *start)
{
    ngx_atomic_int_t   ahead;
    ngx_atomic_uint_t  last, next;

    for ( ;; ) {
        last = *pace;
        next = last + interval;
        ahead = (ngx_atomic_int_t) (next - now);

        if (ahead < 0
            || (ngx_atomic_uint_t) ahead > wait + interval
                                           + NGX_HTTP_UPBOT_PACE_SKEW)
        {
            next = now;
        }

        if (next - now > wait) {
            return NGX_BUSY;
        }

        if (ngx_atomic_cmp_set(pace, last, next)) {
            *start = next;
            return NGX_OK;
        }
    }
}


static ngx_http_upbot_pace_slot_t *
ngx_http_upbot_pace_map(ngx_str_t *state, ngx_log_t *log)
{
    u_char                      *p;
    ngx_fd_t                     fd;
    ngx_file_info_t              fi;
    ngx_http_upbot_pace_slot_t  *page;

    if (state->len + sizeof(".pace") > NGX_MAX_PATH) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "upbot: the path \"%V.pace\" is too long: calls are "
                      "paced by this nginx alone", state);
        return NULL;
    }

    p = ngx_cpymem(ngx_http_upbot_pace_path, state->data, state->len);
    p = ngx_cpymem(p, ".pace", sizeof(".pace"));

    /* a reload mostly keeps the file: the same mapping serves */

    if (ngx_http_upbot_pace_page) {
        if (ngx_strcmp(ngx_http_upbot_pace_mapped, ngx_http_upbot_pace_path)
            == 0)
        {
            return ngx_http_upbot_pace_page;
        }

        /* the workers forked with the old one keep their copy of it */

        (void) munmap(ngx_http_upbot_pace_page, NGX_HTTP_UPBOT_PACE_SIZE);
        ngx_http_upbot_pace_page = NULL;
    }

    fd = ngx_open_file(ngx_http_upbot_pace_path, NGX_FILE_RDWR,
                       NGX_FILE_CREATE_OR_OPEN, 0600);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "upbot: " ngx_open_file_n " \"%s\" failed: calls are "
                      "paced by this nginx alone", ngx_http_upbot_pace_path);
        return NULL;
    }

    page = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "upbot: " ngx_fd_info_n " \"%s\" failed: calls are "
                      "paced by this nginx alone", ngx_http_upbot_pace_path);
        goto done;
    }

    /* new: a page of zeros (two nginx making it make the same) */

    if (ngx_file_size(&fi) < NGX_HTTP_UPBOT_PACE_SIZE
        && ftruncate(fd, NGX_HTTP_UPBOT_PACE_SIZE) == -1)
    {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "upbot: ftruncate() \"%s\" failed: calls are paced by "
                      "this nginx alone", ngx_http_upbot_pace_path);
        goto done;
    }

    page = mmap(NULL, NGX_HTTP_UPBOT_PACE_SIZE, PROT_READ|PROT_WRITE,
                MAP_SHARED, fd, 0);

    if (page == MAP_FAILED) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "upbot: mmap() \"%s\" failed: calls are paced by this "
                      "nginx alone", ngx_http_upbot_pace_path);
        page = NULL;
        goto done;
    }

    (void) ngx_atomic_cmp_set(&page[0].key, 0,
                              (ngx_atomic_uint_t) NGX_HTTP_UPBOT_PACE_MARK);

    if (page[0].key != (ngx_atomic_uint_t) NGX_HTTP_UPBOT_PACE_MARK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "upbot: \"%s\" is not an upbot pace file: calls are "
                      "paced by this nginx alone", ngx_http_upbot_pace_path);
        (void) munmap(page, NGX_HTTP_UPBOT_PACE_SIZE);
        page = NULL;
        goto done;
    }

    ngx_http_upbot_pace_page = page;
    ngx_cpystrn(ngx_http_upbot_pace_mapped, ngx_http_upbot_pace_path,
                NGX_MAX_PATH);

done:

    /* the mapping stays when the file is closed */

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed",
                      ngx_http_upbot_pace_path);
    }

    return page;
}


/* the app's slot in the page, found or taken; NULL when all are taken */

static ngx_atomic_t *
ngx_http_upbot_pace_slot(ngx_http_upbot_pace_slot_t *page, ngx_str_t *name)
{
    uint32_t           crc;
    ngx_uint_t         i, n;
    ngx_atomic_uint_t  key;

    crc = ngx_crc32_short(name->data, name->len);
    key = crc ? crc : 1;

    i = key % (NGX_HTTP_UPBOT_PACE_SLOTS - 1);

    for (n = 0; n < NGX_HTTP_UPBOT_PACE_SLOTS - 1; n++) {
        i = i % (NGX_HTTP_UPBOT_PACE_SLOTS - 1) + 1;

        /* a free slot is claimed; another nginx may claim it first */

        if (page[i].key == 0) {
            (void) ngx_atomic_cmp_set(&page[i].key, 0, key);
        }

        if (page[i].key == key) {
            return &page[i].last;
        }
    }

    return NULL;
}
