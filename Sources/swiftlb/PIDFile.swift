#if canImport(Glibc)
import Glibc
#endif

/// The `pidfile` of a running instance. Written once at start; removed at stop only if the
/// path still is the very file this process wrote (same device and inode, still holding our
/// pid). It never follows a symbolic link, never writes over a directory or over a file that
/// another user owns, and never removes anything else: a `pidfile /run` must not wipe /run.
struct PIDFile {
    let path: String
    private let device: UInt64
    private let inode: UInt64
    private let pid: Int32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Writes our pid to `path`, refusing every path that is not a regular file we may own.
    init(writingTo path: String, pid: Int32 = getpid()) throws(Failure) {
        var existing = stat()
        if lstat(path, &existing) == 0 {
            let kind = existing.st_mode & S_IFMT
            if kind == S_IFDIR { throw Failure(description: "pidfile \(path) is a directory") }
            if kind == S_IFLNK { throw Failure(description: "pidfile \(path) is a symbolic link (refused: it could point anywhere)") }
            if kind != S_IFREG { throw Failure(description: "pidfile \(path) exists and is not a regular file") }
            if existing.st_uid != geteuid() {
                throw Failure(description: "pidfile \(path) belongs to uid \(existing.st_uid), not to this process (uid \(geteuid())); remove it or choose another path")
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot write pidfile \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let text = Array("\(pid)\n".utf8)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var info = stat()
        guard written == text.count, fstat(fd, &info) == 0 else {
            throw Failure(description: "cannot write pidfile \(path): \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
        self.pid = pid
    }

    /// Removes the file if it is still ours; returns whether it did.
    @discardableResult
    func remove() -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
              UInt64(info.st_dev) == device, UInt64(info.st_ino) == inode else { return false }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard n > 0, String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters() == "\(pid)" else { return false }
        return unlink(path) == 0
    }
}

private extension String {
    func trimmingCharacters() -> Substring {
        self[...].drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed().reduce(into: Substring()) { $0.append($1) }
    }
}
