#if canImport(Glibc)
import Glibc
#endif

/// Puts a listening unix socket at its path with its final owner and mode from the first
/// instant it is reachable: the socket is bound inside a fresh private directory (mode 700,
/// created by `mkdtemp`), given its owner and mode there, then renamed into place, replacing
/// a stale socket atomically. No umask change (process-wide, racy with other threads) and no
/// window in which the socket has the default, wider permissions.
///
/// A regular file or directory at the path is never replaced: that is a configuration error.
struct UnixSocketPlacement {
    let finalPath: String
    /// Where to bind now.
    let bindPath: String
    private let directory: String

    /// Linux's `sun_path` holds 107 bytes plus the terminating zero.
    static let maxPathLength = 107

    init(path: String) throws(ControlSocketError) {
        guard path.utf8.count <= Self.maxPathLength else {
            throw ControlSocketError("'\(path)': a unix socket path is limited to \(Self.maxPathLength) bytes")
        }
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFSOCK {
            throw ControlSocketError("'\(path)' exists and is not a socket; refusing to replace it")
        }
        let parent = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var template = Array(((parent.isEmpty ? "" : parent) + "/.swiftlb-sock-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            throw ControlSocketError("'\(path)': cannot create a private directory in '\(parent.isEmpty ? "/" : parent)': \(String(cString: strerror(errno)))")
        }
        directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        finalPath = path
        let direct = directory + "/s"
        if direct.utf8.count <= Self.maxPathLength {
            bindPath = direct
        } else {
            // Too long to bind directly: reach the private directory through a short
            // /proc/self/fd path instead (the descriptor stays open until `place`).
            let fd = open(directory, O_RDONLY | O_DIRECTORY)
            bindPath = fd >= 0 ? "/proc/self/fd/\(fd)/s" : direct
            heldDirectoryFD = fd
        }
    }

    private var heldDirectoryFD: Int32 = -1

    /// After the bind: owner, mode, then the rename into place. Returns the socket's inode so
    /// that `remove` deletes only the socket this process created.
    func place(mode: UInt16, uid: UInt32?, gid: UInt32?) throws(ControlSocketError) -> (dev: UInt64, ino: UInt64) {
        let inside = directory + "/s"
        defer { cleanup() }
        if uid != nil || gid != nil {
            guard chown(inside, uid ?? UInt32.max, gid ?? UInt32.max) == 0 else {
                throw ControlSocketError("'\(finalPath)': cannot change the owner: \(String(cString: strerror(errno)))")
            }
        }
        guard chmod(inside, mode_t(mode)) == 0 else {
            throw ControlSocketError("'\(finalPath)': cannot set mode \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
        }
        guard rename(inside, finalPath) == 0 else {
            throw ControlSocketError("'\(finalPath)': cannot move the socket into place: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        _ = lstat(finalPath, &st)
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// Removes the private directory (and a socket still inside it after a failure).
    func cleanup() {
        unlink(directory + "/s")
        rmdir(directory)
        if heldDirectoryFD >= 0 { close(heldDirectoryFD) }
    }

    /// Unlinks `path` if it is still the socket identified by `identity`: a newer instance
    /// that took the path over keeps its socket.
    static func remove(_ path: String, identity: (dev: UInt64, ino: UInt64)) {
        var st = stat()
        guard lstat(path, &st) == 0, UInt64(st.st_dev) == identity.dev, UInt64(st.st_ino) == identity.ino else { return }
        unlink(path)
    }
}
