#if canImport(Glibc)
import Glibc
#endif

/// libc functions Swift does not import: `prctl` is variadic, `sched_setaffinity`, `tgkill`
/// and `gettid` need _GNU_SOURCE, `capset` has no header in glibc. Resolved once with dlsym;
/// each is a plain system-call wrapper taking integer and pointer arguments, so calling it
/// through a non-variadic pointer is sound on Linux's x86-64 and arm64 ABIs.
enum LinuxCalls {
    private static func symbol<T>(_ name: String, as type: T.Type) -> T {
        guard let pointer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
            preconditionFailure("libc has no '\(name)'")
        }
        return unsafeBitCast(pointer, to: type)
    }

    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    typealias Capset = @convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
    typealias Tgkill = @convention(c) (Int32, Int32, Int32) -> Int32
    typealias Gettid = @convention(c) () -> Int32
    typealias SetAffinity = @convention(c) (Int32, Int, UnsafeRawPointer) -> Int32

    nonisolated(unsafe) static let prctl = symbol("prctl", as: Prctl.self)
    nonisolated(unsafe) static let capset = symbol("capset", as: Capset.self)
    nonisolated(unsafe) static let tgkill = symbol("tgkill", as: Tgkill.self)
    nonisolated(unsafe) static let gettid = symbol("gettid", as: Gettid.self)
    nonisolated(unsafe) static let schedSetaffinity = symbol("sched_setaffinity", as: SetAffinity.self)

    static let PR_SET_PDEATHSIG: Int32 = 1
    static let PR_SET_KEEPCAPS: Int32 = 8
    static let CAP_NET_ADMIN = 12
    static let CAP_NET_RAW = 13
}

/// The threads of this process, read through a descriptor of /proc/self/task opened before
/// a chroot (after it, /proc is usually not there).
final class ProcTasks: @unchecked Sendable {
    private var fd: Int32

    init?() {
        fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { return nil }
    }

    deinit { close() }

    /// Closes the descriptor now: a directory opened outside a chroot is a way out of it
    /// (`openat(fd, "../../..")` is the real root), so it must not outlive the privilege drop.
    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Thread ids, now.
    var threads: [Int32] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else { return [] }
        defer { closedir(dir) }
        rewinddir(dir)
        var result: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let tid = Int32(name) { result.append(tid) }
        }
        return result
    }

    /// `TID/status` as key → value (`Uid`, `CapEff`, `Cpus_allowed_list`…); empty if the
    /// thread is gone.
    func status(_ tid: Int32) -> [String: String] {
        let file = openat(fd, "\(tid)/status", O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return [:] }
        defer { Glibc.close(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(file, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        var result: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
        }
        return result
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
