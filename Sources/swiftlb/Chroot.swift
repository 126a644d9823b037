#if canImport(Glibc)
import Glibc
#endif
import CSwiftLBJail

/// `chroot DIR`: entered once certificates, keys and sockets are open, before the drop.
///
/// A Swift process cannot live in an empty jail as it is: libdispatch, under Swift
/// concurrency, reads /proc/TID/stat of its workers whenever work waits for one and kills
/// the process when it cannot (swiftlb_jail.c says how). So a private, detached /proc that
/// shows this process's own threads is made first, while still root, and libdispatch's reads
/// go there; without the right to make one (no CAP_SYS_ADMIN, as in a container), they are
/// answered "running", and `note` says so.
enum Chroot {
    struct Entered {
        /// Set when no private /proc could be made: why, for the log.
        let note: String?
    }

    static func enter(_ dir: String) -> Result<Entered, Failure> {
        let procError = swiftlb_jail_prepare_proc()
        guard chroot(dir) == 0 else { return .failure(Failure(description: "chroot(\(dir)): \(String(cString: strerror(errno)))")) }
        swiftlb_jail_entered()
        guard chdir("/") == 0 else { return .failure(Failure(description: "chdir(/) in \(dir): \(String(cString: strerror(errno)))")) }
        let note = procError == 0 ? nil
            : "no private /proc inside the chroot (\(String(cString: strerror(procError)))): the Swift runtime's thread pool sees its workers as running"
        return .success(Entered(note: note))
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }
}
