import Foundation

/// What HAProxy and SwiftLB send a backend's log targets about its servers, as the check tests
/// compare them.
extension SyslogReceiver {
    /// A line with what varies masked: the syslog header's date, tag and pid, the durations.
    static func masked(_ line: String) -> String {
        line.replacingOccurrences(of: #"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [a-z]+\[\d+\]: "#, with: "<$1>", options: .regularExpression)
            .replacingOccurrences(of: #"check duration: \d+ms"#, with: "check duration: Nms", options: .regularExpression)
    }

    /// Receives until `count` lines about servers arrived (other lines, such as HAProxy's
    /// "Proxy started", are dropped) or `seconds` passed; masked and sorted, since the checks
    /// of different servers run concurrently.
    func serverLines(count: Int, within seconds: Double, only: (String) -> Bool = { _ in true }) -> [String] {
        var got: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        while got.count < count, deadline.timeIntervalSinceNow > 0 {
            got += receive(count: 1, within: deadline.timeIntervalSinceNow).map(Self.masked)
                .filter { $0.contains("Health check for") || $0.contains("Server ") || $0.contains(" has no server available") }
                .filter(only)
        }
        return got.sorted()
    }
}

/// The first check results HAProxy and SwiftLB log for the same configuration text: each runs
/// it with its own frontend port and syslog receiver (`config(front, udp)`), and the
/// first `count` "Health check for …" lines each sent within `seconds` come back masked and
/// sorted, with both processes' stderr for failure messages.
func firstCheckLines(in dir: TempDirectory, count: Int, within seconds: Double,
                     config: (_ front: Int, _ udp: Int) -> String) throws -> (haproxy: [String], swiftlb: [String], stderr: String) {
    let (hudp, sudp) = (try SyslogReceiver(), try SyslogReceiver())
    let (hfront, sfront) = (freePort(), freePort())
    let hcfg = try dir.write("haproxy.cfg", config(hfront, hudp.port))
    let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy")
    defer { haproxy.stop() }
    guard waitForPort(hfront) else { throw HarnessError("haproxy did not start: \(haproxy.stderr)") }
    let lb = try SwiftLBInstance(config: config(sfront, sudp.port), waitPort: sfront, in: dir)
    defer { lb.stop() }
    let h = hudp.serverLines(count: count, within: seconds) { $0.contains("Health check for") }
    let s = sudp.serverLines(count: count, within: seconds) { $0.contains("Health check for") }
    return (h, s, "SwiftLB: \(lb.child.stderr)\nHAProxy: \(haproxy.stderr)")
}

/// The head of a protocol-check test's configuration: tcp mode, a 2 s check timeout, and a
/// frontend on `front` (HAProxy and SwiftLB both want something to listen on).
func tcpCheckDefaults(front: Int, backend: String) -> String {
    """
    defaults
        mode tcp
        timeout connect 1s
        timeout client 5s
        timeout server 5s
        timeout check 2s
    frontend fe
        bind 127.0.0.1:\(front)
        default_backend \(backend)

    """
}

/// One backend per (name, check option, port): its checks logged to `udp` with `option
/// log-health-checks`, one server checked every 500 ms with rise 1 fall 1.
func checkedBackends(_ servers: [(name: String, option: String, port: Int)], udp: Int) -> String {
    servers.map { name, option, port in
        """
        backend \(name)
            log 127.0.0.1:\(udp) local0
            option log-health-checks
            option \(option)
            server srv 127.0.0.1:\(port) check inter 500ms rise 1 fall 1

        """
    }.joined()
}
