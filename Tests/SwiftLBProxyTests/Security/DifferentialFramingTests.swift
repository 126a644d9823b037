import Foundation
import XCTest

/// SwiftLB, HAProxy 2.6 and nginx (both Debian's) side by side on one seeded corpus of
/// malformed and odd HTTP/1.1 requests (Tests/fixtures/framing_differential.py builds it, sends
/// it and parses what each origin received). Each proxy has its own recording origin, so what
/// each forwarded is known byte for byte. The rules:
/// 1. What HAProxy and nginx both refuse, SwiftLB refuses too.
/// 2. What SwiftLB forwards reaches the origin as exactly the client's message(s), framed the
///    way a strict RFC 9112 parser frames the client's bytes: same bodies, one framing header,
///    no extra request, no leftover bytes.
/// 3. What SwiftLB refuses gets a 4xx and a closed connection (no hang, no 5xx), and SwiftLB
///    still serves after the whole corpus.
final class DifferentialFramingTests: XCTestCase {
    /// Cases (by corpus name) where SwiftLB knowingly forwards what both others refuse, or
    /// frames differently, with the reason. A listed case that no longer differs fails the test,
    /// so the list stays true.
    static let knownDifferences: [String: String] = [:]
    // (A 9000-byte field name was one: SwiftLB now refuses names past 255 bytes as HAProxy's
    // HTX does.)

    /// One proxy's answer to one case.
    struct Outcome {
        var statuses: [Int]
        var closed: Bool
        var timedOut: Bool
        var skipped: Bool
        var forwarded: Bool
        var origin: [String]
        var framingErrors: [String]

        init(_ o: [String: Any]) {
            statuses = o["statuses"] as? [Int] ?? []
            closed = o["closed"] as? Bool ?? false
            timedOut = o["timed_out"] as? Bool ?? false
            skipped = o["skipped"] as? Bool ?? false
            forwarded = o["forwarded"] as? Bool ?? false
            origin = (o["origin"] as? [String] ?? []).map { escaped(Data(base64Encoded: $0) ?? Data()) }
            framingErrors = o["framing_errors"] as? [String] ?? []
        }

        /// The final status (after any 1xx), 0 for none.
        var final: Int { statuses.last { $0 >= 200 || $0 == 0 } ?? 0 }
    }

    struct Case {
        var id: Int
        var name: String
        var request: String
        var reference: String
        var proxies: [String: Outcome]
    }

    func testSwiftLBNeverForwardsWhatHAProxyAndNginxBothRefuse() throws {
        let dir = try TempDirectory()
        let origins = try (0..<3).map { _ in try RecordingBackend(in: dir) }
        defer { origins.forEach { $0.stop() } }
        // Server-side close everywhere: one origin connection per client connection, so every
        // byte a proxy sent, parsed or not, is on record by case (nginx closes upstream
        // connections by default).
        let (lb, lbPort) = try startProxy(backend: "app", backends: "backend app\n    server s1 127.0.0.1:\(origins[0].port)\n",
                                          frontendExtra: "option http-server-close", in: dir)
        defer { lb.stop() }
        let haPort = freePort()
        let haproxy = try startHAProxy("""
            \(haproxyDefaults)
                option http-server-close
            frontend fe
                bind 127.0.0.1:\(haPort)
                default_backend app
            backend app
                server s1 127.0.0.1:\(origins[1].port)

            """, port: haPort, in: dir, name: "haproxy-differential")
        defer { haproxy.stop() }
        let (nginx, nginxPort) = try startNginxProxy(to: origins[2].port, in: dir)
        defer { nginx.stop() }

        let report = dir.file("differential.json")
        let run = runCommand("/usr/bin/timeout", ["300", "python3", Paths.fixtures.appendingPathComponent("framing_differential.py").path,
                                                  "--seed", "9", "--report", report,
                                                  "swiftlb=\(lbPort):\(origins[0].log)", "haproxy=\(haPort):\(origins[1].log)",
                                                  "nginx=\(nginxPort):\(origins[2].log)"])
        XCTAssertEqual(run.status, 0, "driver: \(run.out)\(run.err)")
        print(run.out)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
        let cases = (object?["cases"] as? [[String: Any]] ?? []).map { c in
            Case(id: c["id"] as? Int ?? -1, name: c["name"] as? String ?? "",
                 request: escaped(Data(base64Encoded: c["request"] as? String ?? "") ?? Data()),
                 reference: (c["reference"] as? [String: Any])?["ending"] as? String ?? "",
                 proxies: (c["proxies"] as? [String: [String: Any]] ?? [:]).mapValues(Outcome.init))
        }
        XCTAssertGreaterThan(cases.count, 300, "the corpus is smaller than designed")
        let unclaimed = (object?["unclaimed"] as? [String: [String]])?["swiftlb"] ?? []
        XCTAssertEqual(unclaimed.count, 0, "SwiftLB's origin received bytes no request of the corpus carries: \(unclaimed.map { escaped(Data(base64Encoded: $0) ?? Data()) })")

        var stillDiffering: Set<String> = []
        for c in cases {
            guard let sw = c.proxies["swiftlb"], let ha = c.proxies["haproxy"], let ng = c.proxies["nginx"] else {
                XCTFail("case \(c.id) \(c.name): a proxy has no outcome"); continue
            }
            XCTAssertFalse(sw.skipped || ha.skipped || ng.skipped, "case \(c.id) \(c.name): not sent, the driver ran out of time")
            let what = "case \(c.id) \(c.name)\n  request: \(c.request)\n  reference: \(c.reference)\n  SwiftLB: \(sw.statuses) closed \(sw.closed), origin got \(sw.origin)\n  HAProxy: \(ha.statuses) forwarded \(ha.forwarded); nginx: \(ng.statuses) forwarded \(ng.forwarded)"
            let known = Self.knownDifferences[c.name]
            // (1) What both refuse, SwiftLB refuses.
            if !ha.forwarded && !ng.forwarded && sw.forwarded {
                if known != nil { stillDiffering.insert(c.name) } else { XCTFail("SwiftLB forwards what HAProxy and nginx both refuse: \(what)") }
            }
            // (2) What SwiftLB forwards is framed as the client framed it.
            if sw.forwarded && !sw.framingErrors.isEmpty {
                if known != nil { stillDiffering.insert(c.name) } else { XCTFail("framing differs: \(sw.framingErrors)\n\(what)") }
            }
            // (3) What SwiftLB refuses gets a 4xx and a close; a request still incomplete by
            // the reference may wait for its bytes.
            if !sw.forwarded && !c.reference.hasPrefix("incomplete") {
                XCTAssertTrue((400..<500).contains(sw.final), "SwiftLB refused without a 4xx: \(what)")
                XCTAssertTrue(sw.closed && !sw.timedOut, "SwiftLB did not close after refusing: \(what)")
            }
        }
        for (name, why) in Self.knownDifferences where !stillDiffering.contains(name) {
            XCTFail("known difference '\(name)' (\(why)) no longer occurs: remove it from the list")
        }

        print(summary(cases))
        // The comparison means something only if all three forward the ordinary and refuse the
        // broken: a dead origin or a wrong config would make every proxy "refuse" everything.
        for name in ["swiftlb", "haproxy", "nginx"] {
            let forwarded = cases.filter { $0.proxies[name]?.forwarded == true }.count
            XCTAssertGreaterThan(forwarded, 60, "\(name) forwarded only \(forwarded) requests")
            XCTAssertGreaterThan(cases.count - forwarded, 60, "\(name) refused only \(cases.count - forwarded) requests")
        }
        // Still serving after the corpus.
        let client = try RawClient(port: lbPort, timeout: 3)
        client.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(statusCode(client.readResponse()), 200, "SwiftLB stopped serving after the corpus")
        XCTAssertTrue(lb.child.process.isRunning, "SwiftLB died during the corpus: \(lb.child.stderr)")
    }

    /// Counts by what HAProxy and nginx did, against what SwiftLB did.
    private func summary(_ cases: [Case]) -> String {
        func row(_ label: String, _ selected: [Case]) -> String {
            let swForwards = selected.filter { $0.proxies["swiftlb"]?.forwarded == true }.count
            let bad = selected.filter { !$0.reference.hasPrefix("end") }.count
            return label.padding(toLength: 34, withPad: " ", startingAt: 0)
                + String(format: "%6d %16d %16d %14d", selected.count, selected.count - swForwards, swForwards, bad)
        }
        func forwards(_ c: Case, _ p: String) -> Bool { c.proxies[p]?.forwarded == true }
        var lines = ["differential framing: \(cases.count) requests",
                     "HAProxy / nginx".padding(toLength: 34, withPad: " ", startingAt: 0) + " cases  SwiftLB refuses  SwiftLB forwards  reference bad"]
        lines.append(row("both refuse", cases.filter { !forwards($0, "haproxy") && !forwards($0, "nginx") }))
        lines.append(row("HAProxy refuses, nginx forwards", cases.filter { !forwards($0, "haproxy") && forwards($0, "nginx") }))
        lines.append(row("HAProxy forwards, nginx refuses", cases.filter { forwards($0, "haproxy") && !forwards($0, "nginx") }))
        lines.append(row("both forward", cases.filter { forwards($0, "haproxy") && forwards($0, "nginx") }))
        lines.append(row("all", cases))
        for p in ["swiftlb", "haproxy", "nginx"] {
            let mismatches = cases.filter { !($0.proxies[p]?.framingErrors.isEmpty ?? true) }
            let lenient = cases.filter { forwards($0, p) && $0.reference.hasPrefix("bad") }
            lines.append("\(p): framing mismatches \(mismatches.count)\(mismatches.isEmpty ? "" : " (" + mismatches.map(\.name).joined(separator: "; ") + ")"); forwards \(lenient.count) the strict reference refuses")
        }
        let swLenient = cases.filter { forwards($0, "swiftlb") && $0.reference.hasPrefix("bad") }
        if !swLenient.isEmpty {
            lines.append("SwiftLB forwards, strict reference refuses: " + swLenient.map { "\($0.name) [\($0.reference)] HAProxy \(forwards($0, "haproxy") ? "fwd" : "ref") nginx \(forwards($0, "nginx") ? "fwd" : "ref")" }.joined(separator: "\n  "))
        }
        return lines.joined(separator: "\n")
    }

    /// nginx as a reverse proxy (proxy_pass, HTTP/1.1 upstream) on a free loopback port.
    private func startNginxProxy(to origin: Int, in dir: TempDirectory) throws -> (ChildProcess, Int) {
        let port = freePort()
        let root = dir.file("nginx-proxy")
        let config = try dir.write("nginx-proxy.conf", try singleNginxConfig(root: root, server: """
                listen 127.0.0.1:\(port);
                location / {
                  proxy_pass http://127.0.0.1:\(origin);
                  proxy_http_version 1.1;
                }
            """))
        let child = try ChildProcess("/usr/sbin/nginx", ["-c", config, "-e", root + "/error.log"], logDirectory: dir, name: "nginx-proxy")
        guard waitForPort(port) else { throw HarnessError("nginx did not listen on \(port): \(child.stderr)") }
        return (child, port)
    }
}

/// Bytes as readable text: printable ASCII as is, the rest escaped (\r, \n, \xNN).
private func escaped(_ data: Data) -> String {
    var out = ""
    for byte in data.prefix(600) {
        switch byte {
        case 0x0d: out += "\\r"
        case 0x0a: out += "\\n"
        case 0x09: out += "\\t"
        case 0x5c: out += "\\\\"
        case 0x20..<0x7f: out.append(Character(UnicodeScalar(byte)))
        default: out += String(format: "\\x%02x", byte)
        }
    }
    return data.count > 600 ? out + "…(\(data.count) bytes)" : out
}
