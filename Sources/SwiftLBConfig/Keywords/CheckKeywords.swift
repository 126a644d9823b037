import SwiftLBRegex

/// Active health checks: `option httpchk` with `http-check …`, `option tcp-check` with
/// `tcp-check …` (run by SwiftLBHealth).
extension KeywordRegistry {
    static let checkKeywords: [Keyword] = [
        Keyword("option httpchk", SectionKind.backSide, usage: "option httpchk [METHOD] [URI] [VERSION]") { p, c in
            // HAProxy's order; one word is the URI. The option starts the check afresh (what a
            // defaults section's `http-check send` added is dropped); only disable-on-404 stays.
            var check = HTTPCheck()
            check.disableOn404 = p.options.httpCheck?.disableOn404 ?? false
            check.fromDefaults = c.section == .defaults
            check.order = (p.options.httpCheck?.order ?? HTTPCheckRuleOrder()).afterOption(inDefaults: c.section == .defaults)
            switch c.args.count {
            case 0: break
            case 1: check.uri = c.args[0]
            case 2: check.method = c.args[0]; check.uri = c.args[1]
            case 3:
                check.method = c.args[0]; check.uri = c.args[1]
                // HAProxy 1.x's trick: headers after the version, `HTTP/1.1\r\nHost:\ www`.
                // ("\r\n" is one Character.)
                let lines = c.args[2].split(separator: "\r\n", omittingEmptySubsequences: false)
                check.version = String(lines[0])
                for line in lines.dropFirst() where !line.isEmpty {
                    guard let colon = line.firstIndex(of: ":"), isHeaderToken(String(line[..<colon])) else {
                        throw ParseFailure("option httpchk: '\(line)' after the version is not a header line")
                    }
                    let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
                    check.headers.append((String(line[..<colon]), String(value.reversed().drop { $0 == " " || $0 == "\t" }.reversed())))
                }
            default: throw ParseFailure("option httpchk takes at most METHOD URI VERSION")
            }
            guard check.uri.hasPrefix("/") || check.uri == "*" else { throw ParseFailure("option httpchk: the URI must start with '/'") }
            p.withOptions { $0.httpCheck = check; $0.protocolCheck = nil }
        },
        Keyword("option tcp-check", SectionKind.backSide, usage: "option tcp-check") { p, c in
            guard c.args.isEmpty else { throw ParseFailure("option tcp-check takes no argument") }
            p.withOptions { if $0.tcpCheck == nil { $0.tcpCheck = [] }; $0.protocolCheck = nil }
        },
        // HAProxy's Redis check (SwiftLBHealth/RedisCheck.swift).
        Keyword("option redis-check", SectionKind.backSide, usage: "option redis-check") { p, c in
            try c.noArguments()
            p.withOptions { $0.useProtocolCheck(.redis) }
        },
        // HAProxy's SPOE agent check (SwiftLBHealth/SPOPCheck.swift).
        Keyword("option spop-check", SectionKind.backSide, usage: "option spop-check") { p, c in
            try c.noArguments()
            p.withOptions { $0.useProtocolCheck(.spop) }
        },
        // HAProxy's pgsql-check (SwiftLBHealth/PostgresCheck.swift): a StartupMessage and an
        // authentication request back. (Telling a primary from a standby takes a query: see
        // docs/configuration.md, 'option pgsql-check'.)
        Keyword("option pgsql-check", SectionKind.backSide, usage: "option pgsql-check user NAME") { p, c in
            guard c.args.count == 2, c.args[0] == "user", !c.args[1].isEmpty, !c.args[1].utf8.contains(0) else {
                throw ParseFailure("expects 'option pgsql-check user NAME'")
            }
            let user = c.args[1]
            p.withOptions {
                $0.pgsqlCheckUser = user
                $0.useProtocolCheck(.pgsql(user: user))
            }
        },
        // HAProxy's MySQL check (SwiftLBHealth/MySQLCheck.swift): the greeting, or a login
        // without password answered OK, then QUIT.
        Keyword("option mysql-check", SectionKind.backSide, usage: "option mysql-check [user NAME [post-41|pre-41]]") { p, c in
            guard c.args.isEmpty || (c.args.count >= 2 && c.args[0] == "user" && c.args.count <= 3) else {
                throw ParseFailure("expects 'option mysql-check [user NAME [post-41|pre-41]]'")
            }
            guard c.args.count < 3 || ["post-41", "pre-41"].contains(c.args[2]) else {
                throw ParseFailure("'user' only supports 'post-41' and 'pre-41' (got '\(c.args[2])')")
            }
            guard c.args.count < 2 || (!c.args[1].isEmpty && !c.args[1].utf8.contains(0) && c.args[1].utf8.count < 200) else {
                throw ParseFailure("'option mysql-check user' expects a user name")
            }
            let check = ProtocolCheck.mysql(user: c.args.count >= 2 ? c.args[1] : nil, post41: c.args.count < 3 || c.args[2] == "post-41")
            p.withOptions { $0.useProtocolCheck(check) }
        },
        // HAProxy's SMTP check (SwiftLBHealth/SMTPCheck.swift).
        Keyword("option smtpchk", SectionKind.backSide, usage: "option smtpchk [HELO|EHLO DOMAIN]") { p, c in
            var command = "HELO localhost"
            if !c.args.isEmpty {
                guard c.args.count == 2, ["HELO", "EHLO"].contains(c.args[0]), !c.args[1].contains(where: { $0 == "\r" || $0 == "\n" }) else {
                    throw ParseFailure("expects 'option smtpchk [HELO|EHLO DOMAIN]'")
                }
                command = "\(c.args[0]) \(c.args[1])"
            }
            p.withOptions { $0.useProtocolCheck(.smtp(command: command)) }
        },
        // HAProxy's LDAP check (SwiftLBHealth/LDAPCheck.swift).
        Keyword("option ldap-check", SectionKind.backSide, usage: "option ldap-check") { p, c in
            try c.noArguments()
            p.withOptions { $0.useProtocolCheck(.ldap) }
        },
        // HAProxy's SSL hello check (SwiftLBHealth/SSLHelloCheck.swift).
        Keyword("option ssl-hello-chk", SectionKind.backSide, usage: "option ssl-hello-chk") { p, c in
            try c.noArguments()
            p.withOptions { $0.useProtocolCheck(.sslHello) }
        },
        Keyword("http-check send", SectionKind.backSide, usage: "http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]… [body TEXT]") { p, c in
            // HAProxy: a proxy's own send starts from scratch rather than from a defaults
            // section's check; within one section it completes what `option httpchk` said,
            // its headers (if any) replacing the option's.
            let inherited = p.options.httpCheck
            var order = inherited?.order ?? HTTPCheckRuleOrder()
            try order.add(.send, inDefaults: c.section == .defaults)
            var check = inherited.map { $0.fromDefaults && c.section != .defaults ? HTTPCheck() : $0 } ?? HTTPCheck()
            check.order = order
            check.disableOn404 = inherited?.disableOn404 ?? false
            check.fromDefaults = c.section == .defaults
            var sent = HTTPCheck()
            try httpCheckSend.parse(c.args[...], into: &sent, parser: p)
            let words = Set(c.args)
            if words.contains("meth") { check.method = sent.method }
            if words.contains("uri") { check.uri = sent.uri }
            if words.contains("ver") { check.version = sent.version }
            if !sent.headers.isEmpty { check.headers = sent.headers }
            if let body = sent.body { check.body = body }
            p.withOptions { $0.httpCheck = check; $0.protocolCheck = nil }
        },
        Keyword("http-check expect", SectionKind.backSide,
                usage: "http-check expect [min-recv N] [comment C] [ok-status S] [error-status S] [tout-status S] [!] status|rstatus|string|rstring|hdr|fhdr PATTERN") { p, c in
            var check = p.options.httpCheck ?? HTTPCheck()
            try check.order.add(.expect, inDefaults: c.section == .defaults)
            var expect = try httpCheckExpect(c.args)
            expect.assignments = check.pendingAssignments
            check.pendingAssignments = []
            check.expects.append(expect)
            p.withOptions { $0.httpCheck = check }
        },
        // HAProxy 2.2+'s sequence form, as far as one request per check goes: one `connect`
        // before the `send`/`expect` rules says where the check connects (SwiftLB's check is
        // one connection, one request: a second `connect` would be a second request).
        Keyword("http-check connect", SectionKind.backSide, usage: "http-check connect " + connectUsage) { p, c in
            var check = p.options.httpCheck ?? HTTPCheck()
            var order = check.order
            try order.add(.connect, inDefaults: c.section == .defaults)
            if check.fromDefaults && c.section != .defaults {
                var fresh = HTTPCheck()
                fresh.disableOn404 = check.disableOn404
                check = fresh
            }
            check.order = order
            guard check.connect == nil, check.expects.isEmpty else {
                throw ParseFailure("SwiftLB runs one request per HTTP check: one 'http-check connect', before the 'http-check send' and 'expect' rules (a second connection is not supported)")
            }
            let connect = try checkConnect(c.args, verb: "http-check connect", allowSendProxy: true)
            // HAProxy speaks HTTP/2 to a check that negotiates h2; SwiftLB's checks speak HTTP/1.
            guard !(connect.ssl && connect.alpn?.contains("h2") == true) else {
                throw ParseFailure("'http-check connect alpn' with h2 is not supported by SwiftLB: its HTTP checks speak HTTP/1.1 only (offer 'alpn http/1.1')")
            }
            check.connect = connect
            check.fromDefaults = c.section == .defaults
            p.withOptions { $0.httpCheck = check; $0.protocolCheck = nil }
        },
        // A 404 to the check puts an UP server in NOLB (HAProxy's "stopping"): sticky clients
        // stay, no new ones (SwiftLBHealth/HealthChecker.swift).
        Keyword("http-check disable-on-404", SectionKind.backSide, usage: "http-check disable-on-404") { p, c in
            try c.noArguments()
            var check = p.options.httpCheck ?? HTTPCheck()
            check.disableOn404 = true
            p.withOptions { $0.httpCheck = check }
        },
        // HAProxy's X-Haproxy-Server-State header on every check (HealthProbe.requestBytes).
        Keyword("http-check send-state", SectionKind.backSide, usage: "http-check send-state") { p, c in
            try c.noArguments()
            var check = p.options.httpCheck ?? HTTPCheck()
            check.sendState = true
            p.withOptions { $0.httpCheck = check }
        },
        // Check variables for the expect rules after them (str, res.hdr, res.fhdr, var only).
        Keyword("http-check set-var", SectionKind.backSide, usage: "http-check set-var(check.NAME) str(TEXT)|res.hdr(NAME)|res.fhdr(NAME)|var(check.NAME)") { p, c in
            let name = try checkVariableName(c.words, verb: "set-var")
            guard c.args.count == 1 else { throw ParseFailure("'set-var(\(name))' expects one expression (quote it if it has blanks)") }
            let sample = try checkSample(c.args[0])
            var check = p.options.httpCheck ?? HTTPCheck()
            check.order.addAction(inDefaults: c.section == .defaults)
            check.pendingAssignments.append(.init(name: name, value: sample))
            p.withOptions { $0.httpCheck = check }
        },
        Keyword("http-check unset-var", SectionKind.backSide, usage: "http-check unset-var(check.NAME)") { p, c in
            let name = try checkVariableName(c.words, verb: "unset-var")
            guard c.args.isEmpty else { throw ParseFailure("'unset-var(\(name))' takes no expression") }
            var check = p.options.httpCheck ?? HTTPCheck()
            check.order.addAction(inDefaults: c.section == .defaults)
            check.pendingAssignments.append(.init(name: name, value: nil))
            p.withOptions { $0.httpCheck = check }
        },
        Keyword("http-check comment", SectionKind.backSide, status: .unsupported("check comments are not supported"), parse: nil),
        // Each connect closes the previous connection and opens one (elsewhere, over TLS…).
        tcpCheck("connect", usage: "tcp-check connect " + connectUsage) { steps, args in
            steps.append(.connect(try checkConnect(args, verb: "tcp-check connect")))
        },
        tcpCheck("send", usage: "tcp-check send TEXT") { steps, args in
            guard args.count == 1 else { throw ParseFailure("'tcp-check send' expects one string (quote it if it has blanks)") }
            steps.append(.send(Array(args[0].utf8)))
        },
        tcpCheck("send-binary", usage: "tcp-check send-binary HEX") { steps, args in
            guard args.count == 1, let bytes = hexBytes(args[0]) else { throw ParseFailure("'tcp-check send-binary' expects hex digits, e.g. 50494e470d0a") }
            steps.append(.send(bytes))
        },
        tcpCheck("expect", usage: "tcp-check expect [min-recv N] [!] string|rstring|binary VALUE [comment TEXT]") { steps, args in
            var rest = args
            var negated = false
            var minRecv: Int?
            var comment: String?
            if rest.count >= 2, rest[0] == "min-recv" {
                guard let n = Int(rest[1]), n >= -1 else { throw ParseFailure("'min-recv' expects a number of bytes") }
                minRecv = n < 0 ? nil : n
                rest.removeFirst(2)
            }
            if rest.first == "!" { negated = true; rest.removeFirst() }
            if rest.first?.hasPrefix("!") == true, rest.first != "!" { negated = true; rest[0].removeFirst() }
            if rest.count == 4, rest[2] == "comment" { comment = rest[3]; rest.removeLast(2) }
            guard rest.count == 2 else { throw ParseFailure("expects 'tcp-check expect [min-recv N] [!] string|rstring|binary VALUE [comment TEXT]'") }
            let match: TCPCheckMatch
            switch rest[0] {
            case "string": match = .string(Array(rest[1].utf8))
            case "rstring":
                do { _ = try PCRE2Regex(rest[1]) } catch { throw ParseFailure("invalid regular expression '\(rest[1])': \(error)") }
                match = .rstring(rest[1])
            case "binary":
                guard let bytes = hexBytes(rest[1]) else { throw ParseFailure("'binary' expects hex digits") }
                match = .binary(bytes)
            default:
                throw ParseFailure("unsupported 'tcp-check expect' match '\(rest[0])' (supported: string, rstring, binary)")
            }
            steps.append(.expect(negated: negated, match: match, minRecv: minRecv, comment: comment))
        },
    ] + ["comment", "set-var", "unset-var", "send-lf", "send-binary-lf", "action"].map {
        Keyword.unsupported("tcp-check \($0)", SectionKind.backSide, "'tcp-check \($0)' is not supported")
    }

    static let connectUsage = "[default] [port N] [addr A[:P]] [send-proxy] [via-socks4] [ssl] [sni S] [alpn L] [linger] [proto h1] [comment C]"

    /// The options of `tcp-check connect` / `http-check connect` (HAProxy's `parse_tcpcheck_connect`).
    /// `allowSendProxy`: the HTTP check sends a PROXY header (HealthProbe); a tcp-check does not.
    static func checkConnect(_ args: [String], verb: String, allowSendProxy: Bool = false) throws(ParseFailure) -> TCPCheckConnect {
        var connect = TCPCheckConnect()
        var i = 0
        func value() throws(ParseFailure) -> String {
            guard i + 1 < args.count else { throw ParseFailure("'\(verb) \(args[i])' expects a value") }
            i += 1
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "default": connect.useServerSettings = true
            case "port":
                let text = try value()
                guard let port = Int(text), (1...65535).contains(port) else { throw ParseFailure("'\(verb) port' expects a port number (1-65535), not '\(text)'") }
                connect.port = port
            case "addr":
                let text = try value()
                // `addr A:P`: the port comes with it unless `port` names one.
                if let colon = text.lastIndex(of: ":"), !text.hasPrefix("["), text.firstIndex(of: ":") == colon {
                    guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
                        throw ParseFailure("'\(verb) addr' expects an address with an optional port, not '\(text)'")
                    }
                    connect.address = String(text[..<colon])
                    if connect.port == nil { connect.port = port }
                } else {
                    connect.address = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
                }
                guard IPNetwork.bytes(connect.address ?? "") != nil else { throw ParseFailure("'\(verb) addr' expects an IPv4 or IPv6 address, not '\(text)'") }
            case "send-proxy" where allowSendProxy: connect.sendProxy = true
            case "send-proxy":
                throw ParseFailure("'\(verb) send-proxy' is not supported by SwiftLB (checks connect directly, without a PROXY header)")
            case "via-socks4":
                throw ParseFailure("'\(verb) via-socks4' is not supported by SwiftLB (checks connect directly, not through the server's socks4 proxy)")
            case "ssl": connect.ssl = true
            case "sni": connect.sni = try value()
            case "alpn": connect.alpn = try KeywordRegistry.alpnList("\(verb) alpn", value())
            case "linger": connect.linger = true
            case "proto":
                let name = try value()
                guard name == "h1" else { throw ParseFailure("'\(verb) proto \(name)' is not supported by SwiftLB: checks speak HTTP/1 only ('proto h1')") }
            case "comment": _ = try value()
            default:
                throw ParseFailure("'\(verb)' expects default, port, addr, send-proxy, via-socks4, ssl, sni, alpn, linger, proto or comment, not '\(args[i])'")
            }
            i += 1
        }
        return connect
    }

    /// A `tcp-check VERB …` keyword: appends to the backend's sequence (which it enables).
    private static func tcpCheck(_ verb: String, usage: String,
                                 _ step: @escaping @Sendable (inout [TCPCheckStep], [String]) throws -> Void) -> Keyword {
        Keyword("tcp-check \(verb)", SectionKind.backSide, usage: usage) { p, c in
            var steps = p.options.tcpCheck ?? []
            try step(&steps, c.args)
            p.withOptions { $0.tcpCheck = steps }
        }
    }

    static let httpCheckSend = ParameterTable<HTTPCheck>("'http-check send' argument", [
        Parameter("hdr", values: 2, shape: "NAME VALUE") { check, v, _ in
            guard isHeaderToken(v[0]) else { throw ParseFailure("'hdr' expects NAME VALUE") }
            check.headers.append((v[0], v[1]))
        },
        Parameter("meth", values: 1) { check, v, _ in check.method = v[0] },
        Parameter("uri", values: 1) { check, v, _ in check.uri = v[0] },
        Parameter("ver", values: 1) { check, v, _ in check.version = v[0] },
        Parameter("body", values: 1) { check, v, _ in check.body = v[0] },
        .unsupported("body-lf", values: 1, "log-format check bodies are not supported"),
        .unsupported("hdr-lf", values: 2, "log-format check headers are not supported"),
        .unsupported("uri-lf", values: 1, "log-format check URIs are not supported"),
    ])

    /// HAProxy's check statuses an expect rule may end in, by option (`ok-status`…).
    static let expectStatuses = [
        "ok-status": ["L7OK", "L7OKC", "L6OK", "L4OK"],
        "error-status": ["L7RSP", "L7STS", "L6RSP", "L4CON"],
        "tout-status": ["L7TOUT", "L6TOUT", "L4TOUT"],
    ]

    /// One `http-check expect` rule: options first, then `[!] MATCH PATTERN…`.
    static func httpCheckExpect(_ args: [String]) throws(ParseFailure) -> HTTPCheck.Expect {
        // HAProxy takes the options before or after the match.
        var words: [String] = []
        var minRecv: Int?, comment: String?
        var statuses: [String: String] = [:]
        var negated = false
        var i = 0
        while i < args.count {
            let word = args[i]
            if word == "!" && words.isEmpty { negated = true; i += 1; continue }
            if ["on-success", "on-error", "status-code"].contains(word) {
                throw ParseFailure("'\(word)' (a log-format) is not supported in 'http-check expect'")
            }
            guard ["min-recv", "comment"].contains(word) || expectStatuses[word] != nil else { words.append(word); i += 1; continue }
            guard i + 1 < args.count else { throw ParseFailure("'\(word)' expects an argument") }
            let value = args[i + 1]
            switch word {
            case "min-recv":
                guard let n = Int(value), n >= -1 else { throw ParseFailure("'min-recv' expects -1 or an integer from 0 to INT_MAX") }
                minRecv = n < 0 ? nil : n
            case "comment": comment = value
            default:
                guard expectStatuses[word]!.contains(value) else {
                    throw ParseFailure("'\(word)' only supports \(expectStatuses[word]!.joined(separator: ", ")) (got '\(value)')")
                }
                statuses[word] = value
            }
            i += 2
        }
        var expect = HTTPCheck.Expect(try httpCheckExpectation(words), negated: negated)
        expect.minRecv = minRecv
        expect.comment = comment
        expect.okStatus = statuses["ok-status"]
        expect.errorStatus = statuses["error-status"]
        expect.timeoutStatus = statuses["tout-status"]
        return expect
    }

    static func httpCheckExpectation(_ args: [String]) throws(ParseFailure) -> HTTPCheck.Expectation {
        guard let kind = args.first else { throw ParseFailure("expects 'http-check expect [!] status|rstatus|string|rstring|hdr|fhdr PATTERN'") }
        if kind == "hdr" || kind == "fhdr" { return try headerExpectation(args.dropFirst(), fullLine: kind == "fhdr") }
        guard args.count == 2 else { throw ParseFailure("'\(kind)' expects one pattern (quote it if it has blanks)") }
        switch kind {
        case "status":
            // HAProxy's list: codes and ranges separated by commas, `200,201-299`.
            var ranges: [ClosedRange<Int>] = []
            for item in args[1].split(separator: ",", omittingEmptySubsequences: false) {
                let ends = item.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
                guard let lo = Int(ends[0]), let hi = ends.count == 2 ? Int(ends[1]) : lo, (0...999).contains(lo), (0...999).contains(hi) else {
                    throw ParseFailure("'status' expects codes and ranges separated by commas, e.g. 200,201-299 (got '\(args[1])')")
                }
                guard lo <= hi else { throw ParseFailure("invalid range of status codes '\(args[1])'") }
                ranges.append(lo...hi)
            }
            return .status(ranges)
        case "string": return .string(args[1])
        case "rstring", "rstatus":
            try validateRegex(args[1])
            return kind == "rstring" ? .rstring(args[1]) : .rstatus(args[1])
        case "string-lf", "rstring-lf", "status-lf":
            throw ParseFailure("log-format check expectations ('\(kind)') are not supported")
        default:
            throw ParseFailure("unsupported 'http-check expect' match '\(kind)' (supported: status, rstatus, string, rstring, hdr, fhdr)")
        }
    }

    /// `name [-m M] NAME [value [-m M] VALUE]` of `hdr` / `fhdr`.
    private static func headerExpectation(_ args: ArraySlice<String>, fullLine: Bool) throws(ParseFailure) -> HTTPCheck.Expectation {
        var rest = args
        func pattern(_ what: String) throws(ParseFailure) -> HTTPCheck.TextMatch {
            guard let word = rest.first else { throw ParseFailure("'\(what)' expects a pattern") }
            guard word == what || word == what + "-lf" else { throw ParseFailure("expects '\(what)[-lf] [-m str|beg|end|sub|reg] PATTERN' (got '\(word)')") }
            let logFormat = word.hasSuffix("-lf")
            rest.removeFirst()
            var method = HTTPCheck.TextMatch.Method.str
            if rest.first == "-m" {
                rest.removeFirst()
                guard let m = rest.first.flatMap(HTTPCheck.TextMatch.Method.init(rawValue:)) else {
                    throw ParseFailure("'-m' expects str, beg, end, sub or reg")
                }
                method = m
                rest.removeFirst()
            }
            guard let text = rest.first, !text.isEmpty else { throw ParseFailure("'\(what)' expects a pattern") }
            rest.removeFirst()
            if logFormat {
                guard method != .reg else { throw ParseFailure("'\(word)' does not take '-m reg'") }
                return HTTPCheck.TextMatch(method, text, format: try checkFormat(text))
            }
            if method == .reg { try validateRegex(text) }
            return HTTPCheck.TextMatch(method, text)
        }
        let name = try pattern("name")
        let value = rest.isEmpty ? nil : try pattern("value")
        guard rest.isEmpty else { throw ParseFailure("unexpected '\(rest.first!)' after the header pattern") }
        return .header(name: name, value: value, fullLine: fullLine)
    }

    /// `set-var(check.NAME)` → `check.NAME`.
    private static func checkVariableName(_ words: [String], verb: String) throws(ParseFailure) -> String {
        guard let word = words.first(where: { $0.hasPrefix(verb + "(") }), word.hasSuffix(")") else {
            throw ParseFailure("expects '\(verb)(check.NAME)'")
        }
        let name = String(word.dropFirst(verb.count + 1).dropLast())
        guard name.hasPrefix("check."), name.count > 6 else {
            throw ParseFailure("only 'check.' variables are supported in health checks (got '\(name)')")
        }
        return name
    }

    /// One sample fetch of the subset a check supports.
    static func checkSample(_ text: String) throws(ParseFailure) -> CheckSample {
        guard let open = text.firstIndex(of: "("), text.hasSuffix(")") else {
            throw ParseFailure("unsupported check sample '\(text)' (supported: str(), res.hdr(), res.fhdr(), var())")
        }
        let fetch = text[..<open]
        let argument = String(text[text.index(after: open)...].dropLast())
        switch fetch {
        case "str": return .string(argument)
        case "res.hdr", "res.fhdr":
            guard isHeaderToken(argument) else { throw ParseFailure("'\(fetch)' expects a header name") }
            return .responseHeader(argument, fullLine: fetch == "res.fhdr")
        case "var":
            guard argument.hasPrefix("check.") else { throw ParseFailure("only 'check.' variables are supported in health checks (got '\(argument)')") }
            return .variable(argument)
        default:
            throw ParseFailure("unsupported check sample '\(fetch)' (supported: str(), res.hdr(), res.fhdr(), var())")
        }
    }

    /// A check's log-format pattern: literal text and `%[SAMPLE]`.
    static func checkFormat(_ text: String) throws(ParseFailure) -> [CheckFormatPart] {
        var parts: [CheckFormatPart] = []
        var rest = text[...]
        while let start = rest.firstRange(of: "%[") {
            if start.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<start.lowerBound]))) }
            guard let end = rest[start.upperBound...].firstIndex(of: "]") else { throw ParseFailure("'%[' without ']' in '\(text)'") }
            parts.append(.sample(try checkSample(String(rest[start.upperBound..<end]))))
            rest = rest[rest.index(after: end)...]
        }
        if rest.contains("%") { throw ParseFailure("only %[SAMPLE] is supported in a check's log-format (got '\(text)')") }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        return parts
    }

    private static func validateRegex(_ pattern: String) throws(ParseFailure) {
        do { _ = try PCRE2Regex(pattern) } catch { throw ParseFailure("invalid regular expression '\(pattern)': \(error)") }
    }
}

/// `50494e47` → the bytes; nil for an odd length or a non-hex digit.
func hexBytes(_ text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard !chars.isEmpty, chars.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    for i in stride(from: 0, to: chars.count, by: 2) {
        guard let b = UInt8(String(decoding: chars[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
        out.append(b)
    }
    return out
}

extension ProxyOptions {
    /// A protocol check replaces whatever check the backend had (HAProxy: the last check option
    /// wins).
    mutating func useProtocolCheck(_ check: ProtocolCheck) {
        protocolCheck = check
        httpCheck = nil
        tcpCheck = nil
    }
}
