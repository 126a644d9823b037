import Foundation

/// A real SMTP server (OpenSMTPD) on a loopback port, run in the foreground as the test's own
/// child process from a config file in the test's temporary directory; it rejects every mail
/// (the checks only greet and quit). Throws (and the test skips) when opensmtpd is not
/// installed (scripts/lib/deps.sh) or the test does not run as root (smtpd drops privileges
/// itself and must start as root).
final class SMTPServer {
    let port = freePort()
    let hostname = "smtp.swiftlb.test"
    private let child: ChildProcess

    init(in dir: TempDirectory) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/smtpd") else {
            throw HarnessError("opensmtpd is not installed: scripts/test.sh installs it (scripts/lib/deps.sh)")
        }
        guard getuid() == 0 else { throw HarnessError("smtpd must start as root") }
        let config = try dir.write("smtpd.conf", """
            listen on 127.0.0.1 port \(port) hostname \(hostname)
            action "none" mbox
            match from any for any reject

            """)
        child = try ChildProcess("/usr/sbin/smtpd", ["-d", "-f", config], logDirectory: dir, name: "smtpd")
        guard waitForPort(port, timeout: 15) else {
            child.stop()
            throw HarnessError("smtpd did not listen on \(port): \(child.stderr.suffix(400))")
        }
    }

    func stop() { child.stop() }
    deinit { stop() }
}
