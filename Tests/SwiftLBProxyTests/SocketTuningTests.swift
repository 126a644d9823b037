import Foundation
import XCTest

/// The socket options HAProxy 2.6 sets on its sockets — the keep-alive probes' schedule
/// (`clitcpka-*`, `srvtcpka-*`), the kernel buffers (`tune.rcvbuf.*`, `tune.sndbuf.*`),
/// TCP_QUICKACK off on the listener (`option tcp-smart-accept`) — are set by SwiftLB on the
/// same sockets, with the same values: read with getsockopt(2) from both processes' own
/// descriptors, one configuration text run side by side.
final class SocketTuningTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private static let probesAndBuffers = [
        "SOL_SOCKET.SO_KEEPALIVE", "IPPROTO_TCP.TCP_KEEPCNT", "IPPROTO_TCP.TCP_KEEPIDLE", "IPPROTO_TCP.TCP_KEEPINTVL",
        "SOL_SOCKET.SO_RCVBUF", "SOL_SOCKET.SO_SNDBUF",
    ]

    /// One keep-alive request through each proxy; the client and server sockets stay open
    /// while their options are read. Linux reports twice the buffer sizes asked for.
    func testKeepAliveProbesAndBuffersAreSetOnBothSidesAsHAProxySetsThem() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let pair = try SideBySide({ port in
            """
            global
                tune.rcvbuf.client 65536
                tune.sndbuf.client 98304
                tune.rcvbuf.server 81920
                tune.sndbuf.server 57344
            listen l
                bind 127.0.0.1:\(port)
                option tcpka
                clitcpka-cnt 3
                clitcpka-idle 70
                clitcpka-intvl 11
                srvtcpka-cnt 4
                srvtcpka-idle 2m
                srvtcpka-intvl 13s
                server s 127.0.0.1:\(backend.port)

            """
        }, in: dir)
        defer { pair.stop() }
        var seen: [[String: String]] = []
        for (port, pid) in zip(pair.ports, [pair.lb.child.pid, pair.haproxy.pid]) {
            let client = try RawClient(port: port, timeout: 5)
            defer { client.shutdownBoth() }
            client.send("GET /probe HTTP/1.1\r\nHost: a\r\n\r\n")
            XCTAssertEqual(statusCode(client.readResponse()), 200)
            seen.append(socketOptions(pid: pid, localPort: port, remotePort: backend.port, Self.probesAndBuffers))
        }
        XCTAssertEqual(seen[0]["client"], "1 3 70 11 131072 196608", "SwiftLB's client socket: \(seen[0])")
        XCTAssertEqual(seen[0]["server"], "1 4 120 13 163840 114688", "SwiftLB's server socket: \(seen[0])")
        XCTAssertEqual(seen[0], seen[1], "SwiftLB, then haproxy")
    }

    /// `option tcp-smart-accept`: the listening socket's TCP_QUICKACK is off, in both; without
    /// it (in `mode tcp`, where it is not haproxy's default), on in both.
    func testSmartAcceptTurnsTheListenersQuickAckOff() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        for (option, expected) in [("option tcp-smart-accept", "0"), ("", "1")] {
            let pair = try SideBySide({ port in
                "listen l\n    mode tcp\n    bind 127.0.0.1:\(port)\n    \(option)\n    server s 127.0.0.1:\(backend.port)\n"
            }, in: dir)
            defer { pair.stop() }
            let seen = zip(pair.ports, [pair.lb.child.pid, pair.haproxy.pid]).map { port, pid in
                socketOptions(pid: pid, localPort: port, remotePort: backend.port, ["IPPROTO_TCP.TCP_QUICKACK"])["listener"]
            }
            XCTAssertEqual(seen, [expected, expected], "SwiftLB, then haproxy, with '\(option)'")
        }
    }
}
