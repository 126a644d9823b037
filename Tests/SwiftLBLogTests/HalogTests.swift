import Foundation
import NIOEmbedded
import SwiftLBLog
import SwiftLBTestSupport
import XCTest

/// `halog` (Debian's haproxy package), the tool operators point at HAProxy's logs, reads
/// SwiftLB's httplog lines as a syslog daemon writes them to a file: the LogSink sends to a
/// UDP receiver in rfc3164 (`Mmm dd hh:mm:ss host tag[pid]: …`), the test strips `<PRI>` as
/// rsyslog does, and halog's status, server, URL and termination reports count what was sent.
final class HalogTests: XCTestCase {
    override class func setUp() {
        TestEnvironment.set("TZ", "UTC")
    }

    /// One line per way a request ends, plus two more 200s on a second server.
    static var records: [LogRecord] {
        var lines = LogFormatRenderTests.httplogLines.map(HAProxyLines.httplog)
        for _ in 0..<2 {
            var r = lines[0]
            r.server = "s2"
            r.setHTTPTimers(TR: 0, Tw: 0, Tc: 2, Tr: 10, Ta: 12)
            lines.append(r)
        }
        return lines
    }

    func testHalogReadsOurLines() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/halog") else {
            throw XCTSkip("halog is missing (Debian's haproxy package; scripts/lib/deps.sh installs it)")
        }
        let receiver = try DatagramReceiver()
        let loop = EmbeddedEventLoop()
        let sink = LogSink(targets: [try LogTarget(words: ["127.0.0.1:\(receiver.port)", "format", "rfc3164", "local0"])],
                           eventLoop: loop, identity: SyslogIdentity(tag: "swiftlb", hostname: "lb1", pid: 99))
        for r in Self.records { sink.log(r, format: .httplog) }
        loop.run()
        let datagrams = receiver.receive(count: Self.records.count)
        XCTAssertEqual(datagrams.count, Self.records.count)
        let file = datagrams.map { String($0.drop(while: { $0 != ">" }).dropFirst()) }.joined()
        XCTAssertTrue(file.hasPrefix("Nov") || file.first?.isUppercase == true, file)

        func halog(_ options: String...) -> (report: [String], stderr: String) {
            let r = runTool("/usr/sbin/halog", options, input: file)
            return (r.out.split(separator: "\n").map(String.init), r.err)
        }

        let st = halog("-st")
        XCTAssertEqual(st.report, ["101 1", "200 4", "400 2", "502 1", "503 1", "504 1"])
        XCTAssertTrue(st.stderr.contains("10 lines in") && st.stderr.contains("0 parsing errors"), st.stderr)

        // Per server: 1xx 2xx 3xx 4xx 5xx other tot_req req_ok pct_ok avg_ct avg_rt
        let srv = Dictionary(uniqueKeysWithValues: halog("-srv").report.dropFirst().map {
            let f = $0.split(separator: " ")
            return (String(f[0]), f[1...].map(String.init))
        })
        XCTAssertEqual(srv["be/s1"]?[0...7], ["1", "2", "0", "0", "2", "0", "5", "3"])
        XCTAssertEqual(srv["be/s2"]?[0...7], ["0", "2", "0", "0", "0", "0", "2", "2"])
        XCTAssertEqual(srv["be/s2"]?[9...10], ["2", "10"], "average connect and response times")
        XCTAssertEqual(srv["nosrv/<NOSRV>"]?[4], "1")

        // Per URL: #req err ttot tavg oktot okavg bavg btot src
        let urls = Dictionary(uniqueKeysWithValues: halog("-u").report.dropFirst().map {
            let f = $0.split(separator: " ")
            return (String(f.last!), (requests: Int(f[0])!, errors: Int(f[1])!))
        })
        XCTAssertEqual(urls["/ok"]?.requests, 4, "halog folds /ok?x=1 into /ok")
        XCTAssertEqual(urls["/slow"]?.errors, 1)
        XCTAssertEqual(urls["/bad"]?.errors, 1)
        XCTAssertEqual(urls["/ws"]?.requests, 1)

        XCTAssertEqual(halog("-tc").report, ["-- 5", "CR 1", "PH 1", "PR 1", "SC 1", "sH 1"])
    }
}
