import Foundation

/// A Postgres primary and a streaming standby on loopback (Debian's postgresql, run as the
/// postgres user): trust authentication, the role swiftlb_check that lb-ha.conf's detector
/// logs in as, the standby cloned with pg_basebackup -R. Stopped by pg_ctl (our postmasters).
final class PostgresPair {
    let primaryPort = freePort()
    let standbyPort = freePort()
    private let root: String
    private let bin: String
    private let run: (String, [String], String?, [String: String], Bool) -> (status: Int32, out: String, err: String)
    private var started: [String] = []

    init(in dir: TempDirectory,
         run: @escaping (String, [String], String?, [String: String], Bool) -> (status: Int32, out: String, err: String)) throws {
        self.run = run
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.compactMap(Int.init).max() else {
            throw HarnessError("postgresql is not installed: scripts/test.sh installs it (scripts/lib/deps.sh)")
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        root = dir.file("pg")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: root)
        do {
            try postgres("initdb", ["-D", root + "/primary", "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
            try start("primary", port: primaryPort)
            try postgres("psql", ["-h", "127.0.0.1", "-p", "\(primaryPort)", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                                  "-c", "CREATE ROLE swiftlb_check LOGIN"])
            // A fast checkpoint: the default spread one takes minutes.
            try postgres("pg_basebackup", ["-h", "127.0.0.1", "-p", "\(primaryPort)", "-U", "postgres", "-D", root + "/standby",
                                           "-R", "-X", "stream", "-c", "fast"])
            try start("standby", port: standbyPort)
        } catch {
            stop()
            throw error
        }
    }

    /// With the test tools' `runCommand`, bounded at 120 s by timeout(1), in the given directory.
    convenience init(in dir: TempDirectory) throws {
        try self.init(in: dir) { executable, arguments, cwd, _, _ in
            runCommand("/usr/bin/timeout", ["120", "/usr/bin/env"] + (cwd.map { ["-C", $0] } ?? []) + [executable] + arguments)
        }
    }

    func promoteStandby() throws { try postgres("pg_ctl", ["-D", root + "/standby", "-w", "-t", "30", "promote"]) }

    /// Stops the primary at once (as a crashed node), leaving the standby running.
    func stopPrimary() { stop(only: "primary") }

    func stop() {
        for name in started.reversed() { stop(only: name) }
    }

    private func stop(only name: String) {
        guard started.contains(name) else { return }
        _ = try? postgres("pg_ctl", ["-D", root + "/" + name, "-m", "immediate", "-w", "-t", "30", "stop"])
        started.removeAll { $0 == name }
    }

    deinit { stop() }

    private func start(_ name: String, port: Int) throws {
        try postgres("pg_ctl", ["-D", root + "/" + name, "-l", root + "/\(name).log", "-w", "-t", "30",
                                "-o", "-p \(port) -k \(root) -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        started.append(name)
    }

    /// A Postgres program as the postgres user, from a directory it may enter. Through
    /// Python's subprocess, which closes every inherited descriptor: Foundation's Process
    /// learns that its child ended when a socket it hands the child closes, and the postmaster
    /// `pg_ctl start` leaves running would otherwise hold that socket open for its whole life.
    private func postgres(_ program: String, _ arguments: [String]) throws {
        let closingDescriptors = ["python3", "-c", "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"]
        let result = run("/usr/bin/env", closingDescriptors + ["/usr/sbin/runuser", "-u", "postgres", "--", bin + "/" + program] + arguments,
                         root, [:], true)
        guard result.status == 0 else { throw HarnessError("\(program) failed (\(result.status)): \(result.out)\(result.err)") }
    }
}
