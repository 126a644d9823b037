#if canImport(Glibc)
import Glibc
#endif

/// `user`/`group`/`uid`/`gid`: become an unprivileged user once every port is bound and
/// every VIP socket open, keeping only CAP_NET_ADMIN and CAP_NET_RAW when a vrrp instance
/// must still add and remove its address and send gratuitous ARP. A drop that does not take
/// completely stops the start: the result is read back from every thread's
/// /proc/self/task/TID/status, never assumed.
struct PrivilegeDrop {
    let uid: uid_t?
    let gid: gid_t?
    let tasks: ProcTasks
    /// Capability numbers every thread keeps (effective and permitted).
    let keep: [Int]

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    var keepMask: UInt64 { keep.reduce(0) { $0 | (1 << UInt64($1)) } }

    func apply() throws(Failure) {
        if uid == nil && gid == nil { return }
        let euid = geteuid()
        if euid != 0 {
            // Not root: only "becoming" who we already are is possible.
            if let uid, uid != euid { throw Failure(description: "cannot become uid \(uid): swiftlb runs as uid \(euid), not root") }
            if let gid, gid != getegid() { throw Failure(description: "cannot become gid \(gid): swiftlb runs as uid \(euid), not root") }
            return
        }
        if !keep.isEmpty {
            let failures = ThreadBroadcast.run(.keepCapabilities, threads: tasks.threads)
            guard failures.isEmpty else { throw Failure(description: "keeping capabilities across the uid change: \(failures.joined(separator: "; "))") }
        }
        if let gid {
            var groups = [gid]
            // glibc applies setgroups/setgid/setuid to every thread of the process.
            guard setgroups(1, &groups) == 0 else { throw Failure(description: "setgroups(\(gid)): \(String(cString: strerror(errno)))") }
            guard setgid(gid) == 0 else { throw Failure(description: "setgid(\(gid)): \(String(cString: strerror(errno)))") }
        }
        if let uid {
            guard setuid(uid) == 0 else { throw Failure(description: "setuid(\(uid)): \(String(cString: strerror(errno)))") }
        }
        if !keep.isEmpty {
            ThreadBroadcast.setCapabilities(keepMask)
            let failures = ThreadBroadcast.run(.applyCapabilities, threads: tasks.threads)
            guard failures.isEmpty else { throw Failure(description: "restoring \(capabilityNames): \(failures.joined(separator: "; "))") }
        }
        try verify()
    }

    private var capabilityNames: String {
        keep.map { $0 == LinuxCalls.CAP_NET_ADMIN ? "CAP_NET_ADMIN" : $0 == LinuxCalls.CAP_NET_RAW ? "CAP_NET_RAW" : "capability \($0)" }
            .joined(separator: ", ")
    }

    /// Every thread has the ids asked for and no capability beyond the kept ones; this
    /// thread (and so the threads it starts) has the kept ones.
    private func verify() throws(Failure) {
        let me = LinuxCalls.gettid()
        let threads = tasks.threads
        guard threads.contains(me) else { throw Failure(description: "cannot read this process's threads in /proc/self/task") }
        for tid in threads {
            let status = tasks.status(tid)
            guard !status.isEmpty else { continue }  // the thread exited meanwhile
            if let uid, !ids(status["Uid"]).allSatisfy({ $0 == uid }) {
                throw Failure(description: "thread \(tid) still has uids \(status["Uid"] ?? "?") after setuid(\(uid))")
            }
            if let gid, !ids(status["Gid"]).allSatisfy({ $0 == gid }) {
                throw Failure(description: "thread \(tid) still has gids \(status["Gid"] ?? "?") after setgid(\(gid))")
            }
            let effective = UInt64(status["CapEff"] ?? "", radix: 16) ?? .max
            let permitted = UInt64(status["CapPrm"] ?? "", radix: 16) ?? .max
            if (effective | permitted) & ~keepMask != 0 {
                throw Failure(description: "thread \(tid) kept capabilities \(String(effective | permitted, radix: 16)) beyond \(String(keepMask, radix: 16))")
            }
            if tid == me, effective != keepMask {
                throw Failure(description: "this thread has capabilities \(String(effective, radix: 16)), not the \(capabilityNames) the VIP needs")
            }
        }
    }

    private func ids(_ field: String?) -> [UInt32] {
        (field ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
    }
}
