#if canImport(Glibc)
import Glibc
#endif

/// Descriptors 0, 1 and 2 are open before anything else is. A process started with one of
/// them closed (`swiftlb run … <&- >&- 2>&-`, a careless init script) would otherwise get an
/// epoll instance, a timer or a listening socket at that number, and what is written to
/// stdout or stderr — the log — would go into it, to a client at worst. Each closed one is
/// opened on /dev/null, as daemons do.
enum StandardDescriptors {
    static func ensureOpen() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            // The lowest free number is `fd` itself: the ones below it are open by now.
            let opened = open("/dev/null", O_RDWR)
            if opened >= 0 && opened != fd {
                _ = dup2(opened, fd)
                close(opened)
            }
        }
    }
}
