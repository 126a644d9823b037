import SwiftLBLog
import XCTest

/// `log` lines as HAProxy reads them: addresses, len, format, facility, levels, `global`,
/// `no log`, and every refusal with HAProxy's words.
final class LogTargetTests: XCTestCase {
    func testAddresses() throws {
        XCTAssertEqual(try LogTarget(words: ["/dev/log", "local0"]).address, .unix(path: "/dev/log", abstract: false))
        XCTAssertEqual(try LogTarget(words: ["unix@/run/x.sock", "local0"]).address, .unix(path: "/run/x.sock", abstract: false))
        XCTAssertEqual(try LogTarget(words: ["uxdg@/run/x.sock", "local0"]).address, .unix(path: "/run/x.sock", abstract: false))
        XCTAssertEqual(try LogTarget(words: ["abns@syslog", "local0"]).address, .unix(path: "syslog", abstract: true))
        XCTAssertEqual(try LogTarget(words: ["udp@1.2.3.4:514", "local0", "info"]).address, .udp(.ipv4(1, 2, 3, 4, port: 514)))
        XCTAssertEqual(try LogTarget(words: ["1.2.3.4", "local0"]).address, .udp(.ipv4(1, 2, 3, 4, port: 514)))
        XCTAssertEqual(try LogTarget(words: ["127.0.0.1:1514", "local0"]).address, .udp(.ipv4(127, 0, 0, 1, port: 1514)))
        XCTAssertEqual(try LogTarget(words: ["ipv4@10.0.0.9:5140", "local0"]).address, .udp(.ipv4(10, 0, 0, 9, port: 5140)))
        XCTAssertEqual(try LogTarget(words: ["dgram+udp4@10.0.0.9", "local0"]).address, .udp(.ipv4(10, 0, 0, 9, port: 514)))
        XCTAssertEqual(try LogTarget(words: ["ipv6@::1", "local0"]).address, .udp(LogAddress(ip: "::1", port: 514)!))
        XCTAssertEqual(try LogTarget(words: ["udp6@[::1]:5514", "local0"]).address, .udp(LogAddress(ip: "::1", port: 5514)!))
        XCTAssertEqual(try LogTarget(words: ["localhost:5514", "local0"]).address.isLoopbackUDP, true)
        XCTAssertEqual(try LogTarget(words: ["stdout", "local0"]).address, .fd(1))
        XCTAssertEqual(try LogTarget(words: ["stderr", "local0"]).address, .fd(2))
        XCTAssertEqual(try LogTarget(words: ["fd@3", "local0"]).address, .fd(3))
    }

    func testOptionsInHAProxysOrder() throws {
        let t = try LogTarget(words: ["127.0.0.1:514", "len", "2048", "format", "rfc5424", "daemon", "notice", "err"])
        XCTAssertEqual(t.length, 2048)
        XCTAssertEqual(t.format, .rfc5424)
        XCTAssertEqual(t.facility, .daemon)
        XCTAssertEqual(t.maxLevel, .notice)
        XCTAssertEqual(t.minLevel, .err)
        let d = try LogTarget(words: ["stdout", "format", "raw", "local0"])
        XCTAssertEqual(d, LogTarget(address: .fd(1), facility: .local0, format: .raw))
        XCTAssertEqual(d.maxLevel, .debug)
        XCTAssertEqual(d.minLevel, .emerg)
        // SwiftLB's older `log stdout|stderr` (no facility): bare lines, as before syslog targets.
        XCTAssertEqual(try LogTarget(words: ["stdout"]), LogTarget.stdoutRaw)
        XCTAssertEqual(try LogDirective(words: ["stderr"], inGlobalSection: true), .target(LogTarget(address: .fd(2), facility: .daemon, format: .raw)))
        for (i, name) in SyslogFacility.names.enumerated() {
            XCTAssertEqual(try LogTarget(words: ["stdout", name]).facility.rawValue, i)
        }
        for name in SyslogFormat.names {
            XCTAssertEqual(try LogTarget(words: ["stdout", "format", name, "user"]).format.rawValue, name)
        }
    }

    private func assertError(_ words: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LogTarget(words: words), file: file, line: line) {
            XCTAssertEqual("\($0)", expected, file: file, line: line)
        }
    }

    func testErrors() {
        assertError(["/dev/log"], "expects <address> and <facility> as arguments")
        assertError([], "expects <address> and <facility> as arguments")
        assertError(["/dev/log", "local8"], "unknown log facility 'local8' (did you mean 'local0'?)")
        assertError(["/dev/log", "local0", "inf"], "unknown optional log level 'inf' (did you mean 'info'?)")
        assertError(["/dev/log", "local0", "info", "eror"], "unknown optional minimum log level 'eror' (did you mean 'err'?)")
        assertError(["/dev/log", "local0", "info", "err", "extra"], "cannot handle unexpected argument 'extra'")
        assertError(["/dev/log", "len", "79", "local0"], "invalid log length '79', must be between 80 and 65535")
        assertError(["/dev/log", "len", "x", "local0"], "invalid log length 'x', must be between 80 and 65535")
        assertError(["/dev/log", "format", "rfc3146", "local0"], "unknown log format 'rfc3146' (did you mean 'rfc3164'?)")
        assertError(["/dev/log", "len", "2048"], "expects <address> and <facility> as arguments")
        assertError(["/dev/log", "sample", "1", "local0"], "Missing sample size")
        assertError(["/dev/log", "sample", "0:2", "local0"], "wrong sample range '0'")
        assertError(["/dev/log", "sample", "3-2:5", "local0"], "wrong sample range '3-2'")
        assertError(["/dev/log", "sample", "1-3,2:5", "local0"], "ranges are overlapping ('2' and '1-3')")
        assertError(["/dev/log", "sample", "1,4:3", "local0"], "sample size 3 should be greater or equal to 4 the maximum of the high ranges limits")
        assertError(["/dev/log", "sample", "1:x", "local0"], "wrong sample size 'x' for sample range '1:x'")
        assertError(["ring@buf", "local0"], "'ring@buf': TCP syslog and ring buffers (ring@) are not supported; log to a unix datagram socket (/dev/log) or a UDP server (udp@host:port)")
        assertError(["tcp@10.0.0.1:514", "local0"], "'tcp@10.0.0.1:514': TCP syslog and ring buffers (tcp@) are not supported; log to a unix datagram socket (/dev/log) or a UDP server (udp@host:port)")
        assertError(["fd@x", "local0"], "'fd@x': fd@ expects a file descriptor number")
        assertError(["10.0.0.1:0", "local0"], "'10.0.0.1:0': invalid port '0'")
        assertError(["10.0.0.1:70000", "local0"], "'10.0.0.1:70000': invalid port '70000'")
        assertError(["ipv6@10.0.0.1", "local0"], "'ipv6@10.0.0.1': '10.0.0.1' is not an IPv6 address")
        assertError(["foo@bar", "local0"], "'foo@bar': unknown address family 'foo@'")
        assertError(["/" + String(repeating: "x", count: 120), "local0"], "'/\(String(repeating: "x", count: 120))': unix socket path longer than 107 bytes")
    }

    /// HAProxy's log/load_balancing.vtc: `sample 1,3:5` takes the 1st and 3rd of every 5
    /// messages; the count is the target's, whichever sink (event loop) sends.
    func testSampleTakesItsPositionsOfEveryCycle() throws {
        let target = try LogTarget(words: ["127.0.0.1:514", "sample", "3,1:5", "local0"])
        let sample = try XCTUnwrap(target.sample)
        XCTAssertEqual(sample.description, "1,3:5")
        XCTAssertEqual((1...10).map { _ in sample.take() }, [true, false, true, false, false, true, false, true, false, false])
        let pair = try LogSampling(parsing: "2-3:4")
        XCTAssertEqual((1...8).map { _ in pair.take() }, [false, true, true, false, false, true, true, false])
    }

    func testGlobalAndNoLog() throws {
        let g1 = try LogTarget(words: ["/dev/log", "local0"])
        let g2 = try LogTarget(words: ["127.0.0.1:514", "local1", "notice"])
        XCTAssertEqual(try LogDirective(words: ["global"], inGlobalSection: false), .global)
        XCTAssertThrowsError(try LogDirective(words: ["global"], inGlobalSection: true)) {
            XCTAssertEqual("\($0)", "'global' is not supported for a global syslog server")
        }
        XCTAssertThrowsError(try LogDirective(words: ["/dev/log"], inGlobalSection: false)) {
            XCTAssertEqual("\($0)", "expects <address> and <facility> or global as arguments")
        }

        // defaults: log global; a proxy inherits it, adds its own, says `log global` again.
        var defaults = LogTargetList()
        defaults.apply(.global, global: [g1, g2])
        var proxy = defaults
        let own = try LogTarget(words: ["stdout", "format", "raw", "daemon"])
        proxy.apply(try LogDirective(words: ["stdout", "format", "raw", "daemon"], inGlobalSection: false), global: [g1, g2])
        proxy.apply(.global, global: [g1, g2])
        XCTAssertEqual(proxy.targets, [g1, g2, own])
        proxy.removeAll()
        XCTAssertTrue(proxy.isEmpty)
        XCTAssertEqual(defaults.targets, [g1, g2])
    }
}

extension LogTarget.Address {
    var isLoopbackUDP: Bool {
        switch self {
        case .udp(.v4(let a, _)): return a >> 24 == 127
        case .udp(.v6(0, 1, _)): return true
        default: return false
        }
    }
}
