/*
 * LD_PRELOAD shim for t/104-usersig.t: the wall clock reads a second the
 * test chooses, so that a UserSig nginx makes can be checked against a
 * known answer, and its renewal seen.  The second is read from the file
 * FIXTIME_FILE when it is set (the test moves the clock by rewriting it),
 * else it is 1700000000.  Only open, read and close are used: nginx also
 * reads the clock in signal handlers.  Timers use the monotonic clock and
 * are not affected.
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static time_t
fixed(void)
{
    int          fd;
    char         buf[32];
    time_t       t;
    ssize_t      i, n;
    const char  *file;

    t = 1700000000;
    file = getenv("FIXTIME_FILE");

    if (file == NULL) {
        return t;
    }

    fd = open(file, O_RDONLY);
    if (fd == -1) {
        return t;
    }

    n = read(fd, buf, sizeof(buf));
    close(fd);

    if (n <= 0) {
        return t;
    }

    t = 0;

    for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
        t = t * 10 + (buf[i] - '0');
    }

    return t;
}


int
gettimeofday(struct timeval *tv, void *tz)
{
    (void) tz;

    if (tv) {
        tv->tv_sec = fixed();
        tv->tv_usec = 0;
    }

    return 0;
}


time_t
time(time_t *t)
{
    time_t  now = fixed();

    if (t) {
        *t = now;
    }

    return now;
}
