import Foundation
import XCTest

/// A Python check peer on loopback (`script`, given its port and `arguments`), checked by
/// HAProxy 2.6 or SwiftLB running `backend app` with `option httpchk`, `checkRules` and one
/// server with `serverOptions`: returns the first line the script prints (what it saw of the
/// first check), or what went wrong. For tests of how checks talk to their servers.
func firstCheckReport(script: String, arguments: [String] = [], checkRules: String, serverOptions: String = "",
                      haproxy: Bool) throws -> String {
    let dir = try TempDirectory()
    let checkPort = freePort()
    let peer = try ChildProcess("/usr/bin/env", ["python3", "-c", script, "\(checkPort)"] + arguments, logDirectory: dir, name: "check-peer")
    defer { peer.stop() }
    guard waitForPort(checkPort) else { throw HarnessError("the check peer did not listen: \(peer.stderr)") }
    let port = freePort()
    let config = differentialHTTPDefaults + """
        frontend fe
            bind 127.0.0.1:\(port)
            default_backend app
        backend app
            option httpchk
        \(checkRules.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            server s1 127.0.0.1:\(checkPort) check inter 300ms \(serverOptions)

        """
    let child = try startOnSameFile(config, haproxy: haproxy, port: port, in: dir)
    defer { child.stop() }
    _ = waitUntil(timeout: 5) { !peer.stdout.isEmpty }
    return peer.stdout.split(separator: "\n").first.map(String.init) ?? "nothing: \(peer.stderr)"
}
