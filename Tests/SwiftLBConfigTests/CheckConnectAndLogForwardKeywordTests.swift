import XCTest
@testable import SwiftLBConfig

/// `tcp-check connect`'s options, `option spop-check`, `server … alpn/check-alpn`, and the
/// `ring` / `log-forward` sections: what they put in the model, and the errors (file, line,
/// keyword) for what they refuse.
final class CheckConnectAndLogForwardKeywordTests: XCTestCase {
    func testTCPCheckConnectOptions() throws {
        let config = try parseOrFail("""
            backend b
                option tcp-check
                tcp-check connect default
                tcp-check connect ssl sni check.example alpn h2,http/1.1 port 8443 linger
                tcp-check connect addr 127.0.0.2:2000 proto h1 comment "other box"
                tcp-check connect addr ::1 port 3000
                server s 127.0.0.1:1 check alpn h2,http/1.1 check-alpn http/1.1 ssl verify none
            backend agents
                option spop-check
                server a 127.0.0.1:12345 check
            """)
        let b = try XCTUnwrap(config.backends["b"])
        var withDefaults = TCPCheckConnect(); withDefaults.useServerSettings = true
        var tls = TCPCheckConnect(port: 8443); tls.ssl = true; tls.sni = "check.example"; tls.alpn = ["h2", "http/1.1"]; tls.linger = true
        var moved = TCPCheckConnect(port: 2000); moved.address = "127.0.0.2"
        var v6 = TCPCheckConnect(port: 3000); v6.address = "::1"
        XCTAssertEqual(b.options.tcpCheck, [.connect(withDefaults), .connect(tls), .connect(moved), .connect(v6)])
        XCTAssertEqual(config.backends["agents"]?.options.protocolCheck, .spop)
        let server = try XCTUnwrap(b.servers.first)
        XCTAssertEqual(server.parameters.tls?.more.alpn, ["h2", "http/1.1"])
        XCTAssertEqual(server.parameters.tls?.more.checkALPN, ["http/1.1"])
    }

    func testRefusedConnectOptionsNameTheLine() {
        for (line, words) in [(3, "tcp-check connect send-proxy"), (3, "tcp-check connect port 0"), (3, "tcp-check connect addr host.example"),
                              (3, "tcp-check connect proto h2"), (3, "tcp-check connect ssl sni"), (3, "tcp-check connect tls")] {
            let errors = parseErrors("backend b\n    option tcp-check\n    \(words)\n    server s 127.0.0.1:1 check\n")
            XCTAssertEqual(errors.map(\.line), [line], words)
            XCTAssertEqual(errors.first?.keyword, "tcp-check", words)
        }
        let alpn = parseErrors("backend b\n    server s 127.0.0.1:1 ssl verify none alpn h2,,x\n")
        XCTAssertEqual(alpn.map(\.line), [2])
        XCTAssertTrue(alpn.first?.message.contains("'alpn' expects a comma-separated list") == true, "\(alpn)")
    }

    func testRingAndLogForwardSections() throws {
        let config = try parseOrFail("""
            ring myring
                description "My local buffer"
                format rfc5424
                maxlen 1200
                size 32764
                timeout connect 5s
                timeout server 10s
                server mysyslogsrv 127.0.0.1:2514 ssl verify none log-proto octet-count
            log-forward syslog2tcp
                dgram-bind 127.0.0.1:1514
                log ring@myring local0
            log-forward syslog2local
                bind 127.0.0.1:2514
                maxconn 20
                timeout client 3s
                log 127.0.0.1:514 format rfc3164 local0 info notice
            """)
        let ring = try XCTUnwrap(config.rings["myring"])
        XCTAssertEqual(ring.description, "My local buffer")
        XCTAssertEqual(ring.format, .rfc5424)
        XCTAssertEqual(ring.maxLength, 1200)
        XCTAssertEqual(ring.size, 32764)
        XCTAssertEqual(ring.timeoutServer?.nanoseconds, 10_000_000_000)
        XCTAssertEqual(ring.servers.map(\.port), [2514])
        XCTAssertEqual(ring.servers.first?.tls?.verify, false)
        XCTAssertEqual(ring.servers.first?.octetCounting, true)
        XCTAssertEqual(config.logForwards.map(\.name), ["syslog2tcp", "syslog2local"])
        XCTAssertEqual(config.logForwards[0].datagramBinds.map(\.port), [1514])
        XCTAssertEqual(config.logForwards[0].targets.first?.destination, .ring("myring"))
        XCTAssertEqual(config.logForwards[0].targets.first?.formatGiven, false)
        let local = config.logForwards[1]
        XCTAssertEqual(local.streamBinds.map(\.port), [2514])
        XCTAssertEqual(local.maxconn, 20)
        XCTAssertEqual(local.timeoutClient?.nanoseconds, 3_000_000_000)
        XCTAssertEqual(local.targets.first?.formatGiven, true)
        XCTAssertEqual(local.targets.first?.maxLevel, "info")
        XCTAssertEqual(local.targets.first?.minLevel, "notice")
    }

    func testLogForwardMistakesNameFileLineAndKeyword() {
        let unknownRing = parseErrors("log-forward f\n    dgram-bind 127.0.0.1:1514\n    log ring@nosuch local0\n", file: "lf.conf")
        XCTAssertEqual(unknownRing.map { "\($0.file):\($0.line):\($0.keyword)" }, ["lf.conf:3:log"])
        XCTAssertTrue(unknownRing.first?.message.contains("no ring named 'nosuch'") == true)
        let noServer = parseErrors("ring r\n    size 1000\n")
        XCTAssertEqual(noServer.map { "\($0.line):\($0.keyword)" }, ["1:ring"])
        let noBind = parseErrors("log-forward f\n    log 127.0.0.1:514 local0\n")
        XCTAssertEqual(noBind.map { "\($0.line):\($0.keyword)" }, ["1:log-forward"])
        let verify = parseErrors("ring r\n    server s 127.0.0.1:1 ssl\n")
        XCTAssertEqual(verify.first.map { "\($0.line):\($0.keyword)" }, "2:server")
        XCTAssertTrue(verify.first?.message.contains("ca-file") == true)
        let badSize = parseErrors("ring r\n    size lots\n    server s 127.0.0.1:1\n")
        XCTAssertEqual(badSize.map { "\($0.line):\($0.keyword)" }, ["2:size"])
        let facility = parseErrors("log-forward f\n    bind 127.0.0.1:1\n    log 127.0.0.1:514\n")
        XCTAssertEqual(facility.map { "\($0.line):\($0.keyword)" }, ["3:log"])
        let wrongPlace = parseErrors("frontend fe\n    dgram-bind 127.0.0.1:1514\n")
        XCTAssertEqual(wrongPlace.map(\.line), [2])
    }
}
