/*
 * LD_PRELOAD shim for t/104-usersig.t: the wall clock reads a fixed second
 * (FIXTIME_SECONDS, default 1700000000), so that a UserSig nginx makes can
 * be checked against a known answer.  Timers use the monotonic clock and
 * are not affected.
 */

#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static time_t
fixed(void)
{
    const char  *s = getenv("FIXTIME_SECONDS");

    return s ? (time_t) atoll(s) : (time_t) 1700000000;
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
