import Foundation

/// A real MariaDB server on a loopback port, run as the test's own child process in a fresh
/// data directory under the test's temporary directory (removed with it): what `option
/// mysql-check` is checked against. Throws (and the test skips) when mariadb-server is not
/// installed (scripts/lib/deps.sh installs it).
final class MariaDBServer {
    let port = freePort()
    private let child: ChildProcess
    private let socket: String

    init(in dir: TempDirectory) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/mariadbd"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/mariadb-install-db") else {
            throw HarnessError("mariadb-server is not installed: scripts/test.sh installs it (scripts/lib/deps.sh)")
        }
        let data = dir.file("mariadb")
        socket = dir.file("mariadb.sock")
        let user = getuid() == 0 ? ["--user=root"] : []
        let install = runCommand("/usr/bin/timeout", ["120", "/usr/bin/mariadb-install-db", "--no-defaults", "--datadir=\(data)",
                                                      "--auth-root-authentication-method=normal", "--skip-test-db"] + user)
        guard install.status == 0 else { throw HarnessError("mariadb-install-db failed: \(install.err.suffix(400))") }
        child = try ChildProcess("/usr/sbin/mariadbd", ["--no-defaults", "--datadir=\(data)", "--socket=\(socket)", "--port=\(port)",
                                                        "--bind-address=127.0.0.1", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                                                        "--pid-file=\(dir.file("mariadb.pid"))"] + user,
                                 logDirectory: dir, name: "mariadbd")
        guard waitForPort(port, timeout: 30) else {
            child.stop()
            throw HarnessError("mariadbd did not listen on \(port): \(child.stderr.suffix(400))")
        }
    }

    /// Runs SQL as root over the unix socket.
    func sql(_ statements: String) throws -> String {
        let r = runCommand("/usr/bin/timeout", ["30", "/usr/bin/mariadb", "--no-defaults", "-S", socket, "-u", "root", "-N", "-e", statements])
        guard r.status == 0 else { throw HarnessError("mariadb: \(r.err)") }
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() { child.stop() }
    deinit { stop() }
}
