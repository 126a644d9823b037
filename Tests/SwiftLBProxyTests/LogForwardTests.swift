import Foundation
import XCTest

/// `ring` and `log-forward` sections compared with HAProxy 2.6 on loopback: the same relay
/// configuration (UDP in → ring in RFC 5424 → TCP, plain and TLS, with LF and octet-count
/// framing → log-forward → UDP syslog out; and UDP in → UDP out in rfc3164) run by both, the
/// same datagrams sent to each, and every relayed message must be the same bytes (the date
/// HAProxy writes for a message without one is masked).
final class LogForwardTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The relay: `udpRing` feeds two rings (plain LF, TLS octet-count), `udpDirect` goes out
    /// as rfc3164; everything ends at `out`.
    private func relay(udpRing: Int, udpDirect: Int, tcp: Int, tls: Int, out: Int, cert: String) -> String {
        """
        ring plain
            description "LF-framed"
            format rfc5424
            maxlen 1200
            size 32764
            timeout connect 5s
            timeout server 10s
            server s 127.0.0.1:\(tcp)
        ring secure
            format rfc5424
            server s 127.0.0.1:\(tls) ssl verify none log-proto octet-count
        log-forward in_udp
            dgram-bind 127.0.0.1:\(udpRing)
            log ring@plain local0
            log ring@secure local0 notice
        log-forward direct
            dgram-bind 127.0.0.1:\(udpDirect)
            log 127.0.0.1:\(out) format rfc3164 local1
        log-forward in_tcp
            bind 127.0.0.1:\(tcp)
            bind 127.0.0.1:\(tls) ssl crt \(cert)
            maxconn 10
            timeout client 5s
            log 127.0.0.1:\(out) local0

        """
    }

    static let messages = [
        #"<134>Nov 30 10:20:00 haproxy[4242]: 127.0.0.1:5555 [30/Nov/2026:10:20:00.000] fe be/s 0/0/0/1/1 200 10 - - ---- 1/1/0/0/0 0/0 "GET /a HTTP/1.1""#,
        "<134>Nov  3 01:02:03 myhost app[17]: with a tag and a pid",
        "<13>Jan 31 23:59:59 host notag",
        #"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event"#,
        "<14>1 - - - - - - all nil",
        "<11>garbage header kept with its priority",
    ]

    func testRelayIsByteForByteHAProxys() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed (apt-get install haproxy)") }
        let cert = dir.file("relay.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["relay.example.test", cert, "ec"]).status, 0)
        let (hout, sout) = (try SyslogReceiver(), try SyslogReceiver())
        let h = (ring: freePort(), direct: freePort(), tcp: freePort(), tls: freePort())
        let s = (ring: freePort(), direct: freePort(), tcp: freePort(), tls: freePort())
        let haproxy = try startHAProxy(relay(udpRing: h.ring, udpDirect: h.direct, tcp: h.tcp, tls: h.tls, out: hout.port, cert: cert), port: h.tcp, in: dir)
        defer { haproxy.stop() }
        let lb = try SwiftLBInstance(config: relay(udpRing: s.ring, udpDirect: s.direct, tcp: s.tcp, tls: s.tls, out: sout.port, cert: cert),
                                     waitPort: s.tcp, in: dir)
        defer { lb.stop() }
        // The sections open in order: once the last TCP listener listens, every UDP one is bound.
        XCTAssertTrue(waitForPort(h.tls) && waitForPort(s.tls))
        for message in Self.messages + ["no priority at all"] {
            sendDatagram(message, to: h.direct); sendDatagram(message, to: s.direct)
        }
        for message in Self.messages {
            sendDatagram(message, to: h.ring); sendDatagram(message, to: s.ring)
        }
        // Direct: 7; through the plain ring: 6; through the secure one: the 3 at notice or above.
        let expected = 7 + 6 + 3
        let fromHAProxy = hout.receive(count: expected, within: 8).map(Self.masked).sorted()
        let fromSwiftLB = sout.receive(count: expected, within: 8).map(Self.masked).sorted()
        XCTAssertEqual(fromHAProxy.count, expected, "haproxy: \(haproxy.stderr)")
        XCTAssertEqual(fromSwiftLB, fromHAProxy, "swiftlb: \(lb.child.stderr)")
        XCTAssertTrue(fromSwiftLB.contains("<165>Oct 11 22:14:15 mymachine.example.com evntslog: An application event"), "\(fromSwiftLB)")
    }

    /// A reload keeps the relay as it started, and says so when its sections changed; the
    /// relay goes on relaying, and stops with the process.
    func testReloadKeepsTheRelayAndSaysSo() throws {
        let out = try SyslogReceiver()
        let (udp, tcp) = (freePort(), freePort())
        func config(size: Int) -> String {
            """
            ring r
                format rfc3164
                size \(size)
                server s 127.0.0.1:\(tcp)
            log-forward in
                dgram-bind 127.0.0.1:\(udp)
                log ring@r local0
            log-forward back
                bind 127.0.0.1:\(tcp)
                log 127.0.0.1:\(out.port) local0

            """
        }
        let lb = try SwiftLBInstance(config: config(size: 16384), waitPort: tcp, in: dir)
        defer { lb.stop() }
        _ = try dir.write("swiftlb.conf", config(size: 32768))
        lb.child.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 5) { lb.child.stderr.contains("the ring or log-forward sections changed") }, lb.child.stderr)
        sendDatagram("<134>Nov 30 10:20:00 host app[1]: after the reload", to: udp)
        XCTAssertEqual(out.receive(count: 1, within: 5), ["<134>Nov 30 10:20:00 host app[1]: after the reload"])
        // And SIGTERM stops it at once (the relay's loop once waited on the proxy's, stopped first).
        lb.child.signal(SIGTERM)
        XCTAssertEqual(lb.child.waitForExit(timeout: 5), 0, lb.child.stderr)
    }

    /// A header written from the clock ("Nov 30 10:23:14 ") differs by the second both sent in.
    static func masked(_ line: String) -> String {
        line.replacingOccurrences(of: #"^(<\d+>)[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d localhost "#, with: "$1DATE localhost ", options: .regularExpression)
    }

    private func sendDatagram(_ text: String, to port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bytes = Array(text.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
