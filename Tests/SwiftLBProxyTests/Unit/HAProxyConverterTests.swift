import Foundation
import XCTest
@testable import SwiftLBProxy

/// The byte converters (digests, hashes, base64), the map converters, `redirect` with a
/// format, `set-pathq`/`replace-pathq`, compared with what HAProxy 2.6 answers for the same
/// configuration and request: an `http-request return` whose body prints every converter's
/// result (or the redirect itself), answered by Debian's haproxy on loopback and by SwiftLB's
/// rule engine (`RuleBench`) from the same configuration text and map files.
final class HAProxyConverterTests: XCTestCase {
    private var haproxy: ChildProcess?
    private var directory: TempDirectory!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed (apt-get install haproxy)") }
        directory = try TempDirectory()
    }

    override func tearDown() {
        haproxy?.stop()
        haproxy = nil
    }

    private func compare(_ config: String, _ requests: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let port = freePort()
        let text = config.replacingOccurrences(of: "PORT", with: String(port))
        haproxy = try startHAProxy(text, port: port, in: directory)
        let bench = try RuleBench(text)
        for request in requests {
            let client = try RawClient(port: port, timeout: 3)
            client.send(request)
            let theirs = client.readAll().text
            let ours = try bench.answer(request) ?? "(no answer)"
            // Line by line: a difference names the converter.
            let (o, t) = (ours.components(separatedBy: "\n"), theirs.components(separatedBy: "\n"))
            XCTAssertEqual(o.count, t.count, "for \(request.debugDescription)", file: file, line: line)
            for (a, b) in zip(o, t) where a != b {
                XCTFail("for \(request.debugDescription): ours \(a.debugDescription), HAProxy's \(b.debugDescription)", file: file, line: line)
            }
        }
    }

    private static func request(_ headers: [(String, String)]) -> String {
        "GET / HTTP/1.1\r\nHost: h\r\n" + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "Connection: close\r\n\r\n"
    }

    func testDigestsHashesAndBase64AreHAProxys() throws {
        let lines = [
            "sha1=%[req.hdr(x-in),sha1,hex]", "sha1b=%[req.hdr(x-in),sha1,base64]", "sha224=%[req.hdr(x-in),sha2(224),hex]",
            "sha256=%[req.hdr(x-in),sha2,hex]", "sha384=%[req.hdr(x-in),sha2(384),hex]", "sha512=%[req.hdr(x-in),sha2(512),base64]",
            "crc32=%[req.hdr(x-in),crc32]", "crc32a=%[req.hdr(x-in),crc32(1)]", "crc32c=%[req.hdr(x-in),crc32c]",
            "djb2=%[req.hdr(x-in),djb2]", "djb2a=%[req.hdr(x-in),djb2(1)]", "wt6=%[req.hdr(x-in),wt6]", "wt6a=%[req.hdr(x-in),wt6(1)]",
            "sdbm=%[req.hdr(x-in),sdbm]", "sdbma=%[req.hdr(x-in),sdbm(1)]",
            "xxh32=%[req.hdr(x-in),xxh32]", "xxh32s=%[req.hdr(x-in),xxh32(7)]", "xxh64=%[req.hdr(x-in),xxh64]", "xxh64s=%[req.hdr(x-in),xxh64(-3)]",
            "hex=%[req.hdr(x-in),hex]", "b64=%[req.hdr(x-in),base64]", "ub64=%[req.hdr(x-in),ub64enc]",
            "b64dec=%[req.hdr(x-b64),b64dec,hex]", "b64dec-str=%[req.hdr(x-b64),b64dec]", "ub64dec=%[req.hdr(x-u64),ub64dec,hex]",
            "sha1-ws=%[req.hdr(x-in),concat(258EAFA5-E914-47DA-95CA-C5AB0DC85B11,,),sha1,base64]",
        ]
        let config = """
            \(haproxyDefaults)
            frontend fe
                bind 127.0.0.1:PORT
                http-request return status 200 content-type text/plain lf-string "\(lines.joined(separator: "\\n"))\\n"
            """
        let long = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 3)
        try compare(config, [
            Self.request([("x-in", "hello"), ("x-b64", "aGVsbG8gd29ybGQ="), ("x-u64", "-_8")]),
            Self.request([("x-in", "dGhlIHNhbXBsZSBub25jZQ=="), ("x-b64", "AAEC"), ("x-u64", "aGVsbG8gd29ybGQ")]),
            Self.request([("x-in", long), ("x-b64", "aGk"), ("x-u64", "aGk")]),
            Self.request([("x-in", String(long.prefix(35))), ("x-b64", "not*base64")]),
            Self.request([("x-in", "a"), ("x-u64", "a")]),
        ])
    }

    func testMapConvertersAreHAProxys() throws {
        let str = try directory.write("str.map", "# comment\nexample.org https://www.example.org\n  dup first\ndup second\n\n/old  /new  \nempty\n")
        let beg = try directory.write("beg.map", "/a a\n/a/b ab\n/ root\n")
        let end = try directory.write("end.map", ".png image\n.html page\n")
        let sub = try directory.write("sub.map", "admin 1\nuser 2\n")
        let dir = try directory.write("dir.map", "static s\n/api/v1/ v1\n")
        let dom = try directory.write("dom.map", "example.com ex\nfoo.example.net foo\n")
        let reg = try directory.write("reg.map", "^/img/.*\\.jpg$ jpeg\n^/img/ img\n")
        let regm = try directory.write("regm.map", "^(.*)\\.(example)\\.(org)$ \\1.\\2_AND_\\3\n^([a-z]+)$ word=\\1\n")
        let ip = try directory.write("ip.map", "10.0.0.0/8 ten\n10.1.0.0/16 ten-one\n192.0.2.7 one\n::1 six\n")
        let int = try directory.write("int.map", "1 one\n10:20 teen\n100 hundred\n")
        let ints = try directory.write("ints.map", "foo 42\nbar -7\n")
        let lines = [
            "str=%[req.hdr(x-in),map(\(str),nf)]", "str2=%[req.hdr(x-in),map_str(\(str))]", "beg=%[req.hdr(x-in),map_beg(\(beg),nf)]",
            "end=%[req.hdr(x-in),map_end(\(end),nf)]", "sub=%[req.hdr(x-in),map_sub(\(sub),nf)]", "dir=%[req.hdr(x-in),map_dir(\(dir),nf)]",
            "dom=%[req.hdr(x-in),map_dom(\(dom),nf)]", "reg=%[req.hdr(x-in),map_reg(\(reg),nf)]", "regm=%[req.hdr(x-in),map_regm(\(regm),unknown)]",
            "ip=%[req.hdr(x-in),map_ip(\(ip),nf)]", "int=%[req.hdr(x-in),map_int(\(int),nf)]", "strint=%[req.hdr(x-in),map_str_int(\(ints),-1),add(1)]",
            "begint=%[req.hdr(x-in),map_beg_int(\(ints))]",
        ]
        let config = """
            \(haproxyDefaults)
            frontend fe
                bind 127.0.0.1:PORT
                http-request return status 200 content-type text/plain lf-string "\(lines.joined(separator: "\\n"))\\n"
            """
        let inputs = ["example.org", "www.example.org", "dup", "/old", "empty", "/a/b/c", "/a", "/x", "/pic.png", "x.html.gz", "superadmin", "user",
                      "/static/x", "/api/v1/x", "/api/v2/static", "a.example.com", "example.com", "xexample.com", "bar.foo.example.net",
                      "/img/x.jpg", "/img/x.gif", "abc", "10.1.2.3", "10.2.3.4", "192.0.2.7", "::1", "1", "15", "20", "21", "100", "foo", "bar", "foobar", "", "-12abc", "17x"]
        try compare(config, inputs.map { Self.request([("x-in", $0)]) })
    }

    func testRedirectsWithFormatsAndOptionsAreHAProxys() throws {
        let map = try directory.write("redirect.map", "example.org https://www.example.org\n/old/file /new/file\n")
        let config = """
            \(haproxyDefaults)
            frontend fe
                bind 127.0.0.1:PORT
                http-request redirect code 301 location %[path,map_str(\(map))] ignore-empty
                http-request redirect prefix %[req.hdr(host),lower,regsub(:\\d+$,,),map_str(\(map))] code 301 if { hdr_beg(host) -i example.org }
                http-request redirect prefix /p drop-query if { path_beg /dq }
                http-request redirect prefix /p append-slash if { path_beg /as }
                http-request redirect prefix / code 308 append-slash if { path_beg /self }
                http-request redirect prefix https://x.example drop-query append-slash code 303 if { path_beg /both }
                http-request redirect scheme https drop-query append-slash if { path_beg /sch }
                http-request redirect location /loc-%[req.hdr(x-n)] code 307 if { path /loc }
                http-request return status 200 content-type text/plain lf-string "none %[url]"
            """
        let paths = ["/old/file", "/old/file?x=1", "/nothing", "/dq/a?b=c", "/as/a", "/as/a/", "/as/a?q", "/self/x?y", "/both/z?k=v", "/sch/a?b", "/loc"]
        var requests = paths.map { "GET \($0) HTTP/1.1\r\nHost: h.example\r\nx-n: 5\r\nConnection: close\r\n\r\n" }
        requests.append("GET /x?y=z HTTP/1.1\r\nHost: Example.ORG:8080\r\nConnection: close\r\n\r\n")
        requests.append("GET http://abs.example/as/q?z HTTP/1.1\r\nHost: abs.example\r\nConnection: close\r\n\r\n")
        try compare(config, requests)
    }

    func testPathQueryRewritesAreHAProxys() throws {
        // http-rules/path_and_pathq.vtc's rules, then what they made.
        let config = """
            \(haproxyDefaults)
            frontend fe
                bind 127.0.0.1:PORT
                http-request set-var(txn.pathq) pathq
                http-request set-path /fe%[path]
                http-request replace-path (.*) /foo\\1
                http-request replace-path (.*) \\1/bar
                http-request set-pathq %[path]?app=regtest&%[query]
                http-request replace-pathq /([^?]*)\\?app=([^&]*)&?(.*) /\\2/\\1?\\3
                http-request return status 200 content-type text/plain lf-string "before=%[var(txn.pathq)] url=%[url] path=%[path] pathq=%[pathq] query=%[query]"
            """
        try compare(config, ["/", "/a/b?c=d&e", "/?q", "http://h.example/x/y?z=1"].map { "GET \($0) HTTP/1.1\r\nHost: h.example\r\nConnection: close\r\n\r\n" })
    }
}
