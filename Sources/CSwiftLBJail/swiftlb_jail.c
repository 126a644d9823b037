// `chroot DIR` without /proc kills a Swift process: libdispatch's worker-pool monitor (a 1 s
// timer on its manager thread, Linux only) reads /proc/TID/stat of every worker of a
// non-overcommit global queue whenever such a queue has work waiting, and crashes the process
// (DISPATCH_CLIENT_CRASH, "workq: registered worker exited prematurely", SIGILL) when the open
// fails. Swift concurrency runs on those queues (swiftlb's control socket, reloads, signals),
// so an empty jail, HAProxy's recommended one, lasted seconds under load.
//
// The fix: before chroot(2), while still root, a private instance of procfs is created with
// the new mount API (fsopen/fsmount, Linux 5.2+) and never attached anywhere: `hidepid=2`
// shows only the processes this one may ptrace (its own threads; a process of the same user
// outside the jail could be ptraced anyway), `subset=pid` leaves out everything but process
// directories, and `..` cannot climb out of a detached mount, so it is no way out of the jail.
// After chroot, open("/proc/…") resolves there; every other open is openat(AT_FDCWD, …) as
// glibc's open(2) is. `open` is defined here, in the executable, so it interposes on the C
// library's for libdispatch too (statically linked in release builds, a shared library in
// debug ones).
//
// Without CAP_SYS_ADMIN (a container's default capabilities) no procfs can be made: then
// /proc/N/stat answers "running" for every thread, which is libdispatch on a platform without
// that monitor (no extra threads when its workers block), instead of a dead process.

#define _GNU_SOURCE
#undef _FORTIFY_SOURCE  // its inline open() wrapper would clash with the definition below
#include "swiftlb_jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int jail_proc = -1;       // the detached procfs, or -1
static volatile int jailed = 0;  // chroot(2) was entered

int swiftlb_jail_prepare_proc(void) {
    if (jail_proc >= 0) return 0;
    int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
    if (fs < 0) return errno;
    int failure = 0;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "hidepid", "2", NULL, 0) < 0) failure = errno;
    // Linux 5.8+; without it the rest of /proc (never a process of another user) is seen too.
    if (!failure) (void)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "subset", "pid", NULL, 0);
    if (!failure && syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) failure = errno;
    int mount = -1;
    if (!failure) {
        mount = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                             MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (mount < 0) failure = errno;
    }
    close(fs);
    if (failure) return failure;
    jail_proc = mount;
    return 0;
}

void swiftlb_jail_entered(void) { jailed = 1; }

/// "N/stat" (what libdispatch opens), N all digits.
static int is_thread_stat(const char *rest) {
    const char *p = rest;
    while (*p >= '0' && *p <= '9') p++;
    return p > rest && strcmp(p, "/stat") == 0;
}

/// The fallback's answer to /proc/N/stat: pid, name, state R.
static int running_stat(void) {
    int fd = memfd_create("swiftlb-stat", MFD_CLOEXEC);
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
    if (jailed && path != NULL && strncmp(path, "/proc/", 6) == 0) {
        const char *rest = path + 6;
        if (jail_proc >= 0) return openat(jail_proc, rest, flags, mode);
        if (is_thread_stat(rest) && (flags & O_ACCMODE) == O_RDONLY) return running_stat();
    }
    return openat(AT_FDCWD, path, flags, mode);
}

/// glibc reads the mode argument only when the flags create a file; so does this.
#define MODE_ARGUMENT(flags, mode)                                       \
    int mode = 0;                                                        \
    if (((flags) & O_CREAT) != 0 || ((flags) & O_TMPFILE) == O_TMPFILE) { \
        va_list arguments;                                               \
        va_start(arguments, flags);                                      \
        mode = va_arg(arguments, int);                                   \
        va_end(arguments);                                               \
    }

int open(const char *path, int flags, ...) {
    MODE_ARGUMENT(flags, mode)
    return jail_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    MODE_ARGUMENT(flags, mode)
    return jail_open(path, flags, mode);
}
