/*
 * LD_PRELOAD shim for the tests of "upbot_event_log ... fsync=on".
 *
 * SYNCTRACE_FAIL=WORD: fdatasync() of a file whose path holds WORD fails
 * with EIO, as a failing disk's would (t/051-events-fsync.t).
 *
 * SYNCTRACE_SLOW=WORD:MS: fdatasync() of a file whose path holds WORD
 * takes MS milliseconds more, as a slow disk's would (t/082).
 *
 * SYNCTRACE_OUT=FILE and SYNCTRACE_LOG=WORD: every write() to a file
 * whose path holds WORD (the event log), every fdatasync() of one, and
 * every HTTP answer written to a socket is recorded in FILE, one line
 * each (t/081-events-fsync-order.t):
 *
 *     SEQ NS PID TID W FD INO TRACE_ID   after a write() to the log returned
 *     SEQ NS PID TID SB FD INO           before fdatasync() is called
 *     SEQ NS PID TID SE FD INO BEGIN RC  after it returned (BEGIN: its SB)
 *     SEQ NS PID TID A FD STATUS BATCH   before an answer's first bytes go
 *
 * SEQ comes from one atomic counter, in memory that the master shares
 * with every worker it forks: when a write's SEQ is below a sync's
 * SB, the write had returned before that fdatasync() was called, and when
 * a sync's SE is below an answer's A, the sync had ended before the answer
 * was sent.  TRACE_ID is the first "trace_id" of the lines written, BATCH
 * the answer's X-Batch header, "-" when absent; INO the inode of the file,
 * which tells the log from the one rotated out.
 *
 * The environment is read when the shim is loaded: nginx's workers keep
 * only the variables "env" names.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>


static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static int (*real_fdatasync)(int);

static char           fail_word[256];
static char           slow_word[256];
static long           slow_ms;
static char           log_word[256];
static int            out_fd = -1;

/* shared by the master and the workers it forks, reloads included */
static unsigned long  *seq;


static void
init(void)
{
    if (real_write == NULL) {
        real_write = (ssize_t (*)(int, const void *, size_t))
                     dlsym(RTLD_NEXT, "write");
        real_writev = (ssize_t (*)(int, const struct iovec *, int))
                      dlsym(RTLD_NEXT, "writev");
        real_send = (ssize_t (*)(int, const void *, size_t, int))
                    dlsym(RTLD_NEXT, "send");
        real_fdatasync = (int (*)(int)) dlsym(RTLD_NEXT, "fdatasync");
    }
}


__attribute__((constructor)) static void
load(void)
{
    const char  *s;

    init();

    s = getenv("SYNCTRACE_FAIL");
    if (s) {
        snprintf(fail_word, sizeof(fail_word), "%s", s);
    }

    s = getenv("SYNCTRACE_SLOW");
    if (s && strchr(s, ':')) {
        snprintf(slow_word, sizeof(slow_word), "%.*s",
                 (int) (strchr(s, ':') - s), s);
        slow_ms = atol(strchr(s, ':') + 1);
    }

    s = getenv("SYNCTRACE_LOG");
    if (s) {
        snprintf(log_word, sizeof(log_word), "%s", s);
    }

    s = getenv("SYNCTRACE_OUT");
    if (s && log_word[0]) {
        seq = mmap(NULL, sizeof(unsigned long), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

        if (seq != MAP_FAILED) {
            out_fd = open(s, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        }
    }
}


/* whether fd is a file whose path holds word */
static int
path_has(int fd, const char *word)
{
    char     link[64], path[4096];
    ssize_t  n;

    if (word[0] == '\0') {
        return 0;
    }

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);

    n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0) {
        return 0;
    }

    path[n] = '\0';

    return strstr(path, word) != NULL;
}


static unsigned long
inode(int fd)
{
    struct stat  st;

    return fstat(fd, &st) == 0 ? (unsigned long) st.st_ino : 0;
}


/* a line of the trace; its SEQ */
static unsigned long
record(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static unsigned long
record(const char *fmt, ...)
{
    int              n, m, saved;
    char             line[512];
    va_list          args;
    unsigned long    s;
    struct timespec  ts;

    saved = errno;

    s = __atomic_add_fetch(seq, 1, __ATOMIC_SEQ_CST);
    clock_gettime(CLOCK_MONOTONIC, &ts);

    n = snprintf(line, sizeof(line), "%lu %lld %d %ld ", s,
                 (long long) ts.tv_sec * 1000000000 + ts.tv_nsec,
                 (int) getpid(), (long) syscall(SYS_gettid));

    va_start(args, fmt);
    m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, args);
    va_end(args);

    if (m < 0) {
        m = 0;
    }

    n += m;

    if (n > (int) sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }

    line[n++] = '\n';

    /* one write() a line: O_APPEND keeps the lines of all threads whole */
    (void) real_write(out_fd, line, n);

    errno = saved;

    return s;
}


/* the value of "key" (up to a quote, a CR or white space) in buf, or "-" */
static void
find_value(const char *buf, size_t len, const char *key, char *value,
    size_t size)
{
    size_t       i, k, klen;
    const char  *p;

    klen = strlen(key);
    value[0] = '-';
    value[1] = '\0';

    for (i = 0; i + klen <= len; i++) {
        if (memcmp(buf + i, key, klen) != 0) {
            continue;
        }

        p = buf + i + klen;

        for (k = 0; k + 1 < size && p + k < buf + len
                    && p[k] != '"' && p[k] != '\r' && p[k] != '\n'
                    && p[k] != ' '; k++)
        {
            value[k] = p[k];
        }

        if (k) {
            value[k] = '\0';
        }

        return;
    }
}


/* an HTTP answer's first bytes: "HTTP/1.1 200 OK\r\n...X-Batch: b\r\n" */
static void
answer(int fd, const char *buf, size_t len)
{
    char  status[8], batch[128];

    if (out_fd == -1 || len < 12 || memcmp(buf, "HTTP/1.", 7) != 0) {
        return;
    }

    memcpy(status, buf + 9, 3);
    status[3] = '\0';

    find_value(buf, len, "X-Batch: ", batch, sizeof(batch));

    record("A %d %s %s", fd, status, batch);
}


ssize_t
write(int fd, const void *buf, size_t count)
{
    char     trace[128];
    ssize_t  n;

    init();

    if (out_fd == -1 || fd == out_fd) {
        return real_write(fd, buf, count);
    }

    answer(fd, buf, count);

    n = real_write(fd, buf, count);

    if (n > 0 && path_has(fd, log_word)) {
        find_value(buf, (size_t) n, "\"trace_id\":\"", trace, sizeof(trace));
        record("W %d %lu %s", fd, inode(fd), trace);
    }

    return n;
}


ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
    int     i;
    char    head[2048];
    size_t  len, n;

    init();

    if (out_fd != -1) {

        /* the answer's head, from as many buffers as it takes */

        for (len = 0, i = 0; i < iovcnt && len < sizeof(head); i++) {
            n = iov[i].iov_len;

            if (n > sizeof(head) - len) {
                n = sizeof(head) - len;
            }

            memcpy(head + len, iov[i].iov_base, n);
            len += n;
        }

        answer(fd, head, len);
    }

    return real_writev(fd, iov, iovcnt);
}


ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
    init();

    answer(fd, buf, len);

    return real_send(fd, buf, len, flags);
}


int
fdatasync(int fd)
{
    int              rc, slow;
    unsigned long    begin, ino;
    struct timespec  ts;

    init();

    if (path_has(fd, fail_word)) {
        errno = EIO;
        return -1;
    }

    slow = path_has(fd, slow_word);

    if (slow) {
        ts.tv_sec = slow_ms / 1000;
        ts.tv_nsec = slow_ms % 1000 * 1000000;
    }

    if (out_fd == -1 || !path_has(fd, log_word)) {
        if (slow) {
            nanosleep(&ts, NULL);
        }

        return real_fdatasync(fd);
    }

    ino = inode(fd);
    begin = record("SB %d %lu", fd, ino);

    if (slow) {
        nanosleep(&ts, NULL);
    }

    rc = real_fdatasync(fd);

    record("SE %d %lu %lu %d", fd, ino, begin, rc == 0 ? 0 : errno);

    return rc;
}
