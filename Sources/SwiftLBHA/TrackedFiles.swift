#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwiftLBConfig

/// Every `track_file` an instance tracks, at run time: `init_file` applied at start, then
/// each file read every `readInterval` (its first 127 bytes, as keepalived reads it) and its
/// number (`FileTrackValue`) kept. keepalived re-reads a file when inotify says it was
/// written, moved or deleted; SwiftLB re-reads on a timer, so a change is seen up to
/// `readInterval` later. A change of value calls `onChange` so the instances re-evaluate at once.
///
/// Confined to the VRRP loop; `status` is the one cross-thread read.
final class TrackedFiles: @unchecked Sendable {
    static let readInterval: Int64 = 250_000_000

    let settings: [String: VRRPTrackFile]
    /// The blocks some instance tracks: only those are read (every block gets its init_file).
    private let watched: [String]
    /// The last value of each file, for `show vrrp`.
    let status: NIOLockedValueBox<[String: Int64]>
    /// Called on the loop with the names whose value changed.
    var onChange: (([String]) -> Void)?

    private let loop: any EventLoop
    private let logger: Logger
    // Confined to `loop`.
    private var values: [String: Int64] = [:]
    private var tick: RepeatedTask?
    private var stopped = false

    init(settings: [String: VRRPTrackFile], watched: Set<String>? = nil, loop: any EventLoop, logger: Logger) {
        self.settings = settings
        self.watched = (watched ?? Set(settings.keys)).sorted()
        self.loop = loop
        self.logger = logger
        self.status = NIOLockedValueBox([:])
    }

    /// Applies `init_file`, reads every file now (the first values, before any instance
    /// elects) and every interval after.
    func start() -> EventLoopFuture<Void> {
        loop.submit { [self] in
            for (name, file) in settings.sorted(by: { $0.key < $1.key }) { initialise(name, file) }
            readAll()
            tick = loop.scheduleRepeatedTask(initialDelay: .nanoseconds(Self.readInterval), delay: .nanoseconds(Self.readInterval)) { [self] _ in readAll() }
        }
    }

    func stop() -> EventLoopFuture<Void> {
        loop.submit { [self] in
            stopped = true
            tick?.cancel()
        }
    }

    /// The number `name` holds now (on the loop); 0 before the first read, as keepalived starts.
    func value(_ name: String) -> Int64 { values[name] ?? 0 }

    /// keepalived's `init_file`: write VALUE when the file does not exist, or always with
    /// `overwrite` (never over something that is not a regular file).
    private func initialise(_ name: String, _ file: VRRPTrackFile) {
        guard let initial = file.initial else { return }
        var info = stat()
        if stat(file.path, &info) == 0 {
            guard initial.overwrite else { return }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                logger.error("track_file \(name): cannot initialise \(file.path): it is not a regular file")
                return
            }
        }
        let fd = open(file.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            logger.error("track_file \(name): cannot initialise \(file.path): \(String(cString: strerror(errno)))")
            return
        }
        defer { close(fd) }
        let text = Array("\(initial.value)\n".utf8)
        if write(fd, text, text.count) != text.count {
            logger.error("track_file \(name): cannot initialise \(file.path): \(String(cString: strerror(errno)))")
        }
    }

    private func readAll() {
        guard !stopped else { return }
        var changed: [String] = []
        for name in watched {
            guard let file = settings[name] else { continue }
            let before = values[name]
            guard let value = FileTrackValue.parse(Self.read(file.path)) else {
                logger.warning("track_file \(name): \(file.path) holds a number outside the 32-bit range; ignored (the value stays \(before ?? 0))")
                continue
            }
            values[name] = value
            if value != before ?? 0 || before == nil {
                if before != nil || value != 0 { logger.info("track_file \(name): \(file.path) reads \(value)\(before.map { " (was \($0))" } ?? "")") }
                changed.append(name)
            }
        }
        let now = values
        status.withLockedValue { $0 = now }
        if !changed.isEmpty { onChange?(changed) }
    }

    /// The file's first 127 bytes; none when it is missing or unreadable (which reads as 0).
    private static func read(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 127)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    /// One line of `show vrrp` under each instance that tracks `name`.
    func statusLine(_ name: String) -> String {
        guard let file = settings[name] else { return "" }
        let value = status.withLockedValue { $0[name] } ?? 0
        return "track_file \(name): \(file.path) reads \(value), weight \(file.weight)\(file.reverse ? " reverse" : ""), read every \(ConfigDuration(nanoseconds: Self.readInterval))\n"
    }
}
