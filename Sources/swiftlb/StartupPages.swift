#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Gives back the pages of SwiftLB's own executable that only starting (or reloading) touched.
///
/// Parsing lb.conf, building the runtime, opening listeners and the VIP run code — the config
/// parser and its keyword registry, certificate loading, the VRRP set-up — that serving never
/// runs again, and the kernel maps it 64 KiB at a time (fault-around). Those pages stay in the
/// process's page tables, and so in its RSS, for as long as it runs: about 6 MB of the
/// executable's 14 MB resident, measured at 1000 connections (docs/benchmarks.md). Once the
/// instance is serving, the executable's read-only mappings are dropped from the page tables
/// (`madvise(MADV_DONTNEED)`); what the data path runs is mapped back on its next use, from the
/// page cache (a minor fault, no disk read), and stays.
///
/// Only mappings that hold nothing private are dropped: read-only, and no anonymous (copied on
/// write) page in them, resident or swapped out (smaps counts a swapped copy under `Swap:`,
/// not `Anonymous:`) — the file's own bytes, which the kernel maps back identical. The
/// RELRO segment, whose pages the loader relocated before making them read-only, has private
/// pages and is left alone; so is everything writable and every shared library.
///
/// Nothing is lost that the kernel does not already drop on its own: a clean page of a file
/// mapping is reclaimed under memory pressure at any time and faulted back from the file the
/// same way; dropping it here only chooses the moment. (A package upgrade renames a new file
/// over the old path; the mapping keeps the old inode, so what is faulted back is unchanged.)
///
/// `/proc/self/smaps` is opened before the chroot hides /proc, and read again at each release.
final class StartupPages: Sendable {
    /// One release at a time: the start and a reload may both ask, and they share the file's offset.
    private let fd: Mutex<Int32>

    init?() {
        let fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        self.fd = Mutex(fd)
    }

    deinit { fd.withLock { _ = close($0) } }

    /// Drops the executable's start-up pages; returns how many bytes of them were resident.
    @discardableResult
    func release() -> Int {
        fd.withLock { fd in Self.release(Self.mappings(in: Self.readAll(fd))) }
    }

    private static func release(_ mappings: [Mapping]) -> Int {
        let image = UInt(bitPattern: #dsohandle)
        guard let own = mappings.first(where: { $0.range.contains(image) })?.path, !own.isEmpty else { return 0 }
        var released = 0
        for mapping in mappings where mapping.path == own && mapping.dropSafe {
            let length = Int(mapping.range.upperBound - mapping.range.lowerBound)
            if madvise(UnsafeMutableRawPointer(bitPattern: mapping.range.lowerBound), length, MADV_DONTNEED) == 0 {
                released += mapping.residentKB * 1024
            }
        }
        return released
    }

    private static func readAll(_ fd: Int32) -> [UInt8] {
        guard lseek(fd, 0, SEEK_SET) == 0 else { return [] }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }

    /// One mapping of smaps: its header line and the two sizes that decide.
    struct Mapping: Equatable {
        var range: Range<UInt>
        var permissions: Substring
        var path: Substring
        var residentKB = 0
        var anonymousKB = 0
        var swapKB = 0

        /// Nothing in it but the file's bytes: dropping it loses nothing.
        var dropSafe: Bool { !permissions.contains("w") && anonymousKB == 0 && swapKB == 0 }
    }

    /// Parses smaps: a header per mapping (`start-end perms offset dev inode [path]`), then
    /// `Key: value kB` lines.
    static func mappings(in bytes: [UInt8]) -> [Mapping] {
        var result: [Mapping] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = words.first else { continue }
            if first.hasSuffix(":") {
                guard !result.isEmpty, words.count >= 2, let value = Int(words[1]) else { continue }
                switch first {
                case "Rss:": result[result.count - 1].residentKB = value
                case "Anonymous:": result[result.count - 1].anonymousKB = value
                case "Swap:": result[result.count - 1].swapKB = value
                default: break
                }
                continue
            }
            let bounds = first.split(separator: "-")
            guard words.count >= 5, bounds.count == 2, let start = UInt(bounds[0], radix: 16),
                  let end = UInt(bounds[1], radix: 16), start < end else { continue }
            result.append(Mapping(range: start..<end, permissions: words[1], path: words.count > 5 ? words[5] : ""))
        }
        return result
    }
}
