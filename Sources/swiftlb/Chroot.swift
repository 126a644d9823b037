#if canImport(Glibc)
import Glibc
#endif
import CSwiftLBJail

/// `chroot DIR`: entered once certificates, keys and sockets are open, before the drop.
///
/// A Swift process cannot live in an empty jail as it is: libdispatch, under Swift
/// concurrency, reads /proc/TID/stat of its workers whenever work waits for one and kills the
/// process when it cannot. From just before the chroot on, those reads are answered by
/// swiftlb itself ("running"; swiftlb_jail.c says why that is safe).
enum Chroot {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func enter(_ dir: String) -> Failure? {
        // Before chroot(2): the monitor may look at /proc at any moment once it has happened.
        swiftlb_jail_entering()
        guard chroot(dir) == 0 else { return Failure(description: "chroot(\(dir)): \(String(cString: strerror(errno)))") }
        guard chdir("/") == 0 else { return Failure(description: "chdir(/) in \(dir): \(String(cString: strerror(errno)))") }
        return nil
    }
}
