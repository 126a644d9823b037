import Foundation

/// A real OpenLDAP server (slapd) on a loopback port, in the foreground as the test's own
/// child process, with no database (an anonymous bind needs none) and `extra` lines of
/// slapd.conf (`disallow bind_anon`). Throws (and the test skips) when slapd is not installed
/// (scripts/lib/deps.sh).
final class SlapdServer {
    let port = freePort()
    private let child: ChildProcess

    init(in dir: TempDirectory, name: String, extra: String = "") throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/slapd") else {
            throw HarnessError("slapd is not installed: scripts/test.sh installs it (scripts/lib/deps.sh)")
        }
        let config = try dir.write("\(name).conf", "pidfile \(dir.file("\(name).pid"))\n\(extra)\n")
        child = try ChildProcess("/usr/sbin/slapd", ["-d", "256", "-f", config, "-h", "ldap://127.0.0.1:\(port)/"],
                                 logDirectory: dir, name: name)
        guard waitForPort(port, timeout: 15) else {
            child.stop()
            throw HarnessError("slapd did not listen on \(port): \(child.stderr.suffix(400))")
        }
    }

    func stop() { child.stop() }
    deinit { stop() }
}
