import NIOCore
import NIOPosix
import SwiftLBConfig
#if canImport(Glibc)
import Glibc
#endif

/// `bind unix@PATH|/PATH|abns@NAME [mode OCTAL] [user U] [group G]`: a listener on a unix
/// stream socket. Why apart from `ProxyServer`: the file-system side (a stale socket left by a
/// previous run, permissions, owner) is its own job.
///
/// As HAProxy does, a socket file left behind by an earlier process is replaced (anything
/// else at that path — a regular file, a directory — is an error naming it, never removed).
/// `mode`/`user`/`group` are applied once bound, before any client can be accepted on it
/// (the channel is not yet registered for reads when they run). An abstract socket
/// (`abns@`) has no file: nothing to remove, no permissions.
enum UnixListener {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func bind(path: String, access: UnixSocketAccess, bootstrap: ServerBootstrap) async throws -> any Channel {
        let abstract = path.hasPrefix("\0")
        if !abstract {
            var info = stat()
            if lstat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFSOCK else { throw Failure(description: "'\(path)' exists and is not a socket") }
                guard unlink(path) == 0 else { throw Failure(description: "cannot remove the old socket '\(path)': \(String(cString: strerror(errno)))") }
            }
        }
        let channel = try await bootstrap.bind(to: SocketAddress(unixDomainSocketPath: path)).get()
        if !abstract {
            do { try apply(access, to: path) } catch {
                try? await channel.close()
                throw error
            }
        }
        return channel
    }

    /// chmod/chown of the socket file; a user or group is a name or a number.
    private static func apply(_ access: UnixSocketAccess, to path: String) throws {
        if let mode = access.mode, chmod(path, mode_t(mode)) != 0 {
            throw Failure(description: "chmod \(String(mode, radix: 8)) '\(path)': \(String(cString: strerror(errno)))")
        }
        guard access.user != nil || access.group != nil else { return }
        var uid = uid_t.max, gid = gid_t.max  // -1: unchanged
        if let user = access.user {
            if let n = UInt32(user) { uid = n } else if let pw = getpwnam(user) { uid = pw.pointee.pw_uid } else { throw Failure(description: "unknown user '\(user)'") }
        }
        if let group = access.group {
            if let n = UInt32(group) { gid = n } else if let gr = getgrnam(group) { gid = gr.pointee.gr_gid } else { throw Failure(description: "unknown group '\(group)'") }
        }
        guard chown(path, uid, gid) == 0 else { throw Failure(description: "chown '\(path)': \(String(cString: strerror(errno)))") }
    }
}
