#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwiftLBConfig

/// Every `track_file` an instance tracks, at run time: `init_file` applied at start, then
/// each file read at start and again only when inotify says it was written and closed or
/// moved in (its first 127 bytes, as keepalived reads it), 0 when it is deleted or moved
/// away — keepalived's track_file.c. A writer that truncates the file and writes it later
/// (`cmd > file`) is therefore read once, when it closes the file, never empty in between.
/// Each file's directory is opened and watched at start, and the file read through that
/// descriptor, so a `chroot` entered afterwards changes nothing. A change of value calls
/// `onChange` so the instances re-evaluate at once.
///
/// Confined to the VRRP loop; `status` is the one cross-thread read.
final class TrackedFiles: @unchecked Sendable {
    let settings: [String: VRRPTrackFile]
    /// The blocks some instance tracks: only those are read (every block gets its init_file).
    private let watched: [String]
    /// The last value of each file, for `show vrrp`.
    let status: NIOLockedValueBox<[String: Int64]>
    /// Called on the loop with the names whose value changed.
    var onChange: (([String]) -> Void)?

    /// A tracked file as opened at start: its directory's descriptor and inotify watch.
    private struct Opened {
        var directory: Int32
        var file: String
        var watch: Int32?
    }

    private let loop: any EventLoop
    private let logger: Logger
    // Confined to `loop`.
    private var values: [String: Int64] = [:]
    private var opened: [String: Opened] = [:]
    private var inotify: DirectoryWatch?
    private var stopped = false

    init(settings: [String: VRRPTrackFile], watched: Set<String>? = nil, loop: any EventLoop, logger: Logger) {
        self.settings = settings
        self.watched = (watched ?? Set(settings.keys)).sorted()
        self.loop = loop
        self.logger = logger
        self.status = NIOLockedValueBox([:])
    }

    /// Applies `init_file`, opens and watches each tracked file's directory, and reads every
    /// file now (the first values, before any instance elects).
    func start() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            for (name, file) in settings.sorted(by: { $0.key < $1.key }) { initialise(name, file) }
            do { inotify = try DirectoryWatch() } catch {
                logger.error("track_file: cannot watch the files (\(error)): each is read once, now")
            }
            for name in watched {
                guard let file = settings[name] else { continue }
                opened[name] = watch(name, file)
            }
            readAll(watched)
            guard let inotify else { return loop.makeSucceededVoidFuture() }
            return inotify.start(on: loop) { [weak self] event in self?.handle(event) }.recover { [self] error in
                logger.error("track_file: cannot watch the files (\(error)): each is read once, now")
            }
        }
    }

    func stop() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            stopped = true
            for o in opened.values { close(o.directory) }
            opened = [:]
            return inotify?.stop() ?? loop.makeSucceededVoidFuture()
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

    /// The file's directory, resolved as keepalived resolves it (realpath of the file, or of
    /// its directory when the file does not exist yet), opened and watched.
    private func watch(_ name: String, _ file: VRRPTrackFile) -> Opened? {
        var path = file.path
        if let resolved = realpath(path, nil) {
            path = String(cString: resolved)
            free(resolved)
        }
        let slash = path.lastIndex(of: "/")
        var directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        if let resolved = realpath(directory, nil) {
            directory = String(cString: resolved)
            free(resolved)
        }
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let fd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            logger.error("track_file \(name): cannot open \(directory): \(String(cString: strerror(errno))); \(file.path) reads 0")
            return nil
        }
        var watch: Int32?
        do { watch = try inotify?.add(directory) } catch {
            logger.error("track_file \(name): \(error); \(file.path) is read once, now")
        }
        return Opened(directory: fd, file: base, watch: watch)
    }

    /// One inotify event: the files it names are read again (or are 0 when gone).
    private func handle(_ event: DirectoryWatch.Event) {
        guard !stopped else { return }
        if event.overflow {
            logger.warning("track_file: inotify dropped events; reading every file again")
            readAll(watched)
            return
        }
        let names = watched.filter { opened[$0]?.watch == event.watch && opened[$0]?.file == event.name }
        guard !names.isEmpty else { return }
        if event.removed {
            record(names.map { ($0, 0) })
        } else if event.written {
            readAll(names)
        }
    }

    private func readAll(_ names: [String]) {
        guard !stopped else { return }
        var read: [(String, Int64)] = []
        for name in names {
            guard let file = settings[name] else { continue }
            guard let value = FileTrackValue.parse(opened[name].map { Self.read($0) } ?? []) else {
                logger.warning("track_file \(name): \(file.path) holds a number outside the 32-bit range; ignored (the value stays \(values[name] ?? 0))")
                continue
            }
            read.append((name, value))
        }
        record(read)
    }

    private func record(_ read: [(String, Int64)]) {
        var changed: [String] = []
        for (name, value) in read {
            let before = values[name]
            values[name] = value
            if value != before ?? 0 || before == nil {
                if before != nil || value != 0 { logger.info("track_file \(name): \(settings[name]!.path) reads \(value)\(before.map { " (was \($0))" } ?? "")") }
                changed.append(name)
            }
        }
        let now = values
        status.withLockedValue { $0 = now }
        if !changed.isEmpty { onChange?(changed) }
    }

    /// The file's first 127 bytes; none when it is missing or unreadable (which reads as 0).
    private static func read(_ file: Opened) -> [UInt8] {
        let fd = openat(file.directory, file.file, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
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
        return "track_file \(name): \(file.path) reads \(value), weight \(file.weight)\(file.reverse ? " reverse" : ""), re-read when written (inotify)\n"
    }
}
