import Foundation
import XCTest

/// `compression algo|type|offload` on real traffic: a real nginx serves files (by length, by
/// chunks through SSI, already gzipped, `no-transform`), and each request goes through SwiftLB
/// and through HAProxy 2.6 (Debian's) with the same configuration text. Status, framing, the
/// headers compression touches and the decoded body must agree with HAProxy's, and the decoded
/// body must be byte-exact with what nginx serves. The compressed bytes themselves differ:
/// Debian's HAProxy uses libslz, SwiftLB zlib.
final class CompressionTests: XCTestCase {
    var dir: TempDirectory!
    var nginx: ChildProcess!
    var nginxPort = 0
    /// The ETag nginx gives big.html (for a conditional request answered 304).
    var bigETag = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        dir = try TempDirectory()
        let www = dir.file("www")
        try FileManager.default.createDirectory(atPath: www + "/ssi", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("tmp"), withIntermediateDirectories: true)
        // ~1 MiB of compressible HTML, a small JSON, random bytes of an unlisted type.
        var html = ""
        for i in 0..<30_000 { html += i % 3 == 0 ? "<p>hello world</p>\n" : "<div class=x>lorem ipsum \(i)</div>\n" }
        _ = try dir.write("www/big.html", html)
        _ = try dir.write("www/a.json", "{\"a\":1}")
        _ = try dir.write("www/ssi/page.html", "<html>\n<!--# echo var=\"document_uri\" -->\n" + html.prefix(40_000))
        var random = SystemRandomNumberGenerator()
        try Data((0..<5000).map { _ in UInt8.random(in: 0...255, using: &random) }).write(to: URL(fileURLWithPath: dir.file("www/x.bin")))
        nginxPort = freePort()
        let user = getuid() == 0 ? "user root;" : ""
        let temp = dir.file("tmp")
        let conf = try dir.write("nginx.conf", """
            \(user)
            worker_processes 1; daemon off; master_process off;
            pid \(dir.file("nginx.pid")); error_log \(dir.file("nginx.err"));
            events { worker_connections 64; }
            http {
              access_log off;
              types { text/html html; application/json json; application/octet-stream bin; }
              client_body_temp_path \(temp); proxy_temp_path \(temp); fastcgi_temp_path \(temp); uwsgi_temp_path \(temp); scgi_temp_path \(temp);
              server {
                listen 127.0.0.1:\(nginxPort);
                root \(www);
                location = /empty { default_type text/html; return 200 ""; }
                location /ssi/ { ssi on; }
                location = /ae { default_type text/plain; return 200 "ae=$http_accept_encoding\\n"; }
                location = /nt.html { add_header Cache-Control "public, no-transform"; try_files /big.html =404; }
                location = /pre.html { gzip on; gzip_min_length 0; gzip_types text/html; try_files /big.html =404; }
              }
            }
            """)
        nginx = try ChildProcess("/usr/sbin/nginx", ["-c", conf, "-e", dir.file("nginx.err")], logDirectory: dir, name: "nginx")
        XCTAssertTrue(waitForPort(nginxPort), nginx.stderr)
        bigETag = try fetch(nginxPort, "/big.html").header("etag") ?? ""
        XCTAssertTrue(bigETag.hasPrefix("\""), "nginx's ETag is strong: \(bigETag)")
    }

    override func tearDown() {
        nginx?.stop()
        dir = nil
    }

    /// One response as compression_client.py saw it.
    struct Fetched: Equatable, CustomStringConvertible {
        let status: Int
        let chunked: Bool
        let wrapper: String
        let decoded: Int
        let sha256: String
        let complete: Bool
        /// The headers compression decides, lowercased names, sorted (Date, Server… left out).
        let headers: [String]
        /// How many chunks carried it (not compared: HAProxy and SwiftLB cut differently).
        var chunks = 0

        static func == (a: Fetched, b: Fetched) -> Bool {
            (a.status, a.chunked, a.wrapper, a.decoded, a.sha256, a.complete) == (b.status, b.chunked, b.wrapper, b.decoded, b.sha256, b.complete)
                && a.headers == b.headers
        }

        func header(_ name: String) -> String? {
            headers.first { $0.hasPrefix(name + ": ") }.map { String($0.dropFirst(name.count + 2)) }
        }
        var description: String { "\(status) chunked=\(chunked) \(wrapper) \(decoded)B \(sha256.prefix(12)) complete=\(complete) \(headers)" }
    }

    private func fetch(_ port: Int, _ path: String, _ options: [String] = []) throws -> Fetched {
        let run = runCommand("/usr/bin/env", ["python3", Paths.fixtures.appendingPathComponent("compression_client.py").path, "\(port)", path] + options)
        guard run.status == 0, let json = try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any] else {
            throw HarnessError("compression_client.py \(port) \(path) \(options): \(run.err)")
        }
        let skip: Set<String> = ["date", "server", "last-modified", "accept-ranges", "connection"]
        let headers = (json["headers"] as? [[String]] ?? []).map { ($0[0].lowercased(), $0[1]) }.filter { !skip.contains($0.0) }
            .map { "\($0.0): \($0.1)" }.sorted()
        return Fetched(status: json["status"] as? Int ?? 0, chunked: json["chunked"] as? Bool ?? false, wrapper: json["wrapper"] as? String ?? "",
                       decoded: json["decoded"] as? Int ?? -1, sha256: json["sha256"] as? String ?? "", complete: json["complete"] as? Bool ?? false,
                       headers: headers, chunks: json["chunks"] as? Int ?? 0)
    }

    /// SwiftLB and HAProxy with `proxies` (SERVER: nginx's address) behind a frontend on their
    /// own ports; returns both ports. Both are stopped by the caller's `defer`.
    private func start(_ proxies: String, defaults: String) throws -> (swiftlb: SwiftLBInstance, haproxy: ChildProcess, ports: (Int, Int)) {
        let (lbPort, haPort) = (freePort(), freePort())
        func config(_ port: Int) -> String {
            """
            global
                stats socket \(dir.file("stats-\(port).sock")) level admin
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            \(defaults)
            frontend fe
                bind 127.0.0.1:\(port)

            """ + proxies.replacingOccurrences(of: "SERVER", with: "127.0.0.1:\(nginxPort)") + "\n"
        }
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("haproxy-\(haPort).cfg", config(haPort))], logDirectory: dir, name: "haproxy-\(haPort)")
        guard waitForPort(haPort) else {
            let status = haproxy.waitForExit(timeout: 2)
            throw HarnessError("haproxy did not start (\(status.map(String.init) ?? "running")): \(haproxy.stderr)\n\(config(haPort))")
        }
        let swiftlb = try SwiftLBInstance(config: config(lbPort), waitPort: lbPort, in: dir, name: "swiftlb-\(lbPort)")
        return (swiftlb, haproxy, (lbPort, haPort))
    }

    /// Each case through both proxies: equal answers, and a body equal to nginx's own.
    /// Returns SwiftLB's answers.
    @discardableResult
    private func compare(_ proxies: String, defaults: String = "", _ cases: [(String, [String])],
                         file: StaticString = #filePath, line: UInt = #line) throws -> [Fetched] {
        let (swiftlb, haproxy, ports) = try start(proxies, defaults: defaults)
        defer { swiftlb.stop(); haproxy.stop() }
        defer {
            // `show stat`'s comp_* of the frontend: the same responses compressed, the same
            // body bytes in (or bypassed, for identity) — HAProxy counts one byte more per
            // chunked response (its HTX end-of-trailers block). comp_out differs: libslz is not zlib.
            let chunked = cases.filter { $0.0.hasPrefix("/ssi/") && !$0.1.contains("HEAD") }.count
            let columns = ["comp_in", "comp_byp", "comp_rsp"]
            var reference = frontendStatColumns(haproxyStatCommand(dir.file("stats-\(ports.1).sock")), columns)
            if reference.count == 3, let n = Int(reference[0]), reference[2] != "0" { reference[0] = "\(n - chunked)" }
            var ours: [String] = []
            _ = waitUntil(timeout: 5) {
                ours = frontendStatColumns([Paths.swiftlb, "ctl", "-s", self.dir.file("stats-\(ports.0).sock"), "show", "stat"], columns)
                return ours == reference
            }
            XCTAssertEqual(ours, reference, "comp_in, comp_byp, comp_rsp of fe", file: file, line: line)
            XCTAssertEqual(reference.count, 3, file: file, line: line)
        }
        var answers: [Fetched] = []
        for (path, options) in cases {
            let ours = try fetch(ports.0, path, options)
            let reference = try fetch(ports.1, path, options)
            let what = "\(path) \(options)"
            XCTAssertEqual(ours, reference, "\(what)\n  swiftlb: \(ours)\n  haproxy: \(reference)", file: file, line: line)
            XCTAssertTrue(ours.complete, "\(what): the compressed stream ends properly", file: file, line: line)
            if !options.contains("HEAD") && ours.status == 200 && path != "/ae" {
                // Byte-exact: the decoded body is what nginx serves (SSI pages hold a date).
                let direct = try fetch(nginxPort, path == "/pre.html" || path == "/nt.html" ? "/big.html" : path)
                if !path.hasPrefix("/ssi/") { XCTAssertEqual(ours.sha256, direct.sha256, what, file: file, line: line) }
                XCTAssertEqual(ours.decoded, direct.decoded, what, file: file, line: line)
            }
            answers.append(ours)
        }
        return answers
    }

    /// `columns` of the frontend `fe` in a `show stat` CSV.
    private static func ae(_ value: String) -> [String] { ["--header", "Accept-Encoding: \(value)"] }

    /// gzip with a type list in the frontend: what is compressed and what is not, as HAProxy 2.6.
    func testGzipFollowsHAProxysRules() throws {
        let answers = try compare("""
                compression algo gzip
                compression type text/html application/json text/plain
                default_backend app
            backend app
                server s1 SERVER
            """, [
                ("/big.html", Self.ae("gzip")),
                ("/big.html", Self.ae("deflate, gzip;q=0.5")),
                ("/big.html", Self.ae("GZIP")),
                ("/big.html", Self.ae("*")),
                ("/big.html", Self.ae("gzip;q=0")),
                ("/big.html", Self.ae("br")),
                ("/big.html", []),
                ("/big.html", Self.ae("gzip") + ["--method", "HEAD"]),
                ("/big.html", Self.ae("gzip") + ["--http10"]),
                ("/big.html", Self.ae("gzip") + ["--header", "If-None-Match: \(bigETag)"]),
                ("/big.html", Self.ae("gzip") + ["--header", "User-Agent: Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)"]),
                ("/big.html", Self.ae("gzip") + ["--header", "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"]),
                ("/a.json", Self.ae("gzip")),
                ("/x.bin", Self.ae("gzip")),
                ("/empty", Self.ae("gzip")),
                ("/ssi/page.html", Self.ae("gzip")),
                ("/nt.html", Self.ae("gzip")),
                ("/pre.html", Self.ae("gzip")),
                ("/missing.html", Self.ae("gzip")),
            ])
        // The cases that are compressed, so the comparison above is not between two no-ops.
        XCTAssertEqual(answers.map { $0.header("content-encoding") == "gzip" && $0.wrapper == "gzip" },
                       [true, true, true, true, false, false, false, false, false, false, false, true, true, false, false, true, false, true, false])
        let big = answers[0]
        XCTAssertEqual(big.header("etag"), "W/" + bigETag)
        XCTAssertEqual(big.header("vary"), "Accept-Encoding")
        XCTAssertNil(big.header("content-length"))
        XCTAssertTrue(big.chunked)
        XCTAssertEqual(answers[9].status, 304)
    }

    /// Algorithms written in a backend (HAProxy's list order: the last written first),
    /// `offload` (the server never sees Accept-Encoding), no type list (any type but multipart).
    func testDeflateVariantsAndOffloadInTheBackend() throws {
        let answers = try compare("""
                default_backend app
            backend app
                compression algo deflate raw-deflate
                compression offload
                server s1 SERVER
            """, [
                ("/ae", Self.ae("deflate")),
                ("/ae", Self.ae("gzip")),
                ("/x.bin", Self.ae("*")),
                ("/big.html", Self.ae("identity;q=0.5, deflate")),
            ])
        XCTAssertEqual(answers.map(\.wrapper), ["raw", "none", "raw", "raw"])
        XCTAssertEqual(answers[0].header("content-encoding"), "deflate")
        // Offloaded: the server did not see the client's Accept-Encoding ("ae=\n" is 4 bytes).
        XCTAssertEqual(answers[0].decoded, 4)
        XCTAssertEqual(answers[1].decoded, "ae=gzip\n".utf8.count)

        let zlib = try compare("""
                compression algo raw-deflate deflate
                default_backend app
            backend app
                server s1 SERVER
            """, [("/big.html", Self.ae("deflate")), ("/ae", Self.ae("deflate"))])
        XCTAssertEqual(zlib.map(\.wrapper), ["zlib", "zlib"])
        XCTAssertEqual(zlib[1].decoded, "ae=deflate\n".utf8.count, "without offload the server sees Accept-Encoding")
    }

    /// `identity`: nothing to compress, but the response is re-chunked with Vary, as HAProxy does.
    func testIdentityFromDefaults() throws {
        let answers = try compare("""
                default_backend app
            backend app
                server s1 SERVER
            """, defaults: "    compression algo identity", [
                ("/big.html", Self.ae("gzip")),
                ("/big.html", []),
            ])
        XCTAssertTrue(answers[0].chunked)
        XCTAssertEqual(answers[0].header("vary"), "Accept-Encoding")
        XCTAssertNil(answers[0].header("content-encoding"))
    }

    /// A large compressible body, through a client that stalls: compressed as it streams
    /// (many chunks, not one), with backpressure (SwiftLB's memory stays flat while nginx could
    /// push the whole file).
    func testLargeBodyStreamsWithBackpressure() throws {
        var block = ""
        for i in 0..<4096 { block += "line \(i % 97) of a large compressible body, with some text\n" }
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: try dir.write("www/large.html", "")))
        let data = Data(block.utf8)
        for _ in 0..<(128 << 20) / data.count { handle.write(data) }  // 128 MiB
        try handle.close()
        let direct = try fetch(nginxPort, "/large.html")
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            defaults
                mode http
                timeout connect 2s
                timeout client 60s
                timeout server 60s
            frontend fe
                bind 127.0.0.1:\(port)
                compression algo gzip
                default_backend app
            backend app
                server s1 127.0.0.1:\(nginxPort)
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let before = lb.child.rssKiB
        let sampler = RSSSampler(pid: lb.child.pid)
        sampler.start()
        let ours = try fetch(port, "/large.html", Self.ae("gzip") + ["--stall", "2"])
        let peak = sampler.stop()
        XCTAssertEqual(ours.sha256, direct.sha256)
        XCTAssertEqual(ours.decoded, direct.decoded)
        XCTAssertGreaterThan(ours.decoded, 120 << 20)
        XCTAssertEqual(ours.wrapper, "gzip")
        XCTAssertGreaterThan(ours.chunks, 100, "compressed piece by piece, not at the end")
        // Generous: the body is 128 MiB; buffering it (or its compressed form) would show.
        XCTAssertLessThan(peak - before, 48 * 1024, "RSS grew from \(before) to \(peak) KiB: the body is being buffered")
        print("128 MiB gzip through a stalled client: swiftlb RSS \(before / 1024) → peak \(peak / 1024) MiB, \(ours.chunks) chunks")
    }
}
