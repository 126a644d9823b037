import Foundation

/// Socket options of a proxy's own TCP sockets (SwiftLB's or haproxy's), read with
/// getsockopt(2) through duplicates of its descriptors (`pidfd_getfd`, as root). The sockets
/// by role: `listener` listens on `localPort`; `client` is established with local port
/// `localPort` (the proxy's end towards a client); `server` is established with remote port
/// `remotePort` (its end towards a server). `options` are Python's socket names,
/// "SOL_SOCKET.SO_RCVBUF", "IPPROTO_TCP.TCP_KEEPCNT"; each role gets their values, by blanks,
/// in that order ("listener" → "0 1"). A role with no socket is missing; an error is under "error".
func socketOptions(pid: Int32, localPort: Int, remotePort: Int, _ options: [String]) -> [String: String] {
    let script = """
        import ctypes, os, socket, sys
        pid, lport, rport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
        names = [n.split(".") for n in sys.argv[4:]]
        roles = {}
        for line in open("/proc/%d/net/tcp" % pid).read().splitlines()[1:]:
            f = line.split()
            l, r = int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16)
            if f[3] == "0A" and l == lport: roles[f[9]] = "listener"
            elif f[3] == "01" and l == lport: roles[f[9]] = "client"
            elif f[3] == "01" and r == rport: roles[f[9]] = "server"
        libc = ctypes.CDLL(None, use_errno=True)
        pidfd = os.pidfd_open(pid)
        for fd in os.listdir("/proc/%d/fd" % pid):
            try: target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError: continue
            inode = target[8:-1] if target.startswith("socket:[") else None
            if inode not in roles: continue
            dup = libc.syscall(438, pidfd, int(fd), 0)  # pidfd_getfd
            if dup < 0: sys.exit("pidfd_getfd: errno %d" % ctypes.get_errno())
            s = socket.socket(fileno=dup)
            values = [s.getsockopt(getattr(socket, level), getattr(socket, name)) for level, name in names]
            s.detach(); os.close(dup)
            print(roles.pop(inode), " ".join(str(v) for v in values))
        """
    let r = runCommand("/usr/bin/python3", ["-c", script, String(pid), String(localPort), String(remotePort)] + options)
    var result: [String: String] = [:]
    for line in r.out.split(separator: "\n") {
        let parts = line.split(separator: " ", maxSplits: 1)
        if parts.count == 2, result[String(parts[0])] == nil { result[String(parts[0])] = String(parts[1]) }
    }
    if r.status != 0 { result["error"] = r.err }
    return result
}
