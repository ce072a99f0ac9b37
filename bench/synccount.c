/*
 * LD_PRELOAD shim for make bench's fsync part: counts the fdatasync()
 * calls of the process (and of its threads and children) and the
 * nanoseconds they took, in two 64-bit counters at the start of the file
 * SYNCCOUNT_FILE, which the bench reads before and after each run.  Both
 * targets, fsync=on and fsync=off, run with it, so it costs them alike.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>


static int (*real_fdatasync)(int);
static uint64_t  *counters;


__attribute__((constructor)) static void
load(void)
{
    int          fd;
    void        *p;
    const char  *file;

    real_fdatasync = (int (*)(int)) dlsym(RTLD_NEXT, "fdatasync");

    file = getenv("SYNCCOUNT_FILE");
    if (file == NULL) {
        return;
    }

    fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        return;
    }

    if (ftruncate(fd, 2 * sizeof(uint64_t)) == 0) {
        p = mmap(NULL, 2 * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                 MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            counters = p;
        }
    }

    close(fd);
}


int
fdatasync(int fd)
{
    int              rc;
    struct timespec  t0, t1;

    if (counters == NULL) {
        return real_fdatasync(fd);
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = real_fdatasync(fd);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    __atomic_add_fetch(&counters[0], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&counters[1],
                       (uint64_t) ((t1.tv_sec - t0.tv_sec) * 1000000000LL
                                   + t1.tv_nsec - t0.tv_nsec),
                       __ATOMIC_RELAXED);

    return rc;
}
