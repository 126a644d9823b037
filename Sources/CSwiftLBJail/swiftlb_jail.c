// `chroot DIR` without /proc kills a Swift process: libdispatch's worker-pool monitor (a 1 s
// timer on its manager thread, Linux only) reads /proc/TID/stat of every worker of a
// non-overcommit global queue whenever such a queue has work waiting, and crashes the process
// (DISPATCH_CLIENT_CRASH, "workq: registered worker exited prematurely", SIGILL) when the open
// fails. Swift concurrency runs on those queues (swiftlb's control socket, reloads, signals),
// so an empty jail, HAProxy's recommended one, lasted seconds under load.
//
// Inside the jail, then, an open of /proc/N/stat is answered here with a line saying the thread
// is running ('R'). The monitor uses that state only to add threads when the workers it has are
// blocked; answered "running", it adds none beyond its target of one runnable worker per CPU,
// the width Swift concurrency's cooperative pool is designed for (its tasks must not block).
// Nothing else in /proc becomes reachable: a real procfs would show, through /proc/PID/root,
// the root of any process of the same user that ptrace's read mode may inspect.
//
// `open` and `open64` are defined here, in the executable, so that they interpose on the C
// library's for libdispatch too (linked statically in release builds, a shared library in debug
// ones). Every other open is openat(AT_FDCWD, ...), which is what glibc's open(2) is.

#define _GNU_SOURCE
#undef _FORTIFY_SOURCE  // its inline open() wrapper would clash with the definitions below
#include "swiftlb_jail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// Set once, just before chroot(2); read by every open() of every thread.
static int jailed = 0;

void swiftlb_jail_entering(void) { __atomic_store_n(&jailed, 1, __ATOMIC_RELEASE); }

/// "/proc/N/stat" (what libdispatch opens), N all digits.
static int is_thread_stat(const char *path) {
    if (strncmp(path, "/proc/", 6) != 0) return 0;
    const char *digits = path + 6, *p = digits;
    while (*p >= '0' && *p <= '9') p++;
    return p > digits && strcmp(p, "/stat") == 0;
}

/// A file holding "0 (swiftlb) R": pid, name, state, as proc(5) starts the line.
static int running_stat(void) {
    int fd = (int)syscall(SYS_memfd_create, "swiftlb-stat", 1U /* MFD_CLOEXEC */);
    if (fd < 0) return -1;
    static const char line[] = "0 (swiftlb) R\n";
    if (write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1) || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        errno = EIO;
        return -1;
    }
    return fd;
}

static int jail_open(const char *path, int flags, int mode) {
    if (__atomic_load_n(&jailed, __ATOMIC_ACQUIRE) && path != NULL && (flags & O_ACCMODE) == O_RDONLY && is_thread_stat(path)) {
        return running_stat();
    }
    return openat(AT_FDCWD, path, flags, mode);
}

/// glibc reads the mode argument only when the flags create a file; so does this.
#define MODE_ARGUMENT(flags, mode)                                         \
    int mode = 0;                                                          \
    if (((flags) & O_CREAT) != 0 || ((flags) & O_TMPFILE) == O_TMPFILE) {  \
        va_list arguments;                                                 \
        va_start(arguments, flags);                                        \
        mode = va_arg(arguments, int);                                     \
        va_end(arguments);                                                 \
    }

int open(const char *path, int flags, ...) {
    MODE_ARGUMENT(flags, mode)
    return jail_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    MODE_ARGUMENT(flags, mode)
    return jail_open(path, flags, mode);
}
