import Foundation
import XCTest
@testable import SwiftLBConfig

/// The HAProxy 2.6 tunables a copied haproxy.cfg holds: HAProxy's knobs of its own internals
/// (accepted, checked, inert), `setenv` and its family (in file order), `zero-warning`, and the
/// socket options of the client and server sockets. What haproxy -c says of the same lines is
/// the reference.
final class TunableKeywordTests: XCTestCase {
    private let proxies = """
        defaults
            mode http
            timeout client 1s
            timeout connect 1s
            timeout server 1s
        frontend f
            bind 127.0.0.1:8080
            default_backend b
        backend b
            server s 127.0.0.1:8081

        """

    /// Every inert knob with a valid argument: accepted without a word, and the model is the
    /// one of a file without them.
    static let inertLines = """
        global
            noepoll
            nopoll
            nokqueue
            noevports
            busy-polling
            no busy-polling
            tune.maxpollevents 200
            nosplice
            maxpipes 1024
            tune.pipesize 65536
            tune.runqueue-depth 200
            tune.sched.low-latency on
            profiling.tasks auto
            tune.recv_enough 10000
            tune.idletimer 1000
            tune.buffers.limit 10
            tune.buffers.reserve 4
            tune.fail-alloc 0
            no-memory-trimming
            tune.pool-low-fd-ratio 20
            tune.pool-high-fd-ratio 25
            tune.pattern.cache-size 10000
            set-dumpable
            numa-cpu-mapping
            no numa-cpu-mapping
            mworker-max-reloads 3
            insecure-setuid-wanted
            nogetaddrinfo
            quiet
            tune.ssl.force-private-cache
            tune.http.cookielen 63

        """

    func testInertKnobsAreAcceptedSilentlyAndChangeNothing() throws {
        let config = try parseOrFail(Self.inertLines + proxies)
        XCTAssertEqual(config.warnings, [])
        var global = config.global
        global.keywordLines = [:]
        var plain = try parseOrFail(proxies).global
        plain.keywordLines = [:]
        XCTAssertEqual(global, plain)
        // Behind expose-experimental-directives, as in haproxy.
        XCTAssertNoThrow(try parseOrFail("global\n    expose-experimental-directives\n    tune.fd.edge-triggered on\n"))
    }

    func testInertKnobArgumentsAreCheckedAsHAProxyChecksThem() {
        let cases: [(String, String)] = [
            ("noepoll yes", "'noepoll' takes no argument"),
            ("tune.maxpollevents", "'tune.maxpollevents' expects an integer argument"),
            ("tune.pool-low-fd-ratio 101", "'tune.pool-low-fd-ratio' expects an integer argument between 0 and 100"),
            ("tune.sched.low-latency maybe", "'tune.sched.low-latency' expects either 'on' or 'off' but got 'maybe'"),
            ("profiling.tasks yes", "'profiling.tasks' expects 'on', 'auto' or 'off' but got 'yes'"),
            ("tune.idletimer 70s", "'tune.idletimer' expects a time from 0 to 65535 ms"),
            ("tune.fd.edge-triggered on", "'tune.fd.edge-triggered' directive is experimental, must be allowed via a global 'expose-experimental-directives'"),
            ("no nosplice", "'no' cannot be used with 'nosplice'"),
        ]
        for (line, message) in cases {
            let errors = parseErrors("global\n    \(line)\n")
            XCTAssertEqual(errors.map(\.line), [2], line)
            XCTAssertEqual(errors.first?.message, message, line)
        }
    }

    /// `setenv`/`presetenv`/`unsetenv`/`resetenv` change what the lines after them read, and
    /// only those, in file order (a `.if` too).
    func testEnvironmentKeywordsApplyToTheLinesAfterThem() throws {
        let text = """
            global
                log "${SYSLOG}:514" local0
                setenv SYSLOG 127.0.0.2
                log "${SYSLOG}:514" local1
                presetenv SYSLOG 127.0.0.3
                presetenv PORT 8443
                setenv LISTEN "127.0.0.1:${PORT}"
                .if defined(LISTEN)
                    log "${LISTEN}" local2
                .endif
                unsetenv SYSLOG PORT
                log "${SYSLOG-127.0.0.4}:${PORT-515}" local3
                resetenv KEEP
                log "${KEEP}:516" local4
                log "${LISTEN-127.0.0.5:517}" local5
            """
        let config = try parseOrFail(text, environment: ["SYSLOG": "127.0.0.1", "KEEP": "127.0.0.6", "DROP": "x"])
        XCTAssertEqual(config.global.logServers.map(\.address), [
            .udp(host: "127.0.0.1", port: 514), .udp(host: "127.0.0.2", port: 514), .udp(host: "127.0.0.1", port: 8443),
            .udp(host: "127.0.0.4", port: 515), .udp(host: "127.0.0.6", port: 516), .udp(host: "127.0.0.5", port: 517),
        ])
        let errors = parseErrors("global\n    setenv A\n    unsetenv\n    setenv A=B c\n")
        XCTAssertEqual(errors.map(\.line), [2, 3, 4])
        XCTAssertEqual(errors.map(\.message), [
            "'setenv' expects a name and a value", "'unsetenv' expects at least one variable name",
            "'setenv' failed on variable 'A=B' : Invalid argument",
        ])
    }

    /// A `setenv` of an included file holds for the rest of the including file.
    func testSetenvInAnIncludedFileHoldsAfterTheInclude() throws {
        let dir = try Scratch()
        try dir.write("env.conf", "global\n    setenv LOGHOST 127.0.0.9\n")
        let main = try dir.write("lb.conf", "include env.conf\nglobal\n    log \"${LOGHOST}:514\" local0\n")
        let config = try ConfigParser.parse(text: String(contentsOfFile: main, encoding: .utf8), file: main, acceptingPending: false, environment: [:])
        XCTAssertEqual(config.global.logServers.map(\.address), [.udp(host: "127.0.0.9", port: 514)])
    }

    func testSocketKeywordsFillTheModel() throws {
        let config = try parseOrFail("""
            global
                tune.rcvbuf.client 65536
                tune.sndbuf.client 131072
                tune.rcvbuf.server 32768
                tune.sndbuf.server 16384
            defaults
                mode http
                timeout client 1s
                timeout connect 1s
                timeout server 1s
                option tcpka
                clitcpka-cnt 3
                clitcpka-idle 2m
                clitcpka-intvl 10
                srvtcpka-cnt 0
                srvtcpka-idle 30s
                option tcp-smart-accept
                option tcp-smart-connect
            listen l
                bind 127.0.0.1:8080
                srvtcpka-intvl 5000ms
                no option tcp-smart-accept
                server s 127.0.0.1:8081

            """)
        XCTAssertEqual(config.global.clientSocketBuffers, SocketBuffers(receive: 65536, send: 131072))
        XCTAssertEqual(config.global.serverSocketBuffers, SocketBuffers(receive: 32768, send: 16384))
        let options = try XCTUnwrap(config.backends["l"]?.options)
        XCTAssertEqual(options.clientKeepAliveProbes, KeepAliveProbes(count: 3, idle: 120, interval: 10))
        XCTAssertEqual(options.serverKeepAliveProbes, KeepAliveProbes(count: nil, idle: 30, interval: 5), "0: the kernel's")
        XCTAssertEqual([options.tcpSmartAccept, options.tcpSmartConnect], [false, true])
        XCTAssertEqual(parseErrors("global\n    tune.rcvbuf.client 0\n").first?.message, "'tune.rcvbuf.client' expects a size in bytes, from 1 to 2147483647")
        XCTAssertEqual(parseErrors("defaults\n    clitcpka-cnt x\n").first?.message,
                       "'clitcpka-cnt' expects a number of probes from 0 to 127 (TCP_KEEPCNT), not 'x'")
        XCTAssertEqual(parseErrors("defaults\n    srvtcpka-idle 10x\n").map(\.line), [2])
        let twice = try parseOrFail("global\n    tune.sndbuf.server 4096\n    tune.sndbuf.server 8192\n")
        XCTAssertEqual(twice.global.serverSocketBuffers.send, 4096, "haproxy keeps the first (\"already specified. Continuing.\")")
        XCTAssertEqual(twice.alerts.map(\.line), [3])
        XCTAssertEqual(twice.warnings.map(\.line), [], "an alert that lets it start, not a warning")
        // The process keywords haproxy takes once: the first value stays (haproxy's `show
        // info` says Maxconn: 100 and Ulimit-n: 4096 for these lines), each second line alerts.
        let processTwice = try parseOrFail("""
            global
                maxconn 100
                maxconn 200
                ulimit-n 4096
                ulimit-n 8192
                pidfile /tmp/a.pid
                pidfile /tmp/b.pid
                chroot /tmp
                chroot /var
                spread-checks 5
                spread-checks 6
                maxpipes 10
                maxpipes 20

            """)
        XCTAssertEqual(processTwice.global.configuredMaxconn, 100)
        XCTAssertEqual(processTwice.global.ulimitN, 4096)
        XCTAssertEqual(processTwice.global.pidfile, "/tmp/a.pid")
        XCTAssertEqual(processTwice.global.chroot, "/tmp")
        XCTAssertEqual(processTwice.global.spreadChecks, 5)
        XCTAssertEqual(processTwice.alerts.map(\.line), [3, 5, 7, 9, 11, 13])
        XCTAssertEqual(processTwice.alerts.first?.message, "'maxconn' already specified. Continuing.")
        // A first 0 leaves spread-checks and maxpipes unset (haproxy -c agrees): the second
        // line is taken, silently.
        let zeroFirst = try parseOrFail("global\n    spread-checks 0\n    spread-checks 4\n    maxpipes 0\n    maxpipes 3\n")
        XCTAssertEqual(zeroFirst.global.spreadChecks, 4)
        XCTAssertEqual(zeroFirst.alerts, [])
        // Alerts and warnings in the order their lines were read, as haproxy -c prints them
        // (a `global` section may come after a proxy): bind-process's warning, then the alert.
        let ordered = try parseOrFail(proxies + "frontend g\n    bind-process 1\n    bind 127.0.0.1:8082\n    default_backend b\nglobal\n    maxconn 10\n    maxconn 20\n")
        XCTAssertEqual(ordered.alertsAndWarnings.map { "\($0.0)" }, ["warning", "alert"], "\(ordered.alertsAndWarnings)")
    }

    /// `log-tag` in global and in proxies (a defaults one inherited), `log-send-hostname` with
    /// and without a name.
    func testLogTagAndHostnameFillTheModel() throws {
        let config = try parseOrFail("global\n    log-tag lb\n    log-send-hostname\n" + proxies.replacingOccurrences(of: "    mode http\n", with: "    mode http\n    log-tag fromdefaults\n")
                                     + "listen l\n    log-tag own\n    bind 127.0.0.1:8082\n    server s 127.0.0.1:8081\n")
        XCTAssertEqual(config.global.logTag, "lb")
        XCTAssertEqual(config.global.logSendHostname, String(decoding: try Data(contentsOf: URL(fileURLWithPath: "/proc/sys/kernel/hostname")), as: UTF8.self)
                        .trimmingCharacters(in: .whitespacesAndNewlines), "the machine's name, as haproxy's gethostname()")
        XCTAssertEqual(config.frontends.map(\.options.logTag), ["fromdefaults", "own"])
        XCTAssertEqual(try parseOrFail("global\n    log-send-hostname edge1\n").global.logSendHostname, "edge1")
        XCTAssertEqual(parseErrors("global\n    log-tag\n").first?.message, "expects a tag for use in syslog")
        XCTAssertEqual(parseErrors("global\n    log-tag a b\n").map(\.line), [2], "haproxy: too many arguments")
        XCTAssertEqual(parseErrors("frontend f\n    log-tag\n").map(\.line), [2])
    }

    func testRateLimitsFillTheModel() throws {
        let config = try parseOrFail("global\n    maxconnrate 100\n    maxsessrate 0\n    maxsslrate 20\n" + proxies
                                     + "listen l\n    rate-limit sessions 10\n    bind 127.0.0.1:8082\n    server s 127.0.0.1:8081\n")
        XCTAssertEqual([config.global.maxConnRate, config.global.maxSessRate, config.global.maxSSLRate], [100, nil, 20], "0: no limit")
        XCTAssertEqual(config.frontends.map(\.options.rateLimitSessions), [nil, 10])
        XCTAssertEqual(parseErrors("frontend f\n    rate-limit sessions x\n").first?.message,
                       "'rate-limit sessions' expects an integer value (in sessions/second), not 'x'")
        XCTAssertEqual(parseErrors("frontend f\n    rate-limit connections 5\n").map(\.line), [2])
        XCTAssertEqual(try parseOrFail("global\n    maxconnrate 5\n    maxconnrate 9\n").global.maxConnRate, 5, "the first stays, as in haproxy")
    }

    func testBindProcessWarnsAsHAProxy26() throws {
        let config = try parseOrFail(proxies + "frontend g\n    bind-process 1-2\n    bind 127.0.0.1:8082\n    default_backend b\n")
        XCTAssertEqual(config.warnings.map(\.message), ["'bind-process' has no effect, is deprecated, and will be removed in version 2.7."])
    }

    /// The same lines through `haproxy -c` and `swiftlb check`: the same verdict for each, and
    /// `zero-warning` turns a warning into a refusal in both.
    func testVerdictsMatchHAProxyCheck() throws {
        let haproxy = try XCTUnwrap(Binaries.which("haproxy"), "Debian's haproxy (scripts/lib/deps.sh installs it)")
        let dir = try Scratch()
        let lines = Self.inertLines.split(separator: "\n").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var cases: [(String, Bool)] = lines.map { ($0, true) }
        cases += [
            ("noepoll yes", false), ("tune.pool-low-fd-ratio 101", false), ("tune.fail-alloc -1", false),
            ("tune.sched.low-latency maybe", false), ("profiling.tasks yes", false), ("tune.idletimer 70s", false),
            ("tune.fd.edge-triggered on", false), ("no nosplice", false), ("tune.maxpollevents", false),
            ("setenv A", false), ("setenv A b", true), ("presetenv A b", true), ("unsetenv", false), ("unsetenv A B", true),
            ("resetenv", true), ("resetenv PATH HOME", true),
            ("tune.rcvbuf.client 65536", true), ("tune.sndbuf.server 16384", true), ("tune.rcvbuf.server", false),
            ("zero-warning", true), ("log-tag lb", true), ("log-tag", false), ("log-tag a b", false),
            ("log-send-hostname", true), ("log-send-hostname edge1", true),
            ("unix-bind prefix /tmp/ mode 660 uid 0 group root", true), ("unix-bind prefix", false), ("unix-bind owner x", false),
            ("unix-bind user no-such-user-here", false), ("h2-workaround-bogus-websocket-clients", true),
            ("max-spread-checks 500", true), ("max-spread-checks 2s", true), ("max-spread-checks", false), ("tune.ssl.lifetime 600", true), ("tune.ssl.lifetime 5m", true), ("tune.ssl.lifetime", false), ("tune.ssl.lifetime 5x", false),
            ("strict-limits", true), ("no strict-limits", true), ("strict-limits 1", false), ("fd-hard-limit 100000", true), ("fd-hard-limit", false),
            ("maxconnrate 100", true), ("maxconnrate", false), ("maxsessrate 50", true), ("maxsslrate 20", true),
        ]
        var mismatches: [String] = []
        for (index, (line, accepted)) in cases.enumerated() {
            let path = try dir.write("c\(index).cfg", "global\n    \(line)\n" + proxies)
            let reference = runCommand(haproxy, ["-c", "-f", path], timeout: 30)
            let swiftlb = runCommand(Binaries.swiftlb, ["check", "-c", path], timeout: 30)
            if (reference.status == 0) != accepted { mismatches.append("haproxy: '\(line)' \(reference.status == 0 ? "accepted" : "refused"): \(reference.err)") }
            if (swiftlb.status == 0) != accepted { mismatches.append("swiftlb: '\(line)' \(swiftlb.status == 0 ? "accepted" : "refused"): \(swiftlb.err)") }
        }
        XCTAssertEqual(mismatches, [])
        // A warning both print ('bind-process'): accepted, refused under zero-warning.
        let warned = proxies + "frontend g\n    bind-process 1\n    bind 127.0.0.1:8082\n    default_backend b\n"
        for zeroWarning in [false, true] {
            let path = try dir.write("zw-\(zeroWarning).cfg", (zeroWarning ? "global\n    zero-warning\n" : "") + warned)
            let reference = runCommand(haproxy, ["-c", "-f", path], timeout: 30)
            let swiftlb = runCommand(Binaries.swiftlb, ["check", "-c", path], timeout: 30)
            XCTAssertEqual(reference.status, zeroWarning ? 1 : 0, reference.err)
            XCTAssertEqual(swiftlb.status, reference.status, swiftlb.err)
            XCTAssertEqual(swiftlb.err.contains("Some warnings were found and 'zero-warning' is set. Aborting."), zeroWarning, swiftlb.err)
        }
        // A keyword given twice where one is allowed: HAProxy's alert that lets it start
        // ("already specified. Continuing."), which zero-warning does not count; an override
        // in a defaults section is a warning, which it does.
        let twice = ["maxconnrate 10\n    maxconnrate 20", "maxsessrate 10\n    maxsessrate 20", "maxsslrate 10\n    maxsslrate 20",
                     "tune.rcvbuf.client 8192\n    tune.rcvbuf.client 16384", "tune.sndbuf.server 8192\n    tune.sndbuf.server 16384",
                     "log-send-hostname a\n    log-send-hostname b", "unix-bind prefix /tmp\n    unix-bind prefix /var",
                     "maxconn 100\n    maxconn 200", "ulimit-n 4096\n    ulimit-n 8192", "pidfile /tmp/a.pid\n    pidfile /tmp/b.pid",
                     "chroot /tmp\n    chroot /var", "spread-checks 5\n    spread-checks 6", "maxpipes 10\n    maxpipes 20"]
        let overridden = "defaults\n    option tcplog\n    option httplog\n" + proxies
        for (index, text) in (twice.map { ("global\n    zero-warning\n    \($0)\n" + proxies) } + ["global\n    zero-warning\n" + overridden]).enumerated() {
            let path = try dir.write("twice\(index).cfg", text)
            let reference = runCommand(haproxy, ["-c", "-f", path], timeout: 30)
            let swiftlb = runCommand(Binaries.swiftlb, ["check", "-c", path], timeout: 30)
            XCTAssertEqual(reference.status, index < twice.count ? 0 : 1, "haproxy on \(text): \(reference.err)")
            XCTAssertEqual(swiftlb.status, reference.status, "\(text): \(swiftlb.err)")
            if index < twice.count { XCTAssertTrue(swiftlb.err.contains("already specified. Continuing."), swiftlb.err) }
        }
        // Lines HAProxy takes without a word where SwiftLB says something of its own (an inert
        // option, a likely unit mistake): printed as warnings, not counted by zero-warning.
        let remarks = ["global\n    master-worker\n" + proxies, proxies + "backend empty\n",
                       proxies + "backend fast\n    server s 127.0.0.1:8081 check inter 50\n",
                       proxies + "backend spliced\n    option splice-auto\n    server s 127.0.0.1:8081\n",
                       proxies + "backend post\n    balance url_param id check_post\n    server s 127.0.0.1:8081\n",
                       proxies + "backend hashed\n    hash-type consistent sdbm avalanche more\n    server s 127.0.0.1:8081\n",
                       proxies + "fcgi-app php\n    docroot /var/www\n"]
        for (index, text) in remarks.enumerated() {
            let path = try dir.write("remark\(index).cfg", "global\n    zero-warning\n" + text)
            let reference = runCommand(haproxy, ["-c", "-f", path], timeout: 30)
            let swiftlb = runCommand(Binaries.swiftlb, ["check", "-c", path], timeout: 30)
            XCTAssertEqual(reference.status, 0, "haproxy on \(text): \(reference.err)")
            XCTAssertEqual(swiftlb.status, 0, "\(text): \(swiftlb.err)")
            XCTAssertTrue(swiftlb.err.contains("[WARNING]"), "still printed: \(swiftlb.err)")
        }
        // The proxy side: clitcpka-*, srvtcpka-*, the smart options, bind-process.
        let proxyLines = "    rate-limit sessions 10\n    option http-ignore-probes\n    option http-no-delay\n    option tcpka\n    clitcpka-cnt 3\n    clitcpka-idle 60\n    clitcpka-intvl 10\n    srvtcpka-cnt 3\n    srvtcpka-idle 60s\n    srvtcpka-intvl 10s\n    option tcp-smart-accept\n    option tcp-smart-connect\n"
        let path = try dir.write("proxy.cfg", proxies + "listen l\n    bind 127.0.0.1:8083\n" + proxyLines + "    server s 127.0.0.1:8081\n")
        XCTAssertEqual(runCommand(haproxy, ["-c", "-f", path], timeout: 30).status, 0)
        let swiftlb = runCommand(Binaries.swiftlb, ["check", "-c", path], timeout: 30)
        XCTAssertEqual(swiftlb.status, 0, swiftlb.err)
    }
}
