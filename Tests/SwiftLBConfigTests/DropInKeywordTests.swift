import XCTest
@testable import SwiftLBConfig

/// Keywords copied haproxy.cfg files carry (HAProxy's reg-tests and a sweep of public
/// configurations) that SwiftLB now reads: each does what HAProxy does, or is refused with why.
final class DropInKeywordTests: XCTestCase {
    private let head = "defaults\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\n"

    private func errors(_ text: String) -> [String] { parseErrors(head + text, file: "t.conf").map(\.message) }

    func testProxyIDNumbersTheProxyAndTheOthersTakeTheFreeNumbers() throws {
        let config = try parseOrFail(head + """
            frontend f
                bind :8080
                id 3
                default_backend b1
            backend b1
                server s 127.0.0.1:80
            backend b2
                id 1
                server s 127.0.0.1:80
            listen l
                bind :8081
                server s 127.0.0.1:80

            """)
        // HAProxy 2.6's numbers for this file (its `show stat`): defaults takes 2 (1 is b2's),
        // f is 3, b1 4, b2 1, and l 6: the counter moved past b2 as past every proxy.
        XCTAssertEqual(config.proxyIDs["f"], 3)
        XCTAssertEqual(config.proxyIDs["b2"], 1)
        XCTAssertEqual(config.proxyIDs["b1"], 4)
        XCTAssertEqual(config.proxyIDs["l"], 6)
    }

    /// HAProxy's implicit H1→H2 upgrade is on by default; `option disable-h2-upgrade` (defaults,
    /// frontend, listen) turns it off, `no option …` back on.
    func testDisableH2UpgradeIsAFrontSideOptionThatNoUndoes() throws {
        let config = try parseOrFail(head + """
            defaults
                mode http
                option disable-h2-upgrade
            frontend off
                bind :8080
            frontend on
                bind :8081
                no option disable-h2-upgrade

            """)
        XCTAssertEqual(config.frontends.map(\.options.disableH2Upgrade), [true, false])
        XCTAssertFalse(try parseOrFail(head + "frontend f\n    bind :8080\n").frontends[0].options.disableH2Upgrade, "off by default")
        let wrong = parseErrors(head + "frontend f\n    bind :8080\n    option disable-h2-upgrade now\n", file: "t.conf")
        XCTAssertEqual(wrong.first?.message, "'option disable-h2-upgrade' takes no argument", "\(wrong)")
        XCTAssertEqual(wrong.first?.line, 7)
    }

    func testProxyIDMustBeAPositiveNumberNotTakenByAnotherProxy() {
        XCTAssertEqual(errors("backend b\n    id 0\n    server s 127.0.0.1:80\n").first, "expects one positive number")
        XCTAssertEqual(errors("backend a\n    id 7\n    server s 127.0.0.1:80\nbackend b\n    id 7\n    server s 127.0.0.1:80\n").first,
                       "id 7 is already proxy 'a''s")
        XCTAssertEqual(parseErrors(head + "id 3\n", file: "t.conf").first?.keyword, "id", "not a defaults keyword, as in HAProxy")
    }

    func testServerIDNumbersTheServerAndTheOthersTakeTheFreeNumbers() throws {
        let config = try parseOrFail(head + """
            backend b
                server s1 127.0.0.1:80
                server s2 127.0.0.1:81 id 1
                server s3 127.0.0.1:82

            """)
        // HAProxy 2.6 numbers them 2, 1, 4 (its `show stat`): the counter moves past s2 too.
        XCTAssertEqual(config.backends["b"]?.serverIDs, ["s1": 2, "s2": 1, "s3": 4])
        XCTAssertEqual(errors("backend b\n    server s1 127.0.0.1:80 id 4\n    server s2 127.0.0.1:81 id 4\n").first,
                       "server 's2': id 4 is already server 's1''s (line 6)")
        XCTAssertEqual(errors("backend b\n    default-server id 4\n    server s1 127.0.0.1:80\n").first,
                       "'id' is not supported on default-server: it names one server")
        XCTAssertEqual(errors("backend b\n    server s1 127.0.0.1:80 id x\n").first, "'id' expects a positive number, not 'x'")
    }

    func testServerWebSocketModeIsWhatSwiftLBDoesOrRefused() throws {
        let config = try parseOrFail(head + "backend b\n    server s1 127.0.0.1:80 ws h1\n    server s2 127.0.0.1:81 ws auto\n")
        XCTAssertEqual(config.backends["b"]?.servers.map(\.parameters.webSocketMode), ["h1", "auto"])
        XCTAssertTrue(errors("backend b\n    server s 127.0.0.1:80 ws h2\n").first?.hasPrefix("'ws h2' is not supported by SwiftLB") == true)
        XCTAssertTrue(errors("backend b\n    server s 127.0.0.1:80 proto h2 ws h1\n").first?.hasPrefix("'proto h2 ws h1' is not supported") == true)
        XCTAssertEqual(errors("backend b\n    server s 127.0.0.1:80 ws h3\n").first, "'ws' expects auto, h1 or h2")
    }
}

/// Global `set-var`/`set-var-fmt`: the process scope only, kept in file order.
final class GlobalSetVarKeywordTests: XCTestCase {
    func testGlobalSetVarIsKeptInOrderAndOnlyForTheProcessScope() throws {
        let config = try parseOrFail("global\n    set-var proc.a int(12)\n    set-var-fmt proc.b \"x %[var(proc.a)]\"\n")
        XCTAssertEqual(config.global.processVariables, [
            ProcessVariableSetting(name: "proc.a", text: "int(12)", isFormat: false, line: 2),
            ProcessVariableSetting(name: "proc.b", text: "x %[var(proc.a)]", isFormat: true, line: 3),
        ])
        XCTAssertEqual(parseErrors("global\n    set-var txn.a int(1)\n").first?.message,
                       "'set-var' in global only supports the 'proc' scope ('proc.NAME'), not 'txn.a'")
        XCTAssertEqual(parseErrors("global\n    set-var proc.a\n").first?.message, "expects proc.NAME EXPRESSION")
    }
}

/// `http-check connect`: one, before the send/expect rules.
final class HTTPCheckConnectKeywordTests: XCTestCase {
    private let head = "defaults\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\nbackend b\n    option httpchk\n"

    func testOneLeadingConnectIsKeptWithItsOptions() throws {
        let config = try parseOrFail(head + """
                http-check connect addr 127.0.0.2 port 8443 ssl sni health.example alpn http/1.1
                http-check send meth GET uri /health
                http-check expect status 200
                server s 127.0.0.1:80 check verify none

            """)
        let check = try XCTUnwrap(config.backends["b"]?.options.httpCheck)
        XCTAssertEqual(check.connect?.address, "127.0.0.2")
        XCTAssertEqual(check.connect?.port, 8443)
        XCTAssertEqual(check.connect?.ssl, true)
        XCTAssertEqual(check.connect?.sni, "health.example")
        XCTAssertEqual(check.connect?.alpn, ["http/1.1"])
        XCTAssertEqual(check.uri, "/health")
    }

    func testASecondConnectOrOneAfterExpectIsRefused() {
        let message = "SwiftLB runs one request per HTTP check: one 'http-check connect', before the 'http-check send' and 'expect' rules (a second connection is not supported)"
        // What HAProxy 2.6 accepts (two requests, each on its own connection): refused by name.
        XCTAssertEqual(parseErrors(head + "    http-check connect port 81\n    http-check send meth GET\n    http-check expect status 200\n    http-check connect port 82\n").first?.message, message)
        // What HAProxy refuses: its reason (CheckRuleOrderTests runs haproxy -c on these).
        XCTAssertEqual(parseErrors(head + "    http-check connect port 81\n    http-check expect status 200\n    http-check connect port 82\n").first?.message,
                       "'http-check expect': unable to add http-check expect rule at step 2 (missing send rule).")
        XCTAssertEqual(parseErrors(head + "    http-check connect port 81\n    http-check connect port 82\n").first?.message,
                       "'http-check connect': unable to add http-check connect rule at step 2 (missing expect rule).")
        XCTAssertEqual(parseErrors(head + "    http-check connect port 0\n").first?.message, "'http-check connect port' expects a port number (1-65535), not '0'")
        XCTAssertEqual(parseErrors(head + "    http-check connect proto h2\n").first?.message, "'http-check connect proto h2' is not supported by SwiftLB: checks speak HTTP/1 only ('proto h1')")
    }
}

/// `server NAME HOST` without a port: the client's destination port, as in HAProxy.
final class PortlessServerKeywordTests: XCTestCase {
    private let head = "defaults\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\nbackend b\n"

    func testAServerWithoutAPortTakesTheClientsAndChecksNeedAPort() throws {
        let config = try parseOrFail(head + "    server s 127.0.0.1 check port 8080\n    server t [::1]\n    server u 127.0.0.1:81\n    server v 127.0.0.1:\n")
        let servers = try XCTUnwrap(config.backends["b"]?.servers)
        XCTAssertEqual(servers.map(\.parameters.portFromClient), [true, true, false, true])
        XCTAssertEqual(servers.map(\.port), [0, 0, 81, 0])
        XCTAssertEqual(servers[1].host, "::1")
        XCTAssertEqual(parseErrors(head + "    server s 127.0.0.1 check\n").first?.message,
                       "server 's' has neither service port nor check port: write 'port N' for its checks (HAProxy refuses it too)")
        XCTAssertEqual(parseErrors(head + "    default-server check\n    server s 127.0.0.1\n").first?.message,
                       "server 's' has neither service port nor check port: write 'port N' for its checks (HAProxy refuses it too)")
        // A leading connect rule with a port gives the checks theirs, before or after the line
        // (HAProxy's init_srv_check); an offset port (`:+1000`) is not a port SwiftLB reads.
        XCTAssertEqual(parseErrors(head + "    server s 127.0.0.1 check\n    option tcp-check\n    tcp-check connect port 80\n"), [])
        XCTAssertEqual(parseErrors(head + "    option httpchk\n    http-check connect port 80\n    server s 127.0.0.1 check\n"), [])
        XCTAssertFalse(parseErrors(head + "    server s 127.0.0.1:+1000\n").isEmpty, "HAProxy's port offsets are refused, not read as port 1000")
    }
}

/// `tcp-response inspect-delay` alone (reg-tests and real files write it beside rules SwiftLB
/// refuses): accepted with a warning, since without `tcp-response content` rules it delays nothing.
final class TCPResponseInspectDelayTests: XCTestCase {
    func testInspectDelayIsAcceptedWithAWarningAndTheRulesStayRefused() throws {
        let head = "defaults\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\nbackend b\n    server s 127.0.0.1:80\n"
        let config = try parseOrFail(head + "    tcp-response inspect-delay 10s\n")
        XCTAssertEqual(config.warnings.map(\.message),
                       ["'tcp-response inspect-delay' has no effect: it delays 'tcp-response content' rules, which SwiftLB does not run (they are refused)"])
        XCTAssertEqual(parseErrors(head + "    tcp-response inspect-delay soon\n").first?.message, "expects a time, e.g. '30s'")
        XCTAssertTrue(parseErrors(head + "    tcp-response content accept\n").first?.message.contains("is not supported by SwiftLB") == true)
    }
}

/// `bind HOST:LOW-HIGH`: HAProxy's port range, one listener per port.
final class BindPortRangeTests: XCTestCase {
    func testAPortRangeIsOneListenerPerPort() throws {
        let head = "defaults\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\nfrontend f\n"
        let config = try parseOrFail(head + "    bind 127.0.0.1:8001-8003,:9000\n")
        XCTAssertEqual(config.frontends[0].binds.map(\.port), [8001, 8002, 8003, 9000])
        XCTAssertEqual(config.frontends[0].binds.map(\.host), ["127.0.0.1", "127.0.0.1", "127.0.0.1", "0.0.0.0"])
        XCTAssertEqual(parseErrors(head + "    bind :9000-8000\n").first?.message, "invalid port range in ':9000-8000': expected LOW-HIGH, 1 to 65535")
        XCTAssertEqual(parseErrors(head + "    bind :1000-5000\n").first?.message, "port range in ':1000-5000': at most 1024 ports")
    }
}

/// `master-worker`: SwiftLB's own way of running, so a warning and nothing else.
final class MasterWorkerKeywordTests: XCTestCase {
    func testMasterWorkerIsAcceptedWithAWarning() throws {
        let config = try parseOrFail("global\n    master-worker no-exit-on-failure\n")
        XCTAssertEqual(config.warnings.map(\.message),
                       ["'master-worker' changes nothing: SwiftLB is always one process that reloads lb.conf in place on SIGUSR2 or SIGHUP, keeping its connections"])
        XCTAssertEqual(parseErrors("global\n    master-worker now\n").first?.message, "expects 'master-worker [no-exit-on-failure]'")
    }

    /// `redirect` in a backend (HAProxy allows it there) is kept on the backend; in a `mode tcp`
    /// backend it cannot run, and HAProxy's warning says so.
    func testRedirectInABackendIsKeptAndWarnedAboutInTCPMode() throws {
        let http = try parseOrFail("backend b\n    mode http\n    redirect prefix https://www.example.com code 301 drop-query if TRUE\n    server s 127.0.0.1:1\n")
        XCTAssertEqual(http.backends["b"]?.redirects.map(\.target), [.prefix("https://www.example.com")])
        XCTAssertEqual(http.backends["b"]?.redirects.first?.dropQuery, true)
        XCTAssertFalse(http.warnings.contains { $0.keyword == "redirect" }, "\(http.warnings)")
        let tcp = try parseOrFail("backend t\n    mode tcp\n    redirect scheme https\n    server s 127.0.0.1:1\n")
        XCTAssertEqual(tcp.warnings.filter { $0.keyword == "redirect" }.map(\.message), ["'redirect' rules ignored for backend 't' as they require HTTP mode."])
        let front = try parseOrFail("frontend f\n    mode tcp\n    bind :80\n    redirect scheme https\n    default_backend t\nbackend t\n    mode tcp\n    server s 127.0.0.1:1\n")
        XCTAssertEqual(front.warnings.filter { $0.keyword == "redirect" }.map(\.message), ["'redirect' rules ignored for frontend 'f' as they require HTTP mode."])
    }

    /// `minconn` as HAProxy applies it (srv_minmax_conn_apply) and `fullconn`'s default: a tenth
    /// of the frontends' maxconn that can reach the backend (their own, else global maxconn).
    func testMinconnAndFullconnAsHAProxyAppliesThem() throws {
        let config = try parseOrFail("""
            global
                maxconn 3000
            frontend a
                bind :80
                maxconn 1000
                default_backend b
            frontend c
                bind :81
                use_backend b if TRUE
                default_backend d
            backend b
                server dynamic 127.0.0.1:1 minconn 5 maxconn 50
                server above 127.0.0.1:2 minconn 80 maxconn 50
                server alone 127.0.0.1:3 minconn 20
            backend d
                fullconn 7
                server s 127.0.0.1:4

            """)
        let servers = Dictionary(uniqueKeysWithValues: config.backends["b"]!.servers.map { ($0.name, $0.parameters) })
        XCTAssertEqual(servers["dynamic"].map { [$0.minconn, $0.maxconn] }, [5, 50])
        XCTAssertEqual(servers["above"].map { [$0.minconn, $0.maxconn] }, [nil, 80], "a minconn above maxconn is the static maxconn")
        XCTAssertEqual(servers["alone"].map { [$0.minconn, $0.maxconn] }, [nil, 20])
        XCTAssertEqual(config.backends["b"]?.options.fullconn, (1000 + 3000 + 9) / 10)
        XCTAssertEqual(config.backends["d"]?.options.fullconn, 7)
    }
}
