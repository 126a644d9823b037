import XCTest
@testable import SwiftLBConfig

/// Every way lb.conf can be wrong, and the exact place each error points at.
final class ParserErrorTests: XCTestCase {
    /// Parses `text`, expects exactly one error, and checks its line, keyword and message.
    private func expectError(_ text: String, line: Int, keyword: String, _ message: String,
                             file: StaticString = #filePath, at: UInt = #line) {
        do {
            _ = try ConfigParser.parse(text: text, file: "lb.conf")
            XCTFail("no error for:\n\(text)", file: file, line: at)
        } catch {
            XCTAssertEqual(error.errors.count, 1, "\(error)", file: file, line: at)
            guard let e = error.errors.first else { return }
            XCTAssertEqual(e.file, "lb.conf", file: file, line: at)
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: at)
            XCTAssertEqual(e.keyword, keyword, "\(e)", file: file, line: at)
            XCTAssertTrue(e.message.contains(message), "'\(e.message)' lacks '\(message)'", file: file, line: at)
            XCTAssertTrue(e.description.hasPrefix("parsing [lb.conf:\(line)] : '\(keyword)' : "), e.description, file: file, line: at)
        }
    }

    private let fe = "frontend fe\n    bind :80\n    default_backend b\nbackend b\n    server s 127.0.0.1:80\n"

    func testUnknownKeywordsNameTheNearestKnownOne() {
        expectError("global\n    maxcon 10\n", line: 2, keyword: "maxcon", "did you mean 'maxconn'?")
        expectError(fe + "    balanse roundrobin\n", line: 6, keyword: "balanse", "did you mean 'balance'?")
        expectError(fe + "    timeout sever 1s\n", line: 6, keyword: "timeout", "unknown timeout 'sever' (did you mean 'server'?)")
        expectError(fe + "    option fowardfor\n", line: 6, keyword: "option", "did you mean 'forwardfor'?")
        expectError(fe + "    server t 127.0.0.1:81 wieght 2\n", line: 6, keyword: "server", "did you mean 'weight'?")
        expectError("frontnd x\n", line: 1, keyword: "frontnd", "did you mean 'frontend'?")
        expectError(fe + "    http-request set-heder A b\n", line: 6, keyword: "http-request", "did you mean 'set-header'?")
        expectError("frontend fe\n    bind :80\n    acl a path_bgn /x\n", line: 3, keyword: "acl", "did you mean 'path_beg'?")
    }

    /// Keywords HAProxy knows but SwiftLB refuses are named as such, with no misleading
    /// suggestion of a keyword that means something else.
    func testKnownKeywordsAreRefusedWithoutMisleadingSuggestions() {
        let head = "frontend f\n    bind :80\n"
        for (text, keyword) in [("    option contstats\n", "option"), ("    option http-use-proxy-header\n", "option"),
                                ("    tcp-request connection expect-proxy layer4\n", "tcp-request")] {
            do {
                _ = try ConfigParser.parse(text: head + text, file: "lb.conf")
                XCTFail("accepted: \(text)")
            } catch {
                let e = error.errors[0]
                XCTAssertEqual(e.keyword, keyword)
                XCTAssertTrue(e.message.contains("supported by SwiftLB"), e.message)
                XCTAssertFalse(e.message.contains("did you mean"), e.message)
            }
        }
        expectError(head + "    acl sni ssl_fc_snx x\n", line: 3, keyword: "acl", "unknown fetch method 'ssl_fc_snx'")
        expectError(head + "    acl d hdr_ip(host) 10.0.0.1\n", line: 3, keyword: "acl", "fetch 'hdr_ip' is not supported by SwiftLB")
        expectError(head + "    frobnicate\n", line: 3, keyword: "frobnicate", "unknown keyword in 'frontend' section")
    }

    private let vrrp = "vrrp vip\n    interface veth0\n    virtual_router_id 51\n    virtual_ipaddress 192.168.122.10/24\n    unicast_peer 192.168.122.12\n"

    func testVRRPMistakesNameTheirLine() {
        expectError(vrrp, line: 1, keyword: "auth_key_file", "no heartbeat key")
        expectError(vrrp + "    auth none\n    auth md5\n", line: 7, keyword: "auth", "only 'auth none'")
        expectError(vrrp + "    auth none\n    priority 255\n", line: 7, keyword: "priority", "from 1 to 254")
        expectError(vrrp + "    auth none\n    advert_int 5ms\n", line: 7, keyword: "advert_int", "from 10ms to 40s")
        expectError(vrrp + "    auth none\n    virtual_ipaddress 192.168.122.300/24\n", line: 7, keyword: "virtual_ipaddress", "'192.168.122.300/24' is not an IPv4 address")
        expectError(vrrp + "    auth none\n    unicast_peer fe80::1\n", line: 7, keyword: "unicast_peer", "not an IPv4 address")
        expectError(vrrp + "    auth none\n    state LEADER\n", line: 7, keyword: "state", "expects MASTER or BACKUP")
        expectError(vrrp + "    auth none\n    advert_intt 1\n", line: 7, keyword: "advert_intt", "did you mean 'advert_int'?")
        expectError(vrrp + "    auth none\n    track_backend nodez\n", line: 7, keyword: "track_backend", "no backend named 'nodez'")
        // A second instance is active-active; two instances cannot share a router id on one
        // interface, nor a virtual address.
        let other = "vrrp other\n    interface veth0\n    virtual_router_id 52\n    virtual_ipaddress 192.168.122.20/24\n    unicast_peer 192.168.122.12\n    auth none\n"
        XCTAssertNoThrow(try ConfigParser.parse(text: vrrp + "    auth none\n" + other, file: "lb.conf"))
        expectError(vrrp + "    auth none\n" + other.replacingOccurrences(of: "_id 52", with: "_id 51"), line: 7, keyword: "virtual_router_id",
                    "vrrp 'other': virtual_router_id 51 is also vrrp 'vip''s (line 1), on the same interface and udp_port")
        expectError(vrrp + "    auth none\n" + other.replacingOccurrences(of: "192.168.122.20/24", with: "192.168.122.10/32"), line: 7, keyword: "virtual_ipaddress",
                    "vrrp 'other': 192.168.122.10 is also a virtual address of vrrp 'vip' (line 1)")
        expectError(vrrp.replacingOccurrences(of: "    unicast_peer 192.168.122.12\n", with: "") + "    auth none\n", line: 1, keyword: "auth",
                    "multicast advertisements (no 'unicast_peer') need 'auth_key_file FILE'")
        expectError("vrrp_instance VI_1\n", line: 1, keyword: "{", "a keepalived block opener without '{'")
        expectError("vrrp_instance VI_1\nglobal\n    maxconn 10\n", line: 1, keyword: "{", "'vrrp_instance VI_1' opens a keepalived block: '{' expected")
        expectError("vrrp vip\n    virtual_router_id 51\n    virtual_ipaddress 192.168.122.10/24\n    unicast_peer 192.168.122.12\n    auth none\n",
                    line: 1, keyword: "interface", "missing 'interface IF'")
    }

    func testKeywordsOfLaterWorkAreRefusedNotIgnored() {
        expectError(fe + "    tcp-check send-binary 5x\n", line: 6, keyword: "tcp-check", "expects hex digits")
        expectError(fe + "    tcp-check expect body x\n", line: 6, keyword: "tcp-check", "unsupported 'tcp-check expect' match 'body'")
        expectError(fe + "    tcp-check sned x\n", line: 6, keyword: "tcp-check", "did you mean 'send'?")
        expectError(fe + "    tcp-check connect sssl\n", line: 6, keyword: "tcp-check", "'tcp-check connect' expects default, port, addr, send-proxy, via-socks4, ssl, sni, alpn, linger, proto or comment, not 'sssl'")
        expectError(fe + "    option httpchk\n    option tcp-check\n", line: 4, keyword: "option", "both 'option httpchk' and 'option tcp-check'")
        expectError("global\n    pidfile a\\x4\n", line: 2, keyword: "pidfile", "invalid \\x escape")
        expectError(fe + "    server t 127.0.0.1:81 slowstart soon\n", line: 6, keyword: "server", "'slowstart' expects a time")
        expectError(fe + "    server t 127.0.0.1:81 observe layer7\n", line: 6, keyword: "server", "'observe' needs 'check'")
        expectError(fe + "    server t 127.0.0.1:81 check observe layer9\n", line: 6, keyword: "server", "'observe' expects layer4 or layer7")
        expectError(fe + "    server t 127.0.0.1:81 check on-error explode\n", line: 6, keyword: "server", "'on-error' expects fastinter")
        expectError(fe + "    server t 127.0.0.1:81 maxconn 0\n", line: 6, keyword: "server", "'maxconn' expects a number from 1")
        expectError(fe + "    retry-on conn-failur\n", line: 6, keyword: "retry-on", "did you mean 'conn-failure'?")
        expectError(fe + "    retry-on\n", line: 6, keyword: "retry-on", "expects one or more conditions")
        expectError(fe + "    cookie S insert maxidle 10ms\n", line: 6, keyword: "cookie", "'maxidle' expects a time of at least 1s")
        expectError(fe + "    cookie S rewrite maxlife 1h\n", line: 6, keyword: "cookie", "only apply to 'insert'")
        expectError(fe + "    balance hash req.cook(x)\n", line: 6, keyword: "balance", "algorithm 'hash': 'balance hash EXPRESSION' is not implemented")
        // HAProxy's messages, word for word.
        expectError(fe + "    balance rdp-cookie()\n", line: 6, keyword: "balance", "balance rdp-cookie : missing cookie name.")
        expectError(fe + "    persist rdp-cookie()\n", line: 6, keyword: "persist", "persist rdp-cookie(name)' requires an rdp cookie name.")
        expectError(fe + "    persist cookie\n", line: 6, keyword: "persist", "unknown persist method.")
        expectError(fe + "    persist\n", line: 6, keyword: "persist", "missing persist method.")
        expectError(fe + "    balance uri len x\n", line: 6, keyword: "balance", "'uri len' expects a positive number")
        expectError(fe + "    balance uri deep 2\n", line: 6, keyword: "balance", "'uri': unknown option 'deep'")
        expectError(fe + "    balance url_param\n", line: 6, keyword: "balance", "'url_param' expects a parameter name")
        expectError(fe + "    balance hdr()\n", line: 6, keyword: "balance", "'hdr()' expects a header name")
        expectError(fe + "    balance roundrobin fast\n", line: 6, keyword: "balance", "'roundrobin' takes no options")
        expectError(fe + "    hash-type jumbo\n", line: 6, keyword: "hash-type", "expects 'consistent' or 'map-based'")
        expectError(fe + "    server t 127.0.0.1:81 ssl verify required\n", line: 6, keyword: "server", "verify is enabled by default but no CA file specified.")
        expectError(fe + "    server t 127.0.0.1:81 ssl verify maybe\n", line: 6, keyword: "server", "'verify' expects none or required")
        expectError(fe.replacingOccurrences(of: "fe\n", with: "fe\n    mode http\n") + "    mode tcp\n", line: 1, keyword: "default_backend",
                    "http frontend 'fe' (lb.conf:1) tries to use incompatible tcp backend 'b' (lb.conf:5) as its default backend (see 'mode')")
    }

    /// A proxy whose mode is written nowhere is `mode tcp`, HAProxy's default, whoever uses it;
    /// `mode http` in its defaults (named or not) counts; an http frontend is refused a tcp
    /// backend with HAProxy's words, a tcp frontend may use an http one (the implicit upgrade).
    func testAProxyOfNoWrittenModeIsTCPAsInHAProxy() throws {
        let t = "defaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
        let tcp = "frontend ft\n    mode tcp\n    bind 127.0.0.1:1\n    default_backend b\n"
        let http = "frontend fh\n    mode http\n    bind 127.0.0.1:2\n    use_backend b if TRUE\n"
        let backend = "backend b\n    server s 127.0.0.1:3\n"
        var c = try ConfigParser.parse(text: t + tcp + backend, file: "lb.conf")
        XCTAssertEqual(c.backends["b"]?.options.mode, .tcp)
        c = try ConfigParser.parse(text: t + backend + "listen l\n    bind 127.0.0.1:4\n    server s 127.0.0.1:3\n", file: "lb.conf")
        XCTAssertEqual(c.backends["b"]?.options.mode, .tcp, "no user")
        XCTAssertEqual(c.frontends.first?.options.mode, .tcp, "a mode-less listen")
        c = try ConfigParser.parse(text: t + tcp + "backend b\n    mode http\n    server s 127.0.0.1:3\n", file: "lb.conf")
        XCTAssertEqual(c.backends["b"]?.options.mode, .http, "a written mode is kept (the implicit upgrade)")
        c = try ConfigParser.parse(text: "defaults\n    mode http\n" + t.dropFirst(9) + tcp + backend, file: "lb.conf")
        XCTAssertEqual(c.backends["b"]?.options.mode, .http, "a mode written in the defaults counts")
        c = try ConfigParser.parse(text: "defaults web\n    mode http\n" + t.dropFirst(9) + tcp + "backend b from web\n    server s 127.0.0.1:3\n", file: "lb.conf")
        XCTAssertEqual(c.backends["b"]?.options.mode, .http, "and in a named one")
        XCTAssertEqual(c.frontends.first?.options.mode, .tcp)
        c = try ConfigParser.parse(text: "defaults web\n    mode http\n" + t + "backend b from web\n    server s 127.0.0.1:3\nbackend c\n    server s 127.0.0.1:3\n", file: "lb.conf")
        XCTAssertEqual(c.backends["c"]?.options.mode, .tcp, "a later anonymous defaults section starts from tcp")
        expectError(t + http + backend, line: 8, keyword: "use_backend",
                    "http frontend 'fh' (lb.conf:5) tries to use incompatible tcp backend 'b' (lb.conf:9) in a 'use_backend' rule (see 'mode')")
        expectError(t + "frontend fh\n    mode http\n    bind 127.0.0.1:2\n    default_backend b\n" + backend, line: 5, keyword: "default_backend",
                    "http frontend 'fh' (lb.conf:5) tries to use incompatible tcp backend 'b' (lb.conf:9) as its default backend (see 'mode')")
    }

    func testKeywordsInTheWrongSection() {
        expectError("frontend f\n    bind :80\n    server s 1.2.3.4:80\n", line: 3, keyword: "server", "not allowed in a 'frontend' section")
        expectError("defaults\n    use_backend b if TRUE\n", line: 2, keyword: "use_backend", "not allowed in a 'defaults' section")
        expectError("    bind :80\n", line: 1, keyword: "bind", "outside of any section")
    }

    func testTLSRedirectAndResponseRuleErrors() {
        expectError("frontend f\n    bind :443 ssl\n", line: 2, keyword: "bind", "'ssl' needs a certificate")
        expectError("frontend f\n    bind :443 crt x.pem\n", line: 2, keyword: "bind", "TLS parameters without 'ssl'")
        expectError("frontend f\n    bind :443 ssl crt\n", line: 2, keyword: "bind", "'crt' expects a value")
        expectError("frontend f\n    bind :443 ssl crt x.pem ssl-min-ver TLSv1.4\n", line: 2, keyword: "bind", "'ssl-min-ver' expects one of SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3")
        expectError("frontend f\n    bind :443 ssl crt x.pem verify required\n", line: 2, keyword: "bind", "'verify required' needs 'ca-file FILE'")
        expectError("frontend f\n    bind :443 ssl crt x.pem alpm h2\n", line: 2, keyword: "bind", "did you mean 'alpn'?")
        expectError("frontend f\n    bind :80\n    redirect scheme ftp\n", line: 3, keyword: "redirect", "scheme must be http or https")
        expectError("frontend f\n    bind :80\n    redirect location /x set-cookie a=b\n", line: 3, keyword: "redirect", "'set-cookie' is not supported")
        expectError("frontend f\n    bind :80\n    http-request redirect code 301\n", line: 3, keyword: "http-request", "expects 'redirect location URL")
        expectError("frontend f\n    bind :80\n    acl x hdr(host),lower -m found\n", line: 3, keyword: "acl", "'hdr(host),lower': an ACL on a sample expression needs SwiftLB's rules")
        expectError("frontend f\n    bind :80\n    redirect scheme https code 200\n", line: 3, keyword: "redirect", "'code' must be 301")
        expectError("frontend f\n    bind :80\n    acl x ssl_fc 1\n", line: 3, keyword: "acl", "'ssl_fc' is a boolean")
        expectError("defaults\n    redirect scheme https\n", line: 2, keyword: "redirect", "not allowed in a 'defaults' section")
        expectError("global\n    ssl-default-bind-options force-tlsv14\n", line: 2, keyword: "ssl-default-bind-options", "unknown ssl-default-bind-options option 'force-tlsv14'")
    }

    func testHealthCheckAndCookieErrors() {
        expectError(fe + "    server t 127.0.0.1:81 check inter fast\n", line: 6, keyword: "server", "'inter' expects a time such as 2s, got 'fast'")
        expectError(fe + "    server t 127.0.0.1:81 check rise 0\n", line: 6, keyword: "server", "'rise' expects a number from 1 to 1000")
        expectError(fe + "    server t 127.0.0.1:81 cookie a;b\n", line: 6, keyword: "server", "may not contain")
        expectError(fe + "    server t 127.0.0.1:81 check fall\n", line: 6, keyword: "server", "'fall' expects a value")
        expectError(fe + "    http-check expect status 2xx\n", line: 6, keyword: "http-check", "'status' expects codes and ranges separated by commas, e.g. 200,201-299 (got '2xx')")
        expectError(fe + "    http-check expect rstring ^(bad\n", line: 6, keyword: "http-check", "invalid regular expression")
        expectError(fe + "    http-check expect body x\n", line: 6, keyword: "http-check", "unsupported 'http-check expect' match 'body'")
        expectError(fe + "    http-check sned hdr A b\n", line: 6, keyword: "http-check", "did you mean 'send'?")
        expectError(fe + "    http-check send hdr Host\n", line: 6, keyword: "http-check", "'hdr' expects NAME VALUE")
        expectError(fe + "    http-check expect status 300-200\n", line: 6, keyword: "http-check", "invalid range of status codes '300-200'")
        expectError(fe + "    http-check expect hdr name -m nope x\n", line: 6, keyword: "http-check", "'-m' expects str, beg, end, sub or reg")
        expectError(fe + "    http-check expect hdr value x\n", line: 6, keyword: "http-check", "expects 'name[-lf] [-m str|beg|end|sub|reg] PATTERN' (got 'value')")
        expectError(fe + "    http-check expect ok-status L7STS status 200\n", line: 6, keyword: "http-check", "'ok-status' only supports L7OK, L7OKC, L6OK, L4OK (got 'L7STS')")
        expectError(fe + "    http-check expect hdr name-lf %[req.hdr(host)]\n", line: 6, keyword: "http-check", "unsupported check sample 'req.hdr'")
        expectError(fe + "    http-check set-var(txn.x) str(a)\n", line: 6, keyword: "http-check", "only 'check.' variables are supported in health checks (got 'txn.x')")
        expectError(fe + "    http-check send-state now\n", line: 6, keyword: "http-check", "takes no argument")
        expectError(fe + "    option httpchk GET health\n", line: 6, keyword: "option", "the URI must start with '/'")
        expectError(fe + "    acl bots hdr(user-agent) -i -f /nonexistent/agents.lst\n", line: 6, keyword: "acl", "failed to open pattern file </nonexistent/agents.lst>")
        expectError(fe + "    option redispatch 3\n", line: 6, keyword: "option", "takes no argument")
        expectError(fe + "    cookie SERVERID\n", line: 6, keyword: "cookie", "expects a mode after the name")
        expectError(fe + "    cookie SERVERID insert indirekt\n", line: 6, keyword: "cookie", "did you mean 'indirect'?")
        expectError(fe + "    cookie SERVERID rewrite postonly\n", line: 6, keyword: "cookie", "'postonly' only applies to 'insert'")
        expectError(fe + "    balance random(99)\n", line: 6, keyword: "balance", "unknown algorithm 'random(99)'")
        expectError(fe + "    balance lestconn\n", line: 6, keyword: "balance", "did you mean 'leastconn'?")
    }

    func testBadValues() {
        expectError("global\n    maxconn -1\n", line: 2, keyword: "maxconn", "a number from 1 to 2147483647")
        // HAProxy's timers are milliseconds in an int (a longer one crashed the checker's spread).
        expectError("backend b\n    server s 127.0.0.1:80 check inter 100000d\n", line: 2, keyword: "server", "timer overflow")
        expectError("global\n    stats enable\n", line: 2, keyword: "stats", "is not allowed in a 'global' section")
        expectError("global\n    stats socket /x mode 999\n", line: 2, keyword: "stats", "'mode' expects an octal mode")
        expectError("global\n    stats socket /x level root\n", line: 2, keyword: "stats", "'level' expects user, operator or admin")
        expectError("global\n    stats socket /x exposefd listeners\n", line: 2, keyword: "stats", "unknown stats socket parameter 'exposefd' (did you mean 'expose-fd'?)")
        expectError("global\n    nbthread 1000\n", line: 2, keyword: "nbthread", "at most 64")
        expectError("global\n    log 127.0.0.1:514 local9\n", line: 2, keyword: "log", "unknown facility 'local9'")
        expectError(fe + "    timeout server 5q\n", line: 6, keyword: "timeout", "invalid time '5q'")
        expectError(fe + "    server t 127.0.0.1:http\n", line: 6, keyword: "server", "invalid address '127.0.0.1:http'")
        expectError(fe + "    server t 127.0.0.1:70000\n", line: 6, keyword: "server", "invalid address")
        expectError(fe + "    server s 127.0.0.1:81\n", line: 6, keyword: "server", "a server named 's' already exists in backend 'b' (line 5)")
        expectError(fe + "    server t 127.0.0.1:81 weight 300\n", line: 6, keyword: "server", "'weight' expects a number from 0 to 256")
        expectError(fe + "    retries many\n", line: 6, keyword: "retries", "0 to 100")
        expectError("frontend f\n    bind nowhere\n", line: 2, keyword: "bind", "invalid address 'nowhere'")
        expectError("frontend f\n    bind :80\n    mode ftp\n", line: 3, keyword: "mode", "unknown mode 'ftp'")
        expectError(fe + "    log 10.0.0.1\n", line: 6, keyword: "log", "a syslog target needs a facility, e.g. 'log 10.0.0.1 local0'")
        expectError("frontend f\n    bind :80\n    option httplog json\n", line: 3, keyword: "option", "option httplog")
        expectError(fe + "    default-server weight x\n", line: 6, keyword: "default-server", "'weight' expects")
    }

    func testACLAndConditionErrors() {
        let head = "frontend f\n    bind :80\n    default_backend b\n"
        let tail = "backend b\n    server s 127.0.0.1:1\n"
        expectError(head + "    acl bad path_reg ^(unclosed\n" + tail, line: 4, keyword: "acl", "invalid regular expression '^(unclosed'")
        expectError(head + "    acl a path_beg\n" + tail, line: 4, keyword: "acl", "no pattern")
        expectError(head + "    acl a hdr() x\n" + tail, line: 4, keyword: "acl", "needs a header name")
        expectError(head + "    acl a path_beg -z /x\n" + tail, line: 4, keyword: "acl", "unsupported ACL flag '-z'")
        expectError(head + "    acl a path_beg -m nope /x\n" + tail, line: 4, keyword: "acl", "'-m' needs one of")
        expectError(head + "    acl 'a b' path_beg /x\n" + tail, line: 4, keyword: "acl", "invalid ACL name")
        expectError(head + "    acl api path_beg /api\n    use_backend b if apii\n" + tail, line: 5, keyword: "use_backend", "no ACL named 'apii' is declared before this line (did you mean 'api'?)")
        expectError(head + "    use_backend b when TRUE\n" + tail, line: 4, keyword: "use_backend", "expected 'if' or 'unless'")
        expectError(head + "    use_backend b if TRUE ||\n" + tail, line: 4, keyword: "use_backend", "ends with '||'")
        expectError(head + "    use_backend b if { path_beg /x\n" + tail, line: 4, keyword: "use_backend", "'{' without a matching '}'")
        expectError(head + "    http-request set-header X %T\n" + tail, line: 4, keyword: "http-request", "only %[fetch], %{+Q}[fetch] and %% are supported")
        expectError(head + "    http-request set-header X\n" + tail, line: 4, keyword: "http-request", "expects NAME VALUE")
        expectError(head + "    http-request set-header Bad:Name x\n" + tail, line: 4, keyword: "http-request", "invalid header name 'Bad:Name'")
        expectError(head + "    http-request set-header X \"a\u{01}b\"\n" + tail, line: 4, keyword: "http-request", "control characters")
    }

    func testCrossSectionErrors() throws {
        expectError("frontend f\n    bind :80\n    default_backend nodes\nbackend node\n    server s 127.0.0.1:1\n",
                    line: 3, keyword: "default_backend", "no backend named 'nodes' (did you mean 'node'?)")
        XCTAssertTrue(try ConfigParser.parse(text: "frontend f\n    default_backend b\nbackend b\n", file: "lb.conf").warnings
            .contains { $0.line == 1 && $0.message == "frontend 'f' has no 'bind' directive. Please declare it as a backend if this was intended." },
                      "HAProxy's warning, not an error")
        expectError("frontend f\n    bind :80\nfrontend g\n    bind :80\n", line: 4, keyword: "bind", ":80 is already bound by frontend 'f'")
        // HAProxy: "MUX protocol 'h2' is not usable for server 's1'": an h2 stream needs HTTP.
        expectError("frontend f\n    mode tcp\n    bind :80\n    default_backend b\nbackend b\n    mode tcp\n    server s1 127.0.0.1:1 proto h2\n",
                    line: 7, keyword: "server", "MUX protocol 'h2' is not usable for server 's1' of 'mode tcp' backend 'b'")
        expectError("backend b\nbackend b\n", line: 2, keyword: "backend", "a backend named 'b' already exists (line 1)")
        expectError("frontend f\n    bind :80\nfrontend f\n", line: 3, keyword: "frontend", "a frontend named 'f' already exists")
        expectError("frontend\n", line: 1, keyword: "frontend", "missing name")
        expectError("global\n    pidfile \"unterminated\n", line: 2, keyword: "pidfile", "unterminated quote")
    }

    func testAllErrorsOfAFileAreReportedAtOnce() {
        do {
            _ = try ConfigParser.parse(text: "global\n    maxcon 1\n    nbthred 2\nfrontend f\n    bind :80\n    balanse roundrobin\n", file: "x.conf")
            XCTFail("expected errors")
        } catch {
            XCTAssertEqual(error.errors.map(\.line), [2, 3, 6])
        }
    }

    func testAMissingOrUnreadableFileIsNamedAsSuch() {
        XCTAssertThrowsError(try ConfigParser.parse(contentsOf: "/nonexistent/lb.conf")) { error in
            let e = (error as! ConfigErrors).errors[0]
            XCTAssertEqual(e.file, "/nonexistent/lb.conf")
            XCTAssertEqual(e.description, "Cannot open configuration file/directory /nonexistent/lb.conf : No such file or directory")
            XCTAssertEqual(e.rendered(.alert, pid: 7),
                           "[ALERT]    (7) : config : Cannot open configuration file/directory /nonexistent/lb.conf : No such file or directory")
        }
        XCTAssertThrowsError(try ConfigParser.parse(contentsOf: "/tmp")) { error in
            XCTAssertTrue((error as! ConfigErrors).errors[0].description.contains("/tmp : is a directory"), "\(error)")
        }
    }

    /// The shape of haproxy's messages, so its greps and tools read ours.
    func testMessagesHaveHAProxysShape() {
        let e = ConfigError(file: "lb.conf", line: 5, keyword: "balanse", message: "unknown keyword in 'backend' section")
        XCTAssertEqual(e.rendered(.alert, pid: 42), "[ALERT]    (42) : config : parsing [lb.conf:5] : 'balanse' : unknown keyword in 'backend' section")
        XCTAssertEqual(e.rendered(.warning, pid: 42), "[WARNING]  (42) : config : parsing [lb.conf:5] : 'balanse' : unknown keyword in 'backend' section")
        XCTAssertEqual(ConfigError.rendered(.notice, pid: 1, "a\nb"), "[NOTICE]   (1) : config : a\n   | b")
    }
}
