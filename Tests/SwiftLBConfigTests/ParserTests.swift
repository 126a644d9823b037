import Foundation
import XCTest
@testable import SwiftLBConfig

/// Every keyword lb.conf accepts, and the value it produces.
final class ParserTests: XCTestCase {
    private func parse(_ text: String) throws -> Configuration {
        do { return try ConfigParser.parse(text: text, file: "test.conf") } catch {
            XCTFail("unexpected errors:\n\(error)")
            throw error
        }
    }

    func testSampleLbConfOfTheRepositoryParses() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("lb.conf").path
        let config = try ConfigParser.parse(contentsOf: path)
        XCTAssertEqual(config.global.maxconn, 20000)
        XCTAssertEqual(config.frontends.map(\.name), ["hipchat_http", "hipchat_https"])
        XCTAssertEqual(config.frontends[0].binds.map(\.port), [80])
        XCTAssertEqual(config.frontends[0].redirects.first?.target, .scheme("https"))
        XCTAssertEqual(config.frontends[1].binds.map(\.port), [443])
        XCTAssertEqual(config.frontends[1].binds.first?.tls?.certificates, ["/etc/swiftlb/hipc.pem"])
        XCTAssertEqual(config.frontends[1].defaultBackend, "hipchat_nodes")
        let nodes = try XCTUnwrap(config.backends["hipchat_nodes"])
        XCTAssertEqual(nodes.servers.map(\.name), ["node1", "node2", "node3"])
        XCTAssertEqual(nodes.servers.map(\.host), ["192.168.122.100", "192.168.122.101", "192.168.122.102"])
        XCTAssertEqual(nodes.options.timeouts.server, .seconds(60))
        XCTAssertNotNil(nodes.options.forwardFor)
        XCTAssertEqual(nodes.options.balance, .leastConn)
        XCTAssertEqual(nodes.options.cookie?.name, "SERVERID")
        XCTAssertEqual(nodes.servers.map(\.parameters.cookie), ["n1", "n2", "n3"])
        XCTAssertTrue(nodes.servers.allSatisfy { $0.parameters.check && $0.parameters.fall == 3 })
        let vrrp = try XCTUnwrap(config.vrrp)
        XCTAssertEqual(vrrp.virtualAddresses, [VirtualAddress(cidr: "192.168.122.10/24", interface: nil)])
        XCTAssertEqual(vrrp.trackBackends.map(\.backend), ["hipchat_nodes"])
        XCTAssertTrue(config.warnings.isEmpty, "\(config.warnings)")
    }

    func testVRRPSectionWithKeepalivedNamesAndTimes() throws {
        let config = try parse("""
            backend nodes
                server a 127.0.0.1:80
            vrrp vip
                interface veth0
                virtual_router_id 51
                priority 150
                advert_int 0.1
                virtual_ipaddress 192.168.122.10/24
                virtual_ipaddress 192.168.123.10/24 dev veth1
                unicast_src_ip 192.168.122.11
                unicast_peer 192.168.122.12
                udp_port 6000
                nopreempt
                preempt_delay 2
                garp_master_repeat 3
                garp_master_refresh 30s
                notify_master "/usr/local/bin/became master"
                notify /usr/local/bin/notify.sh
                auth none
                track_backend nodes weight -60
            """)
        let v = try XCTUnwrap(config.vrrp)
        XCTAssertEqual(v.name, "vip")
        XCTAssertEqual(v.interface, "veth0")
        XCTAssertEqual(v.virtualRouterID, 51)
        XCTAssertEqual(v.priority, 150)
        XCTAssertEqual(v.advertInterval, .milliseconds(100), "a bare number is seconds, as in keepalived")
        XCTAssertEqual(v.virtualAddresses.map(\.cidr), ["192.168.122.10/24", "192.168.123.10/24"])
        XCTAssertEqual(v.virtualAddresses.map(\.interface), [nil, "veth1"])
        XCTAssertEqual(v.unicastSourceIP, "192.168.122.11")
        XCTAssertEqual(v.unicastPeers, ["192.168.122.12"])
        XCTAssertEqual(v.udpPort, 6000)
        XCTAssertFalse(v.preempt)
        XCTAssertEqual(v.preemptDelay, .seconds(2))
        XCTAssertEqual(v.garpMasterRepeat, 3)
        XCTAssertEqual(v.garpMasterRefresh, .seconds(30))
        XCTAssertEqual(v.notifyMaster, "/usr/local/bin/became master")
        XCTAssertEqual(v.notify, "/usr/local/bin/notify.sh")
        XCTAssertNil(v.authKeyFile)
        XCTAssertEqual(v.trackBackends, [TrackBackend(backend: "nodes", weight: -60, line: 20)])
        XCTAssertEqual(try parse("vrrp v\n interface e\n virtual_router_id 1\n virtual_ipaddress 10.0.0.1/8\n unicast_peer 10.0.0.2\n auth none\n advert_int 10ms\n").vrrp?.advertInterval, .milliseconds(10))
    }

    func testGlobalKeywords() throws {
        let config = try parse("""
            global
                maxconn 500
                nbthread 2
                pidfile /tmp/x.pid
                log stderr
                hard-stop-after 5s
                stats socket /run/swiftlb.sock mode 660 level operator
            """)
        XCTAssertEqual(config.global.maxconn, 500)
        XCTAssertEqual(config.global.nbthread, 2)
        XCTAssertEqual(config.global.pidfile, "/tmp/x.pid")
        XCTAssertEqual(config.global.logTarget, .stderr)
        XCTAssertEqual(config.global.hardStopAfter, .seconds(5))
        var socket = StatsSocket(path: "/run/swiftlb.sock")
        socket.mode = 0o660
        socket.level = .operator_
        XCTAssertEqual(config.global.statsSocket, socket)
    }

    /// VTest writes two `stats socket` lines (a unix path and `fd@${cli}`) and tests add their
    /// own: every one is a control socket, as in HAProxy.
    func testSeveralStatsSocketsAreAllKept() throws {
        let config = try parse("""
            global
                stats socket /run/a.sock level admin
                stats socket ipv4@127.0.0.1:9999 level user
            """)
        XCTAssertEqual(config.global.statsSockets.map(\.path), ["/run/a.sock", "ipv4@127.0.0.1:9999"])
        XCTAssertEqual(config.global.statsSocket?.path, "/run/a.sock", "the first one is the one `swiftlb ctl` uses")
    }

    func testDefaultsAreInheritedAndResetByTheNextDefaults() throws {
        let config = try parse("""
            defaults
                mode http
                timeout connect 3s
                timeout client 30s
                timeout server 31s
                timeout http-request 4s
                timeout http-keep-alive 500
                option forwardfor header X-Real-IP
                option httplog
                option dontlognull
                option http-keep-alive
                maxconn 100
                retries 2
                balance roundrobin
                default-server weight 7
                default_backend first
            frontend f1
                bind 127.0.0.1:8080
            backend first
                server a 10.0.0.1:80
                server b 10.0.0.2:80 weight 3
            defaults
                timeout client 1s
            frontend f2
                bind :8081,:8082
                maxconn 9
                default_backend first
            """)
        let f1 = config.frontends[0]
        XCTAssertEqual(f1.defaultBackend, "first")
        XCTAssertEqual(f1.options.timeouts.connect, .seconds(3))
        XCTAssertEqual(f1.options.timeouts.httpRequest, .seconds(4))
        XCTAssertEqual(f1.options.timeouts.httpKeepAlive, .milliseconds(500))
        XCTAssertEqual(f1.options.forwardFor?.header, "X-Real-IP")
        XCTAssertTrue(f1.options.httpLog)
        XCTAssertTrue(f1.options.dontLogNull)
        XCTAssertEqual(f1.options.maxconn, 100)
        let first = try XCTUnwrap(config.backends["first"])
        XCTAssertEqual(first.options.retries, 2)
        XCTAssertEqual(first.options.timeouts.server, .seconds(31))
        XCTAssertEqual(first.servers.map(\.weight), [7, 3])
        let f2 = config.frontends[1]
        XCTAssertEqual(f2.options.timeouts.client, .seconds(1))
        XCTAssertNil(f2.options.timeouts.connect, "a new defaults section starts from scratch")
        XCTAssertNil(f2.options.forwardFor)
        XCTAssertEqual(f2.options.maxconn, 9)
        XCTAssertEqual(f2.binds.map(\.port), [8081, 8082])
        XCTAssertEqual(f2.binds.map(\.host), ["0.0.0.0", "0.0.0.0"])
    }

    func testHealthChecksCookiesAndAlgorithms() throws {
        let config = try parse("""
            defaults
                default-server check inter 500ms fastinter 100ms downinter 1s rise 3 fall 4
                timeout check 300ms
            backend nodes
                balance leastconn
                option httpchk GET /health HTTP/1.1
                http-check send hdr Host hipchat.example.test hdr X-Check 1
                http-check expect status 200-299
                cookie SERVERID insert indirect nocache postonly httponly secure domain .example.test
                option redispatch
                server n1 10.0.0.1:80 cookie n1
                server n2 10.0.0.2:80 cookie n2 port 8080 addr 10.0.0.9 weight 2
                server n3 10.0.0.3:80 backup
                server n4 10.0.0.4:80 disabled
                server n5 10.0.0.5:80 check maxconn 30 observe layer7 error-limit 5 on-error sudden-death
                timeout queue 3s
                retry-on conn-failure response-timeout
            backend b2
                balance source
                option httpchk /ping
                http-check expect string pong
            backend b3
                balance random(3)
                option httpchk
                http-check expect rstring ^ok[0-9]+$
            backend b4
                balance first
                http-check expect status 200,204
            backend b5
                balance random
            backend b6
                option tcp-check
                tcp-check connect port 6380
                tcp-check send PING\\r\\n
                tcp-check send-binary 0d0a
                tcp-check expect string +PONG
                tcp-check expect ! rstring ^-ERR
                tcp-check expect binary 0d0a
            """)
        let nodes = try XCTUnwrap(config.backends["nodes"])
        XCTAssertEqual(nodes.options.balance, .leastConn)
        XCTAssertEqual(nodes.options.timeouts.check, .milliseconds(300))
        let check = try XCTUnwrap(nodes.options.httpCheck)
        XCTAssertEqual(check.method, "GET")
        XCTAssertEqual(check.uri, "/health")
        XCTAssertEqual(check.version, "HTTP/1.1")
        XCTAssertEqual(check.headers.map { "\($0.0)=\($0.1)" }, ["Host=hipchat.example.test", "X-Check=1"])
        XCTAssertEqual(check.expect, .status([200...299]))
        var cookie = CookieSettings(name: "SERVERID", mode: .insert)
        cookie.indirect = true; cookie.nocache = true; cookie.postonly = true
        cookie.httponly = true; cookie.secure = true; cookie.domains = [".example.test"]
        XCTAssertEqual(nodes.options.cookie, cookie)
        XCTAssertTrue(nodes.options.redispatch)
        let n1 = nodes.servers[0].parameters
        XCTAssertTrue(n1.check)
        XCTAssertEqual(n1.inter, .milliseconds(500))
        XCTAssertEqual(n1.fastinter, .milliseconds(100))
        XCTAssertEqual(n1.downinter, .seconds(1))
        XCTAssertEqual(n1.rise, 3)
        XCTAssertEqual(n1.fall, 4)
        XCTAssertEqual(n1.cookie, "n1")
        let n2 = nodes.servers[1].parameters
        XCTAssertEqual(n2.checkPort, 8080)
        XCTAssertEqual(n2.checkAddress, "10.0.0.9")
        XCTAssertEqual(n2.weight, 2)
        XCTAssertTrue(nodes.servers[2].parameters.backup)
        XCTAssertTrue(nodes.servers[3].parameters.disabled)
        let n5 = nodes.servers[4].parameters
        XCTAssertEqual(n5.maxconn, 30)
        XCTAssertEqual(n5.observe, .layer7)
        XCTAssertEqual(n5.errorLimit, 5)
        XCTAssertEqual(n5.onError, .suddenDeath)
        XCTAssertEqual(nodes.options.timeouts.queue, .seconds(3))
        XCTAssertEqual(nodes.options.retryOn, [.connFailure, .responseTimeout])
        XCTAssertEqual(config.backends["b2"]?.options.retryOn, [.connFailure])
        XCTAssertEqual(config.backends["b2"]?.options.balance, .source)
        XCTAssertEqual(config.backends["b2"]?.options.httpCheck?.uri, "/ping")
        XCTAssertEqual(config.backends["b2"]?.options.httpCheck?.method, "OPTIONS")
        XCTAssertEqual(config.backends["b2"]?.options.httpCheck?.expect, .string("pong"))
        XCTAssertEqual(config.backends["b3"]?.options.balance, .random(draws: 3))
        XCTAssertEqual(config.backends["b3"]?.options.httpCheck?.expect, .rstring("^ok[0-9]+$"))
        XCTAssertEqual(config.backends["b4"]?.options.balance, .first)
        XCTAssertEqual(config.backends["b4"]?.options.httpCheck?.expect, .status([200...200, 204...204]))
        XCTAssertEqual(config.backends["b5"]?.options.balance, .random(draws: 2))
        XCTAssertEqual(config.backends["b6"]?.options.tcpCheck, [
            .connect(TCPCheckConnect(port: 6380)), .send(Array("PING\r\n".utf8)), .send([0x0d, 0x0a]),
            .expect(negated: false, match: .string(Array("+PONG".utf8))),
            .expect(negated: true, match: .rstring("^-ERR")),
            .expect(negated: false, match: .binary([0x0d, 0x0a])),
        ])
    }

    func testTLSBindsRedirectsAndResponseRules() throws {
        let config = try parse("""
            global
                ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
                ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets
                tune.ssl.cachesize 0
            frontend fe
                mode http
                bind :443 ssl crt /etc/swiftlb/certs crt /etc/swiftlb/hipc.pem alpn http/1.1 ciphers ECDHE-RSA-AES128-GCM-SHA256
                bind :80
                redirect scheme https if !{ ssl_fc }
                redirect location https://example.test/moved if { path_beg /old }
                http-response set-header Strict-Transport-Security "max-age=15768000"
                http-response del-header Server
                http-request set-header X-Forwarded-Proto https if { ssl_fc }
            backend b
                mode http
                http-response add-header X-Served-By %[dst_port]
                server s1 10.0.0.1:443 ssl verify required ca-file /etc/ssl/ca.pem sni str(app.example.test)
                server s2 10.0.0.2:443 ssl verify none sni app.example.test
            """)
        let fe = config.frontends[0]
        var tls = BindTLS()
        tls.certificates = ["/etc/swiftlb/certs", "/etc/swiftlb/hipc.pem"]
        tls.alpn = ["http/1.1"]
        tls.ciphers = "ECDHE-RSA-AES128-GCM-SHA256"
        tls.ciphersuites = "TLS_AES_128_GCM_SHA256"
        tls.minVersion = "TLSv1.3"
        tls.noTickets = true
        XCTAssertEqual(fe.binds[0].tls, tls)
        XCTAssertNil(fe.binds[1].tls)
        XCTAssertFalse(config.global.sslSessionCache)
        XCTAssertEqual(fe.redirects.map(\.target), [.scheme("https"), .location("https://example.test/moved")])
        XCTAssertEqual(fe.redirects.map(\.code), [302, 302], "HAProxy's default")
        XCTAssertEqual(fe.redirects[0].condition?.alternatives.first?.first?.negated, true)
        XCTAssertEqual(fe.redirects[0].condition?.alternatives.first?.first?.acl.criteria.first?.fetch, .sslFC)
        XCTAssertEqual(fe.responseRules.count, 2)
        XCTAssertEqual(fe.requestRules.count, 1)
        XCTAssertEqual(config.backends["b"]?.responseRules.count, 1)
        var s1 = ServerTLS()
        s1.verify = true
        s1.caFile = "/etc/ssl/ca.pem"
        s1.sni = "app.example.test"
        s1.more.ssl = true
        XCTAssertEqual(config.backends["b"]?.servers[0].parameters.tls, s1)
        XCTAssertEqual(config.backends["b"]?.servers[1].parameters.tls?.verify, false)
    }

    func testListenIsAFrontendAndABackend() throws {
        let config = try parse("""
            listen app
                bind [::1]:8080
                timeout server 2s
                server s1 localhost:9000
            """)
        XCTAssertEqual(config.frontends.first?.name, "app")
        XCTAssertEqual(config.frontends.first?.defaultBackend, "app")
        XCTAssertEqual(config.frontends.first?.binds.first?.host, "::1")
        XCTAssertEqual(config.backends["app"]?.servers.first?.host, "localhost")
        XCTAssertEqual(config.backends["app"]?.options.timeouts.server, .seconds(2))
    }

    func testACLsConditionsAndSwitchingRules() throws {
        let config = try parse("""
            frontend fe
                mode http
                bind :80
                acl api path_beg /api/ /v2/
                acl api path_end .json
                acl host hdr(Host) -i Chat.Example.Test
                acl img path -m sub /img
                acl re path_reg ^/item/[0-9]+$
                acl post method POST
                use_backend b if api host || re
                use_backend b unless !post
                use_backend b if { url_beg /x } TRUE
                http-request set-header X-Fwd "%[src]:%[src_port] %[req.hdr(host)] 100%%"
                http-request add-header X-A b if api
                http-request del-header Cookie unless host
                default_backend b
            backend b
                mode http
                server s 127.0.0.1:1
            """)
        let fe = config.frontends[0]
        XCTAssertEqual(fe.switchingRules.count, 3)
        let first = fe.switchingRules[0].condition
        XCTAssertEqual(first.alternatives.count, 2)
        XCTAssertEqual(first.alternatives[0].map(\.acl.name), ["api", "host"])
        XCTAssertEqual(first.alternatives[0][0].acl.criteria.count, 2, "two 'acl api' lines OR together")
        XCTAssertEqual(first.alternatives[0][1].acl.criteria[0].fetch, .header("host"))
        XCTAssertTrue(first.alternatives[0][1].acl.criteria[0].caseInsensitive)
        XCTAssertEqual(first.alternatives[0][1].acl.criteria[0].patterns, [Array("chat.example.test".utf8)])
        XCTAssertEqual(first.alternatives[1][0].acl.criteria[0].regexes.count, 1)
        XCTAssertTrue(fe.switchingRules[1].condition.inverted)
        XCTAssertTrue(fe.switchingRules[1].condition.alternatives[0][0].negated)
        XCTAssertEqual(fe.switchingRules[2].condition.alternatives[0].map(\.acl.name), ["{anonymous}", "TRUE"])
        XCTAssertEqual(fe.requestRules.count, 3)
        guard case .set(let name, let value) = fe.requestRules[0].action else { return XCTFail() }
        XCTAssertEqual(name, "X-Fwd")
        XCTAssertEqual(value.parts, [.fetch(.src), .literal(":"), .fetch(.srcPort), .literal(" "), .fetch(.header("host")), .literal(" 100%")])
        XCTAssertNotNil(fe.requestRules[1].condition)
        XCTAssertEqual(fe.requestRules[2].condition?.inverted, true)
    }

    func testLexerQuotesEscapesAndComments() throws {
        let lines = try ConfigLexer.lines(of: """
            # a comment line
              keyword  "two words" 'single $x "q"' esc\\ aped  # trailing comment
            other "a\\"b"
            send PING\\r\\n "\\x41\\tB" '\\n'
            regex ^/api\\.json$ /new\\1 \\# \\\\
            """, file: "f")
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines[3].words, ["regex", "^/api\\.json$", "/new\\1", "#", "\\"], "other backslashes stay, as in HAProxy")
        XCTAssertEqual(lines[2].words, ["send", "PING\r\n", "A\tB", "\\n"])
        XCTAssertEqual(lines[0].number, 2)
        XCTAssertEqual(lines[0].words, ["keyword", "two words", "single $x \"q\"", "esc aped"])
        XCTAssertEqual(lines[1].words, ["other", "a\"b"])
    }

    func testDurations() {
        XCTAssertEqual(ConfigDuration(parsing: "250"), .milliseconds(250))
        XCTAssertEqual(ConfigDuration(parsing: "250ms"), .milliseconds(250))
        XCTAssertEqual(ConfigDuration(parsing: "100us")?.nanoseconds, 100_000)
        XCTAssertEqual(ConfigDuration(parsing: "2s"), .seconds(2))
        XCTAssertEqual(ConfigDuration(parsing: "1m"), .seconds(60))
        XCTAssertEqual(ConfigDuration(parsing: "1h"), .seconds(3600))
        XCTAssertEqual(ConfigDuration(parsing: "1d"), .seconds(86400))
        XCTAssertNil(ConfigDuration(parsing: "2x"))
        XCTAssertNil(ConfigDuration(parsing: "s"))
        XCTAssertNil(ConfigDuration(parsing: "-1s"))
    }

    func testWarningsForMissingTimeoutsAndEmptyBackends() throws {
        let config = try parse("""
            frontend fe
                bind :80
                default_backend b
            backend b
            """)
        let text = config.warnings.map(\.description).joined(separator: "\n")
        XCTAssertTrue(text.contains("parsing [test.conf:1] : 'timeout' : missing timeouts for frontend 'fe'.\nWhile not properly invalid"), text)
        XCTAssertTrue(text.contains("parsing [test.conf:4] : 'timeout' : missing timeouts for backend 'b'."), text)
        XCTAssertTrue(text.contains("timeouts are set to a non-zero value: 'client', 'connect', 'server'."), text)
        XCTAssertTrue(text.contains("parsing [test.conf:4] : 'backend' : backend 'b' has no server"), text)
    }

    /// HAProxy's `dispatch` is a bare address: `default-server check ssl maxconn …` does not
    /// reach it (a health check of the dispatch address would mark the only route down).
    func testDispatchTakesNothingFromDefaultServer() throws {
        let config = try parseOrFail("""
            backend b
                mode http
                default-server check inter 1s maxconn 3 send-proxy
                dispatch 127.0.0.1:8080

            """)
        let server = try XCTUnwrap(config.backends["b"]?.servers.first)
        XCTAssertEqual(server.name, "dispatch")
        XCTAssertEqual(server.parameters, ServerParameters())
        XCTAssertFalse(server.parameters.check)
    }

    /// HAProxy's address parser expands `$VAR`/`${VAR}` whatever the quoting: `bind ${P}` and
    /// `server s ${S_addr}:${S_port}` work unquoted; a server whose variables are all unset is
    /// kept on no address (with a warning), as HAProxy keeps it.
    func testAddressesExpandVariablesOutsideQuotes() throws {
        let config = try parseOrFail("""
            frontend f
                bind ${ADDR}:${PORT}
                default_backend b
            backend b
                server up ${S_addr}:${S_port}
                server gone ${T_addr}:${T_port}

            """, environment: ["ADDR": "127.0.0.1", "PORT": "8081", "S_addr": "127.0.0.2", "S_port": "9000"])
        XCTAssertEqual(config.frontends.first?.binds.first?.host, "127.0.0.1")
        XCTAssertEqual(config.frontends.first?.binds.first?.port, 8081)
        let servers = try XCTUnwrap(config.backends["b"]?.servers)
        XCTAssertEqual(servers.map { "\($0.host):\($0.port)" }, ["127.0.0.2:9000", "0.0.0.0:0"])
        XCTAssertTrue(config.warnings.contains { $0.description.contains("server 'gone' has no address") }, "\(config.warnings)")
        let errors = parseErrors("backend b\n    server s ${S_addr}\n")
        XCTAssertTrue(errors.contains { $0.keyword == "server" && $0.message.contains("invalid address '${S_addr}'") }, "\(errors)")
    }
}
