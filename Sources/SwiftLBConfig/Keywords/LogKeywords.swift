import Glibc

/// Where access-log lines go (`log`), what a proxy logs (`option httplog`, `log-format`, …)
/// and what it captures for the log (`capture request|response header`).
extension KeywordRegistry {
    static let logKeywords: [Keyword] = [
        Keyword("log", [.global], usage: "log stdout|stderr|/dev/log|[udp@]HOST[:PORT] [len N] [format F] FACILITY [LEVEL [MINLEVEL]]") { p, c in
            let server = try logServer(c, environment: p.environment)
            switch server.address {
            case .stdout: p.config.global.logTarget = .stdout
            case .stderr: p.config.global.logTarget = .stderr
            default: break
            }
            p.config.global.logServers.append(server)
        },
        Keyword("log", SectionKind.proxies, usage: "log global | log TARGET … | no log", negatable: true) { p, c in
            if c.negated {
                try c.noArguments()
                p.withOptions { o in
                    o.logGlobal = false
                    o.logTargets = []
                    o.httpLog = false
                    o.tcpLog = false
                    o.logFormat = nil
                }
                return
            }
            if c.args == ["global"] {
                p.withOptions { $0.logGlobal = true }
                return
            }
            let server = try logServer(c, environment: p.environment)
            p.withOptions { $0.logTargets.append(server) }
        },
        // The syslog header's tag and hostname (HAProxy's __send_log: a proxy's tag, else the
        // global one, else the program's name).
        Keyword("log-tag", [.global], usage: "log-tag TAG") { p, c in p.config.global.logTag = try c.one("a tag for use in syslog") },
        // haproxy reads only the first word in a proxy.
        Keyword("log-tag", SectionKind.proxies, usage: "log-tag TAG") { p, c in
            guard let tag = c.args.first else { throw ParseFailure("expects a tag for use in syslog") }
            p.withOptions { $0.logTag = tag }
        },
        Keyword("log-send-hostname", [.global], usage: "log-send-hostname [NAME]") { p, c in
            // haproxy: a second line is an alert that does not stop the start; the first stays.
            // It reads the first word only.
            guard p.config.global.logSendHostname == nil else { p.alertAlreadySpecified("'log-send-hostname'"); return }
            p.config.global.logSendHostname = c.args.first ?? systemHostname()
        },
        Keyword("option httplog", SectionKind.frontSide, usage: "option httplog [clf]") { p, c in
            if c.args == ["clf"] {
                setLogLine(p, c, "option httplog clf", .http(.clf))
            } else {
                try c.noArguments()
                setLogLine(p, c, "option httplog", .http(.httplog))
            }
        },
        Keyword("option httpslog", SectionKind.frontSide, usage: "option httpslog", negatable: true) { p, c in
            try c.noArguments()
            if c.negated {
                p.withOptions { $0.httpLog = false }
            } else {
                setLogLine(p, c, "option httpslog", .http(.httpslog))
            }
        },
        Keyword("option dontlognull", SectionKind.frontSide, usage: "option dontlognull", negatable: true) { p, c in
            try c.noArguments()
            p.withOptions { $0.dontLogNull = !c.negated }
        },
        flagOption("http-ignore-probes", SectionKind.frontSide, \.httpIgnoreProbes),
        Keyword("option tcplog", SectionKind.proxies, usage: "[no] option tcplog", negatable: true) { p, c in
            try c.noArguments()
            if c.negated {
                p.withOptions { $0.tcpLog = false }
            } else {
                setLogLine(p, c, "option tcplog", .tcp)
            }
        },
        logOption("log-health-checks", SectionKind.backSide, \.logHealthChecks, status: .active),
        logOption("logasap", SectionKind.frontSide, \.logASAP, status: .active),
        logOption("log-separate-errors", SectionKind.frontSide, \.logSeparateErrors, status: .active),
        logOption("dontlog-normal", SectionKind.frontSide, \.dontLogNormal, status: .active),
        Keyword("log-format", SectionKind.frontSide, usage: "log-format FORMAT") { p, c in
            let format = try c.one("one format (quote it)")
            for expression in sampleExpressions(inLogFormat: format) { try p.noteProxyStates(inExpression: expression, context: "log-format string") }
            setLogLine(p, c, "log-format", .format(format))
        },
        Keyword("log-format-sd", SectionKind.frontSide, usage: "log-format-sd FORMAT",
                status: .pending("RFC 5424 structured data is not written yet; the message part follows log-format")) { p, c in
            let format = try c.one("one format (quote it)")
            p.withOptions { $0.logFormatSD = format }
        },
        Keyword("unique-id-format", SectionKind.frontSide, usage: "unique-id-format FORMAT") { p, c in
            let format = try c.one("one format (quote it), e.g. %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid")
            p.withOptions { o in
                o.uniqueIDFormat = format
                o.uniqueIDFormatLine = c.line.number
            }
        },
        Keyword("unique-id-header", SectionKind.frontSide, usage: "unique-id-header NAME") { p, c in
            let name = try c.one("a header name")
            guard isHeaderToken(name) else { throw ParseFailure("'\(name)' is not a header name") }
            p.withOptions { $0.uniqueIDHeader = name }
        },
        capture("request"), capture("response"), declareCapture, captureCookie,
        // HAProxy keeps N + 1 as its buffer and cuts captures to N (atol: a word counts 0).
        Keyword("tune.http.cookielen", [.global], usage: "tune.http.cookielen N") { p, c in
            guard c.args.count == 1 else { throw ParseFailure("'tune.http.cookielen' expects an integer argument") }
            p.config.global.cookieCaptureLimit = Int(c.args[0].prefix { $0.isNumber || $0 == "-" }) ?? 0
        },
    ]

    /// What an access-log line looks like: one of `option httplog [clf]`, `option httpslog`,
    /// `option tcplog`, `log-format`.
    private enum LogLine {
        case http(HTTPLogLayout), tcp, format(String)
    }

    /// A proxy has one log format, as in HAProxy (`logformat_string`): each of `option httplog`,
    /// `option httpslog`, `option tcplog` and `log-format` replaces the one set before it, in the
    /// section or inherited from `defaults` (a TCP frontend's `option tcplog` drops the HTTP
    /// `log-format` of its defaults). HAProxy warns when one replaces another in a `defaults`.
    private static func setLogLine(_ p: SectionParser, _ c: KeywordCall, _ written: String, _ line: LogLine) {
        if case .defaults = p.section, let previous = writtenLogLine(p.options) {
            p.warn("'\(written)' overrides previous '\(previous)' in 'defaults' section.")
        }
        p.withOptions { o in
            o.httpLog = false
            o.tcpLog = false
            o.logFormat = nil
            switch line {
            case .http(let layout):
                o.httpLog = true
                o.httpLogLayout = layout
            case .tcp: o.tcpLog = true
            case .format(let format): o.logFormat = format
            }
            o.logFormatLine = c.line.number
        }
    }

    /// The line that set `options`' log format, as HAProxy names it in its warning.
    private static func writtenLogLine(_ options: ProxyOptions) -> String? {
        if options.logFormat != nil { return "log-format" }
        if options.httpLog {
            switch options.httpLogLayout {
            case .httplog: return "option httplog"
            case .clf: return "option httplog clf"
            case .httpslog: return "option httpslog"
            }
        }
        return options.tcpLog ? "option tcplog" : nil
    }

    /// `option NAME` setting one Bool of the proxy options.
    private static func logOption(_ name: String, _ sections: Set<SectionKind>, _ field: WritableKeyPath<ProxyOptions, Bool> & Sendable,
                                  status: KeywordStatus) -> Keyword {
        Keyword("option \(name)", sections, usage: "[no] option \(name)", status: status, negatable: true) { p, c in
            try c.noArguments()
            p.withOptions { $0[keyPath: field] = !c.negated }
        }
    }

    /// `capture request|response header NAME len N`.
    private static func capture(_ direction: String) -> Keyword {
        Keyword("capture \(direction) header", [.frontend, .listen], usage: "capture \(direction) header NAME len N") { p, c in
            guard c.args.count == 3, c.args[1] == "len", let length = Int(c.args[2]), (1...65535).contains(length) else {
                throw ParseFailure("expects 'capture \(direction) header NAME len N'")
            }
            guard isHeaderToken(c.args[0]) else { throw ParseFailure("invalid header name '\(c.args[0])'") }
            p.withFrontend { $0.captures.append(HeaderCapture(response: direction == "response", name: c.args[0], length: length, line: c.line.number)) }
        }
    }

    /// `capture cookie NAME len N` (HAProxy reads the fourth word as a number, whatever the
    /// third says; a second line replaces the first). The length is cut to `tune.http.cookielen`
    /// once the file is read (ProxyStateValidation's neighbour in Validation.swift).
    static let captureCookie = Keyword("capture cookie", [.frontend, .listen], haproxy: SectionKind.frontSide,
                                       usage: "capture cookie NAME len N") { p, c in
        if c.section == .defaults { throw ParseFailure("'capture cookie' not allowed in 'defaults' section.") }
        guard c.args.count <= 3 else { throw ParseFailure("'capture' cannot handle unexpected argument '\(c.args[3])'.") }
        guard c.args.count == 3 else { throw ParseFailure("'capture' expects 'cookie' <cookie_name> 'len' <len>.") }
        let length = Int(c.args[2].prefix { $0.isNumber || $0 == "-" }) ?? 0
        p.withFrontend { $0.cookieCapture = CookieCapture(name: c.args[0], length: length) }
    }

    /// `declare capture request|response len N`: an empty capture slot that `http-request
    /// capture SAMPLE id N` fills (HAProxy numbers the slots in the order of the configuration,
    /// header captures and rule captures alike).
    private static let declareCapture = Keyword("declare capture", [.frontend, .listen], usage: "declare capture request|response len N") { p, c in
        guard c.args.count == 3, c.args[0] == "request" || c.args[0] == "response", c.args[1] == "len",
              let length = Int(c.args[2]), (1...65535).contains(length) else {
            throw ParseFailure("expects 'declare capture request|response len N'")
        }
        p.withFrontend { $0.captures.append(HeaderCapture(response: c.args[0] == "response", name: "", length: length, line: c.line.number, byRule: true)) }
    }

    /// `TARGET [len N] [format F] [sample R:S] FACILITY [LEVEL [MINLEVEL]]`.
    static func logServer(_ c: KeywordCall, environment: [String: String]) throws(ParseFailure) -> LogServer {
        guard let written = c.args.first else { throw ParseFailure("expects a target: stdout, stderr, /dev/log, udp@HOST:PORT or HOST:PORT") }
        // HAProxy expands environment variables in an address even outside quotes
        // (str2sa_range: `log ${SYSLOG_ADDR}:${SYSLOG_PORT} local0`); an unset one is empty.
        let target = expandAddressVariables(written, environment)
        var server = LogServer(address: try logAddress(target), line: c.line.number)
        var rest = c.args.dropFirst()
        while let word = rest.first, ["len", "format", "sample"].contains(word) {
            rest = rest.dropFirst()
            guard let value = rest.first else { throw ParseFailure("'\(word)' expects a value") }
            rest = rest.dropFirst()
            switch word {
            case "len":
                guard let n = Int(value), (80...65535).contains(n) else { throw ParseFailure("'len' expects a length from 80 to 65535") }
                server.length = n
            case "format":
                guard let format = LogServer.Format(rawValue: value) else {
                    throw ParseFailure("unknown log format '\(value)'\(didYouMean(value, in: LogServer.Format.allCases.map(\.rawValue)))")
                }
                server.format = format
            default:
                // HAProxy's grammar, checked where the target is built (SwiftLBLog.LogSampling).
                guard value.contains(":") else { throw ParseFailure("'sample' expects RANGES:SIZE, e.g. 'sample 1,3:5'") }
                server.sample = value
            }
        }
        let isStream = server.address == .stdout || server.address == .stderr
        if let facility = rest.first {
            guard LogServer.facilities.contains(facility) else { throw ParseFailure("unknown facility '\(facility)'\(didYouMean(facility, in: LogServer.facilities))") }
            server.facility = facility
            rest = rest.dropFirst()
        } else if !isStream {
            throw ParseFailure("a syslog target needs a facility, e.g. 'log \(target) local0'")
        }
        for (index, level) in rest.enumerated() {
            guard index < 2 else { throw ParseFailure("unexpected '\(level)' after the levels") }
            guard LogServer.levels.contains(level) else { throw ParseFailure("unknown level '\(level)'\(didYouMean(level, in: LogServer.levels))") }
            if index == 0 { server.maxLevel = level } else { server.minLevel = level }
        }
        return server
    }

    private static func logAddress(_ text: String) throws(ParseFailure) -> LogServer.Address {
        switch text {
        case "stdout": return .stdout
        case "stderr": return .stderr
        default: break
        }
        if text.hasPrefix("/") { return .unix(path: text) }
        if text.hasPrefix("unix@") { return .unix(path: String(text.dropFirst(5))) }
        // HAProxy's TCP syslog: the log module sends datagrams only, so refused here rather
        // than at start.
        for prefix in ["tcp@", "tcp4@", "tcp6@", "stream+"] where text.hasPrefix(prefix) {
            throw ParseFailure("'\(text)': TCP syslog (\(prefix)) is not supported by SwiftLB; log to a unix datagram socket (/dev/log) or a UDP server (udp@HOST:PORT)")
        }
        var spec = Substring(text)
        for prefix in ["udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"] where spec.hasPrefix(prefix) {
            spec = spec.dropFirst(prefix.count)
        }
        guard !spec.contains("@") else { throw ParseFailure("unsupported log target '\(text)' (stdout, stderr, /dev/log, udp@HOST:PORT, HOST:PORT)") }
        var withPort = spec.contains(":") && !spec.hasSuffix("]") ? String(spec) : String(spec) + ":514"
        // No port (`HOST:`, or variables that expanded to nothing) is syslog's 514; no host is
        // the wildcard address, as in HAProxy (datagrams to it reach this machine).
        if withPort.hasSuffix(":") { withPort = String(withPort[..<withPort.lastIndex(of: ":")!]) + ":514" }
        // (`::1:514` is an IPv6 address without brackets, its port after the last colon.)
        if withPort.hasPrefix(":") && !withPort.dropFirst().contains(":") { withPort = "0.0.0.0" + withPort }
        guard let (host, port) = parseAddress(withPort), !host.isEmpty else { throw ParseFailure("invalid log target '\(text)'") }
        return .udp(host: host, port: port)
    }
}

/// `$NAME` and `${NAME}` in an address replaced by the environment variable (empty when
/// unset), as HAProxy's env_expand does for every address it reads.
func expandAddressVariables(_ text: String, _ environment: [String: String]) -> String {
    guard text.contains("$") else { return text }
    var result = ""
    var rest = Substring(text)
    while let dollar = rest.firstIndex(of: "$") {
        result += rest[..<dollar]
        var after = rest[rest.index(after: dollar)...]
        let braced = after.first == "{"
        if braced { after = after.dropFirst() }
        let name = after.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        if name.isEmpty || (braced && !after.dropFirst(name.count).hasPrefix("}")) {
            result.append("$")
            rest = rest[rest.index(after: dollar)...]
            continue
        }
        result += environment[String(name)] ?? ""
        rest = after.dropFirst(name.count + (braced ? 1 : 0))
    }
    return result + rest
}

/// The machine's name, as haproxy's `log-send-hostname` without a name sends it.
func systemHostname() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    return String(cString: buffer)
}

/// The `%[…]` (and `%{…}[…]`) expressions of a log-format, for the checks the parser makes on
/// them; SwiftLBLog parses the format itself.
func sampleExpressions(inLogFormat format: String) -> [String] {
    var found: [String] = []
    var rest = format[...]
    while let percent = rest.firstIndex(of: "%") {
        var after = rest[rest.index(after: percent)...]
        if after.first == "%" {  // `%%`: a percent sign
            rest = after.dropFirst()
            continue
        }
        if after.first == "{", let close = after.firstIndex(of: "}") { after = after[after.index(after: close)...] }
        guard after.first == "[", let end = after.firstIndex(of: "]") else {
            rest = after
            continue
        }
        found.append(String(after[after.index(after: after.startIndex)..<end]))
        rest = after[after.index(after: end)...]
    }
    return found
}
