import Foundation
import XCTest

/// The http-request actions and ACL forms of issue 16's rule tests, SwiftLB and HAProxy 2.6 side
/// by side on one configuration text: `normalize-uri` (every normalizer), `deny status … lf-string
/// … hdr`, `declare capture` with `capture … id`, and ACLs on sample expressions (a fetch with
/// converters and a map, `hdr_dom`). Each answer is compared whole, bytes as sent.
final class HTTPRuleDifferentialTests: XCTestCase {
    private static let normalizers = [
        "merge": "path-merge-slashes", "dotdot": "path-strip-dotdot", "full": "path-strip-dotdot full", "dot": "path-strip-dot",
        "sort": "query-sort-by-name", "upper": "percent-to-uppercase", "upper-strict": "percent-to-uppercase strict",
        "decode": "percent-decode-unreserved", "decode-strict": "percent-decode-unreserved strict",
        "strip": "fragment-strip", "encode": "fragment-encode",
    ]

    private func answers(_ both: SideBySide, _ requests: [String]) throws -> [[String]] {
        try both.ports.map { port in
            try requests.map { request in
                let client = try RawClient(port: port, timeout: 3)
                client.send(request)
                return client.readAll().text
            }
        }
    }

    /// HAProxy's predefined ACLs on the request line (`HTTP_1.0`, `HTTP_1.1`, `HTTP_2.0`,
    /// `HTTP_URL_ABS`, `HTTP_URL_SLASH`, `HTTP_URL_STAR`), each naming the rule that answered,
    /// behind `tcp-request content accept if REQ_CONTENT`.
    func testPredefinedRequestLineACLsAsHAProxy() throws {
        let dir = try TempDirectory()
        let names = ["HTTP_1.0", "HTTP_1.1", "HTTP_2.0", "HTTP_URL_ABS", "HTTP_URL_SLASH", "HTTP_URL_STAR"]
        let both = try SideBySide({ port in
            "frontend fe\n    bind 127.0.0.1:\(port)\n"
                // `REQ_CONTENT` (req.len gt 0) holds for every HTTP request (HAProxy's req.len is
                // the request's size in its buffer): nothing is rejected.
                + "    tcp-request inspect-delay 1s\n    tcp-request content accept if REQ_CONTENT\n    tcp-request content reject\n"
                + names.indices.map { "    http-request set-var(txn.v\($0)) str(\(names[$0])) if \(names[$0])\n" }.joined()
                + "    http-request return status 200 hdr m \"\(names.indices.map { "%[var(txn.v\($0))]" }.joined(separator: "-"))\"\n"
        }, in: dir)
        defer { both.stop() }
        let requests = ["GET / HTTP/1.0\r\n\r\n", "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                        "GET http://h/a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                        "OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"]
        let (ours, theirs) = try { let a = try answers(both, requests); return (a[0], a[1]) }()
        for (i, request) in requests.enumerated() {
            XCTAssertEqual(ours[i].debugDescription, theirs[i].debugDescription, "for \(request.debugDescription)")
        }
        XCTAssertTrue(theirs[2].contains("m: -HTTP_1.1--HTTP_URL_ABS--"), theirs[2])
    }

    /// A CR or LF that a fetch brings into a rule's format (`%[url_param(d),ub64dec]`) is
    /// written `%0D%0A` as HAProxy's build_logline writes it, in a header of `return`, the
    /// `location` of a redirect and a header the server gets: never a line of its own (a
    /// header, a Content-Length, a second response). TAB stays; other control bytes and DEL
    /// are encoded too.
    func testControlBytesFromASampleAreEncodedInRuleFormats() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let both = try SideBySide({ port in """
            frontend fe
                bind 127.0.0.1:\(port)
                http-request return status 200 hdr x-r "<%[url_param(d),ub64dec]>" if { path /ret }
                http-request redirect location "/x%[url_param(d),ub64dec]" code 302 if { path /redir }
                http-request set-header x-user "%[url_param(d),ub64dec]"
                unique-id-format "u%[url_param(d),ub64dec]"
                unique-id-header X-UID
                default_backend app
            backend app
                server s 127.0.0.1:\(backend.port)
            """ }, in: dir)
        defer { both.stop() }
        let requests = ["GET /ret?d=YQ0KWC1Jbmo6IDE HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                        "GET /ret?d=YQlif2MBZA HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                        "GET /redir?d=YQ0KWC1Jbmo6IDE HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"]
        let (ours, theirs) = try { let a = try answers(both, requests); return (a[0], a[1]) }()
        for (i, request) in requests.enumerated() {
            XCTAssertEqual(ours[i].debugDescription, theirs[i].debugDescription, "for \(request.debugDescription)")
        }
        XCTAssertTrue(ours[0].contains("x-r: <a%0D%0AX-Inj: 1>\r\n") && !ours[0].contains("\r\nX-Inj"), ours[0])
        XCTAssertTrue(ours[1].contains("x-r: <a\tb%7Fc%01d>\r\n"), ours[1])
        // What the server gets: one x-user line, through SwiftLB and through haproxy alike.
        for port in both.ports {
            let client = try RawClient(port: port, timeout: 3)
            client.send("GET /up?d=YQ0KWC1Jbmo6IDE HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            XCTAssertEqual(statusCode(client.readAll().text), 200)
        }
        let lines = backend.requests.map { request in
            request.raw.components(separatedBy: "\r\n").filter { ["x-user:", "x-uid:", "x-inj:"].contains(where: $0.lowercased().hasPrefix) }
                .map { $0.lowercased() }
        }
        XCTAssertEqual(lines.suffix(2).map { $0.sorted() }, Array(repeating: ["x-uid: ua%0d%0ax-inj: 1", "x-user: a%0d%0ax-inj: 1"], count: 2),
                       "\(backend.requests.map(\.raw))")
    }

    /// `redirect` written in a backend runs after that backend's http-request rules, for the
    /// requests routed to it only; the plain keyword takes `prefix`, `drop-query` and
    /// `append-slash` as HAProxy's (the `www.` redirect of many configs).
    func testRedirectInABackendAsHAProxy() throws {
        let dir = try TempDirectory()
        let both = try SideBySide({ port in """
            frontend fe
                bind 127.0.0.1:\(port)
                redirect prefix https://www.h code 301 drop-query if { hdr(host) -i h.example }
                redirect prefix / append-slash if { path /self }
                use_backend moved if { path_beg /m }
                default_backend other
            backend moved
                http-request set-header x-seen 1
                redirect location /new code 302 if { path /m/old }
                redirect scheme https code 301 if !{ ssl_fc }
                server s 127.0.0.1:1
            backend other
                http-request return status 200 hdr b other
            """ }, in: dir)
        defer { both.stop() }
        let requests = ["GET /m/old HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                        "GET /m/x?y HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                        "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                        "GET /a/b?q=1 HTTP/1.1\r\nHost: h.example\r\nConnection: close\r\n\r\n",
                        "GET /self?x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"]
        let (ours, theirs) = try { let a = try answers(both, requests); return (a[0], a[1]) }()
        for (i, request) in requests.enumerated() {
            XCTAssertEqual(ours[i].debugDescription, theirs[i].debugDescription, "for \(request.debugDescription)")
        }
        XCTAssertTrue(theirs[1].hasPrefix("HTTP/1.1 301") && theirs[1].contains("https://h/m/x?y"), theirs[1])
    }

    /// A frontend's stats page comes after its http-request rules: a rule that denies the
    /// client guards the page (and its admin buttons), as in HAProxy; a client the rules let
    /// through gets it.
    func testTheStatsPageIsBehindTheFrontendsRulesAsHAProxy() throws {
        let dir = try TempDirectory()
        let both = try SideBySide({ port in """
            frontend fe
                bind 127.0.0.1:\(port)
                stats enable
                stats uri /stats
                stats admin if TRUE
                http-request deny unless { hdr(x-admin) -m str yes }
                http-request set-path /stats if { path /lb }
                http-request set-path /app%[path] if { path_beg /stats } { hdr(x-hide) -m found }
                default_backend app
            backend app
                server s 127.0.0.1:1
            """ }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            let client = try RawClient(port: port, timeout: 3)
            client.send("GET /stats HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            XCTAssertEqual(statusCode(client.readResponse()), 403, "port \(port): the page was served past a deny")
            let admin = try RawClient(port: port, timeout: 3)
            admin.send("GET /stats HTTP/1.1\r\nHost: h\r\nx-admin: yes\r\nConnection: close\r\n\r\n")
            XCTAssertEqual(statusCode(admin.readResponse()), 200, "port \(port)")
            // The page is matched on the path the rules left: /lb leads to it, a hidden /stats
            // goes to the server (none listens: 503).
            for (path, hide, status) in [("/lb", false, 200), ("/stats", true, 503)] {
                let c = try RawClient(port: port, timeout: 5)
                c.send("GET \(path) HTTP/1.1\r\nHost: h\r\nx-admin: yes\r\n\(hide ? "x-hide: 1\r\n" : "")Connection: close\r\n\r\n")
                XCTAssertEqual(statusCode(c.readResponse()), status, "port \(port) \(path)")
            }
        }
    }

    /// Each normalizer in a backend of its own, without a condition: haproxy 2.6.12 runs
    /// path-merge-slashes instead of `path-strip-dotdot`, `percent-to-uppercase` and
    /// `percent-decode-unreserved` written without their option and followed by `if|unless`
    /// (its parser leaves the action unset); SwiftLB runs the normalizer written.
    func testNormalizeURIAsHAProxy() throws {
        let dir = try TempDirectory()
        let both = try SideBySide({ port in
            var text = "global\n    expose-experimental-directives\nfrontend fe\n    bind 127.0.0.1:\(port)\n    option accept-invalid-http-request\n"
            let names = Self.normalizers.keys.sorted()
            text += names.map { "    use_backend \($0) if { hdr(x-n) -m str \($0) }\n" }.joined()
            text += names.map { "backend \($0)\n    http-request normalize-uri \(Self.normalizers[$0]!)\n    http-request return status 200 hdr a \"%[url]\"\n" }.joined()
            return text
        }, in: dir)
        defer { both.stop() }
        let targets = ["/a//b/../c/./d/..", "//x/../../y/", "/a/b/..", "/..", "/./a/.", "/?z=1&a&b=2&a=0", "/%61%7e%2f%zz?%62=%aa", "/%%36%36",
                       "/a%2", "/#frag/#x", "*"]
        var requests: [String] = []
        for name in Self.normalizers.keys.sorted() {
            for target in targets where target != "*" || name == "merge" {
                requests.append("\(target == "*" ? "OPTIONS" : "GET") \(target) HTTP/1.1\r\nHost: h\r\nx-n: \(name)\r\nConnection: close\r\n\r\n")
            }
        }
        let (ours, theirs) = try { let a = try answers(both, requests); return (a[0], a[1]) }()
        for (i, request) in requests.enumerated() {
            XCTAssertEqual(ours[i].debugDescription, theirs[i].debugDescription, "for \(request.debugDescription)")
        }
        // Both kinds of outcome happened: rewritten targets and refused ones.
        XCTAssertTrue(ours.contains { $0.contains("\r\na: /a//c/./\r\n") }, "\(ours)")
        XCTAssertTrue(ours.contains { $0.hasPrefix("HTTP/1.1 400") }, "\(ours)")
    }

    /// Without `option accept-invalid-http-request`, a `#` in the target is a 400 before any rule.
    func testFragmentRefusedUnlessAccepted() throws {
        let dir = try TempDirectory()
        let both = try SideBySide({ port in
            "global\n    expose-experimental-directives\nfrontend fe\n    bind 127.0.0.1:\(port)\n    http-request normalize-uri fragment-strip\n    http-request return status 200\n"
        }, in: dir)
        defer { both.stop() }
        let all = try answers(both, ["GET /#foo HTTP/1.1\r\nHost: h\r\n\r\n", "GET /%23foo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"])
        XCTAssertEqual(all[0], all[1])
        XCTAssertTrue(all[0][0].hasPrefix("HTTP/1.1 400"), all[0][0])
        XCTAssertTrue(all[0][1].hasPrefix("HTTP/1.1 200"), all[0][1])
    }

    func testDenyStatusCapturesAndSampleACLsAsHAProxy() throws {
        let dir = try TempDirectory()
        let map = try dir.write("hosts.map", "example.org https://www.example.org\nsub.example.org https://www.sub.example.org\n")
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                declare capture request len 4
                http-request capture hdr(x-c) id 0
                acl mapped hdr(host),lower,regsub(:\\d+$,,),map_str(\(map)) -m found
                http-request deny status 429 content-type text/plain lf-string "slow %[path]" hdr x-cap "%[capture.req.hdr(0)]" if { path /deny }
                http-request deny deny_status 503 if { path /legal }
                http-request deny if { path /plain }
                http-request return status 200 hdr m '%[req.hdr(host),lower,regsub(:\\d+$,,),map_str(\(map))]' if mapped
                http-request return status 203 hdr d "dom" if { hdr_dom(host) -i test1.example.com }
                http-request return status 204 if { hdr_cnt(x-c) gt 1 }
                http-request return status 202 hdr x-cap "%[capture.req.hdr(0)]"
            """
        }, in: dir)
        defer { both.stop() }
        let requests = ["/deny", "/legal", "/plain", "/"].map { "GET \($0) HTTP/1.1\r\nHost: h\r\nx-c: abcdefgh\r\nConnection: close\r\n\r\n" }
            + ["Example.ORG:8443", "sub.example.org", "www.sub.example.org", "a.test1.example.com", "test1.example.community"].map {
                "GET / HTTP/1.1\r\nHost: \($0)\r\nConnection: close\r\n\r\n"
            }
            + ["GET / HTTP/1.1\r\nHost: h\r\nx-c: 1\r\nx-c: 2\r\nConnection: close\r\n\r\n"]
        let all = try answers(both, requests)
        for (i, request) in requests.enumerated() {
            XCTAssertEqual(all[0][i].debugDescription, all[1][i].debugDescription, "for \(request.debugDescription)")
        }
        let statuses = all[0].map { String($0.prefix(12)) }
        XCTAssertEqual(statuses, ["HTTP/1.1 429", "HTTP/1.1 503", "HTTP/1.1 403", "HTTP/1.1 202", "HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 202",
                                  "HTTP/1.1 203", "HTTP/1.1 202", "HTTP/1.1 204"])
        XCTAssertTrue(all[0][0].contains("x-cap: abcd\r\n") && all[0][0].hasSuffix("slow /deny"), all[0][0])
    }
}
