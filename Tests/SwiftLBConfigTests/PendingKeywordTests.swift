import Foundation
import XCTest
@testable import SwiftLBConfig

/// Keywords the data path will act on: each is refused with its line and "not yet supported
/// by SwiftLB: …" today, and parsed into the model (checked with the gate open) so that making
/// it real is the one-line status change in its registration. The ones active at once too.
/// (Active since: mode tcp, the tunnel and fin timeouts, tcplog, pgsql-check, on-marked-down/up,
/// the stats page keywords.)
final class PendingKeywordTests: XCTestCase {
    private let timeouts = "defaults\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\n"

    private func parse(_ text: String, pending: Bool = true, line: UInt = #line) throws -> Configuration {
        try parseOrFail(text, file: "p.conf", pending: pending, line: line)
    }

    /// Every line of `lines` (appended to `head`, one at a time) is refused at its line with
    /// the gate's words.
    private func assertRefusedOneByOne(_ head: String, _ lines: [String], file: StaticString = #filePath, at: UInt = #line) {
        let line = head.split(separator: "\n", omittingEmptySubsequences: false).count
        for text in lines {
            do {
                _ = try ConfigParser.parse(text: head + text + "\n", file: "p.conf")
                XCTFail("accepted: \(text)", file: file, line: at)
            } catch {
                XCTAssertEqual(error.errors.map(\.line), [line], "\(text): \(error)", file: file, line: at)
                XCTAssertTrue(error.errors.first?.message.contains("is not yet supported by SwiftLB: ") == true, "\(text): \(error)", file: file, line: at)
            }
        }
    }

    func testProxyKeywordsAreRefusedOneByOne() {
        let frontend = timeouts + "frontend f\n    bind :80\n    redirect location /x\n"
        assertRefusedOneByOne(frontend, [
            "    log-format-sd \"[x]\"",
            "    acl down always_false\n    monitor fail if down".replacingOccurrences(of: "always_false", with: "path /x"),
            "    tcp-request connection expect-proxy layer4",
           
        ].filter { !$0.contains("\n") })
    }

    func testPendingProxyKeywordsFillTheModel() throws {
        let config = try parse(timeouts + """
            http-errors site
                errorfile 503 /etc/hostname
            frontend f
                bind :80 name web accept-proxy proto h1
                bind ipv6@:8080
                bind fd@3
                bind unix@/run/lb.sock
                bind :443 ssl crt /x.pem ca-file /ca.pem verify optional
                mode tcp
                timeout client-fin 2s
                option logasap
                option log-separate-errors
                option dontlog-normal
                log-format "%ci:%cp %ST"
                log 127.0.0.1:514 len 1024 format rfc5424 local0 info notice
                monitor-uri /health
                acl dead path /down
                monitor fail if dead
                capture request header Host len 64
                capture response header Server len 32
                tcp-request connection reject if { src 192.0.2.0/24 }
                tcp-request inspect-delay 5s
                stats enable
                stats uri /stats
                stats refresh 10s
                stats auth admin:secret
                stats realm "SwiftLB stats"
                stats hide-version
                stats admin if TRUE
                http-request use-service prometheus-exporter if { path /metrics }
                http-request deny deny_status 429 if { src_conn_cur gt 100 }
                http-request return status 200 content-type text/plain string ok hdr X-A b if { path /ping }
                http-request redirect scheme https code 301
                http-request set-path /new
                http-request replace-uri ^/old(.*) /new\\1
                http-request set-var(txn.host) req.hdr(host)
                http-request del-header X-Debug -m beg
                http-response set-status 503 reason "Down"
                http-after-response set-header X-Frame-Options DENY
                errorfiles site 503
                use_backend b
            backend b
                mode tcp
                option http-server-close
                option forwardfor except 127.0.0.0/8 if-none
                http-check disable-on-404
                http-check send meth GET uri /health body ping
                fullconn 100
                timeout tunnel 1h
                stick-table type ip size 100k expire 30m store conn_cur
                stick on src
                server s 127.0.0.1:80 send-proxy-v2 maxqueue 10 check on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions
                server u /run/app.sock
            """)
        XCTAssertEqual(config.httpErrors["site"], [503: "/etc/hostname"])
        let f = config.frontends[0]
        XCTAssertEqual(f.binds[0].name, "web")
        XCTAssertTrue(f.binds[0].acceptProxy)
        XCTAssertEqual(f.binds[0].proto, "h1")
        XCTAssertEqual(f.binds[1].host, "::")
        XCTAssertEqual(f.binds[2].socket, .inherited(fd: 3))
        XCTAssertEqual(f.binds[3].socket, .unix(path: "/run/lb.sock"))
        XCTAssertEqual(f.binds[4].tls?.caFile, "/ca.pem")
        XCTAssertEqual(f.binds[4].tls?.verify, "optional")
        XCTAssertEqual(f.options.mode, .tcp)
        XCTAssertEqual(f.options.timeouts.clientFin, .seconds(2))
        XCTAssertTrue(f.options.logASAP && f.options.logSeparateErrors && f.options.dontLogNormal)
        XCTAssertEqual(f.options.logFormat, "%ci:%cp %ST")
        var log = LogServer(address: .udp(host: "127.0.0.1", port: 514), line: 19)
        log.length = 1024; log.format = .rfc5424; log.facility = "local0"; log.maxLevel = "info"; log.minLevel = "notice"
        XCTAssertEqual(f.options.logTargets, [log])
        XCTAssertEqual(f.options.monitorURI, "/health")
        XCTAssertEqual(f.monitorFail.count, 1)
        XCTAssertEqual(f.captures, [HeaderCapture(response: false, name: "Host", length: 64, line: 23), HeaderCapture(response: true, name: "Server", length: 32, line: 24)])
        XCTAssertEqual(f.tcpRequestRules.map { "\($0.layer.rawValue) \($0.action.rawValue)" }, ["connection reject"])
        XCTAssertEqual(f.tcpRequestRules.first?.condition?.alternatives.first?.first?.acl.criteria.first?.networks, ["192.0.2.0/24"])
        XCTAssertEqual(f.options.tcpInspectDelay, .seconds(5))
        let stats = try XCTUnwrap(f.options.stats)
        XCTAssertTrue(stats.enabled && stats.hideVersion)
        XCTAssertEqual(stats.uri, "/stats")
        XCTAssertEqual(stats.refresh, .seconds(10))
        XCTAssertEqual(stats.realm, "SwiftLB stats")
        XCTAssertEqual(stats.credentials.map { "\($0.user):\($0.password)" }, ["admin:secret"])
        XCTAssertEqual(stats.admin.count, 1)
        let actions = f.httpRequestRules.map { rule -> String in
            switch rule.action {
            case .useService(let s): "service \(s)"
            case .deny(let r): "deny \(r.status)"
            case .returnResponse(let r): "return \(r.status) \(r.contentType ?? "") \(r.body) \(r.headers.map(\.name))"
            case .redirect(let r): "redirect \(r.target) \(r.code)"
            case .setTarget(let part, let format): "set \(part.rawValue) \(format)"
            case .replaceTarget(let regex, let replacement, let whole): "replace \(whole ? "uri" : "path") \(regex) \(replacement)"
            case .setVariable(let name, let expression): "set-var \(name) \(expression)"
            case .deleteHeaders(let name, let method): "del \(name) \(method.rawValue)"
            default: "other"
            }
        }
        XCTAssertEqual(actions, ["service prometheus-exporter", "deny 429", "return 200 text/plain string(\"ok\") [\"X-A\"]",
                                 "redirect scheme(\"https\") 301", "set path /new", "replace uri ^/old(.*) /new\\1",
                                 "set-var txn.host req.hdr(host)", "del X-Debug beg"])
        XCTAssertEqual(f.httpRequestRules[1].condition?.alternatives.first?.first?.acl.criteria.first?.integerOperator, "gt")
        guard case .setStatus(503, let reason) = f.httpResponseRules.first?.action else { return XCTFail() }
        XCTAssertEqual(reason, "Down")
        XCTAssertEqual(f.httpAfterResponseRules.count, 1)
        XCTAssertEqual(f.options.errorDirectives, [.section(ErrorFilesReference(section: "site", codes: [503], line: 44))])
        XCTAssertEqual(f.switchingRules.first?.backend, "b")

        let b = try XCTUnwrap(config.backends["b"])
        XCTAssertEqual(b.options.httpConnectionMode, .serverClose)
        XCTAssertEqual(b.options.forwardFor?.except, "127.0.0.0/8")
        XCTAssertEqual(b.options.forwardFor?.ifNone, true)
        XCTAssertEqual(b.options.httpCheck?.disableOn404, true)
        XCTAssertEqual(b.options.httpCheck?.body, "ping")
        XCTAssertEqual(b.options.httpCheck?.method, "GET")
        XCTAssertEqual(b.options.fullconn, 100)
        XCTAssertEqual(b.options.timeouts.tunnel, .seconds(3600))
        XCTAssertEqual(b.stickTable, StickTable(type: "ip", size: 102_400, expire: .seconds(1800), store: ["conn_cur"], line: 54))
        XCTAssertEqual(b.stickRules.map(\.sample), ["src"])
        let s = b.servers[0].parameters
        XCTAssertEqual(s.sendProxy, .v2)
        XCTAssertEqual(s.maxQueue, 10)
        XCTAssertTrue(s.shutdownSessionsOnMarkedDown && s.shutdownBackupSessionsOnMarkedUp)
        XCTAssertEqual(b.servers[1].unixPath, "/run/app.sock")
        XCTAssertEqual(b.servers[1].port, 0)
    }

    func testGlobalLogTargets() throws {
        let config = try parse("global\n    log /dev/log local0\n    log stdout format raw local0\n    log 127.0.0.1 local1 notice\n")
        XCTAssertEqual(config.global.logServers.map(\.address), [.unix(path: "/dev/log"), .stdout, .udp(host: "127.0.0.1", port: 514)])
        XCTAssertEqual(config.global.logTarget, .stdout)
        let active = try parse("global\n    log stderr format raw daemon\n", pending: false)
        XCTAssertEqual(active.global.logTarget, .stderr, "stdout/stderr with the raw format are what SwiftLB writes")
        for (line, message) in [("log /dev/log", "a syslog target needs a facility"), ("log stdout local9", "unknown facility 'local9'"),
                                ("log stdout format json local0", "unknown log format 'json'"), ("log stdout local0 loud", "unknown level 'loud'"),
                                ("log 127.0.0.1 len 10 local0", "'len' expects a length from 80")] {
            do {
                _ = try ConfigParser.parse(text: "global\n    \(line)\n", file: "p.conf", acceptingPending: true)
                XCTFail("accepted \(line)")
            } catch {
                XCTAssertTrue(error.errors.first?.message.contains(message) == true, "\(line): \(error)")
            }
        }
    }

    func testKeywordsActiveAtOnce() throws {
        let config = try parse(timeouts + """
            global
                ulimit-n 65536
                ssl-server-verify none
            listen app
                bind ipv4@127.0.0.1:8080 no-sslv3 no-tlsv10
                mode http
                option allbackups
                hash-type consistent
                http-reuse safe
                log global
                use_backend other
                default-server check
                server a 127.0.0.1:81 no-check
                server b 127.0.0.1:82 enabled
            backend other
                mode http
                server c 127.0.0.1:83
            """, pending: false)
        XCTAssertEqual(config.global.ulimitN, 65536)
        XCTAssertEqual(config.global.sslServerVerify, false)
        let app = config.frontends[0]
        XCTAssertEqual(app.binds[0].host, "127.0.0.1")
        XCTAssertEqual(app.defaultBackend, "app", "a listen with mode http is a frontend and a backend")
        let rule = try XCTUnwrap(app.switchingRules.first)
        XCTAssertEqual(rule.backend, "other")
        XCTAssertEqual(rule.condition.alternatives.first?.first?.acl.name, "TRUE", "no condition: always true")
        XCTAssertEqual(config.backends["app"]?.servers.map(\.parameters.check), [false, true])
        let djb2 = try parse("backend b\n    hash-type consistent djb2\n    server s 127.0.0.1:1\n")
        XCTAssertEqual(djb2.backends["b"]?.options.hashType, HashType(method: .consistent, function: .djb2))
        XCTAssertFalse(djb2.warnings.contains { $0.keyword == "hash-type" }, "HAProxy's hashing is SwiftLB's: nothing to say")
        let verify = try parse("global\n    ssl-server-verify required\nbackend b\n    server s 127.0.0.1:443 ssl ca-file /ca.pem\n    server t 127.0.0.1:444 ssl verify none\n")
        XCTAssertEqual(verify.backends["b"]?.servers.map { $0.parameters.tls?.verify }, [true, false])
        do {
            _ = try ConfigParser.parse(text: "global\n    ssl-server-verify required\nbackend b\n    server s 127.0.0.1:443 ssl\n", file: "p.conf")
            XCTFail("accepted")
        } catch {
            XCTAssertTrue(error.errors.first?.message.hasPrefix("verify is enabled by default but no CA file specified.") == true, "\(error)")
        }
    }

    func testPendingSyntaxIsCheckedBeforeTheGate() {
        for (line, message) in [("    http-request return status 999", "'status' expects a status from 200 to 599"),
                                ("    http-request return string x", "a body needs 'content-type TYPE'"),
                                ("    http-request set-var(host) req.hdr(host)", "variable 'host' needs a scope"),
                                ("    http-request replace-path ^(bad /x", "invalid regular expression '^(bad'"),
                                ("    http-request use-service lua.x", "only 'use-service prometheus-exporter'"),
                                ("    stick-table type ip", "expects at least 'type ip size N'"),
                                ("    acl a src 10.0.0.300", "is not an address or network"),
                                ("    capture request header Host", "expects 'capture request header NAME len N'"),
                                ("    errorfile 999 /etc/hostname", "status 999 has no error page"),
                                ("    errorfile 503 /nonexistent/503.http", "cannot read error file"),
                                ("    bind fd@x", "fd@ expects a descriptor number")] {
            do {
                _ = try ConfigParser.parse(text: timeouts + "frontend f\n    bind :80\n" + line + "\n", file: "p.conf")
                XCTFail("accepted \(line)")
            } catch {
                XCTAssertEqual(error.errors.count, 1, "\(line): \(error)")
                XCTAssertTrue(error.errors.first?.message.contains(message) == true, "\(line): \(error)")
            }
        }
    }
}
