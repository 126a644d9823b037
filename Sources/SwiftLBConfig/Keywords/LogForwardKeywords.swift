/// `ring NAME` and `log-forward NAME` sections (a syslog relay, run by
/// SwiftLBProxy/Logging/LogForwardService.swift), as HAProxy 2.6's src/sink.c and src/log.c
/// parse them.
extension KeywordRegistry {
    static let logForwardKeywords: [Keyword] = [
        Keyword("description", [.ring], usage: "description TEXT") { p, c in
            p.withRing { $0.description = c.args.joined(separator: " ") }
        },
        Keyword("format", [.ring], usage: "format rfc3164|rfc5424|raw|short|timed|iso|local|priority") { p, c in
            let name = try c.one("a format")
            guard let format = LogServer.Format(rawValue: name) else {
                throw ParseFailure("unknown format '\(name)'\(didYouMean(name, in: LogServer.Format.allCases.map(\.rawValue)))")
            }
            p.withRing { $0.format = format }
        },
        Keyword("maxlen", [.ring], usage: "maxlen BYTES") { p, c in
            let n = try positive(c, "maxlen", "bytes")
            p.withRing { $0.maxLength = n }
        },
        Keyword("size", [.ring], usage: "size BYTES") { p, c in
            let n = try positive(c, "size", "bytes")
            p.withRing { $0.size = n }
        },
        Keyword("timeout connect", [.ring], usage: "timeout connect TIME") { p, c in
            let value = try ringDuration(c)
            p.withRing { $0.timeoutConnect = value }
        },
        Keyword("timeout server", [.ring], usage: "timeout server TIME") { p, c in
            let value = try ringDuration(c)
            p.withRing { $0.timeoutServer = value }
        },
        Keyword("server", [.ring], usage: "server NAME ADDR:PORT [log-proto legacy|octet-count] [ssl [verify none|required] [ca-file FILE] [sni NAME]]") { p, c in
            guard c.args.count >= 2 else { throw ParseFailure("expects 'server NAME ADDR:PORT'") }
            let address = expandAddressVariables(c.args[1], p.environment)
            guard let (host, port) = parseAddress(address), port > 0, !host.isEmpty else { throw ParseFailure("'\(address)': expects ADDR:PORT") }
            var server = RingSection.Server(name: c.args[0], host: host, port: port, line: c.line.number)
            var tls = ServerTLS()
            tls.verify = true  // HAProxy's ssl-server-verify default: required
            var ssl = false
            var rest = c.args.dropFirst(2)
            while let word = rest.first {
                rest = rest.dropFirst()
                func value() throws(ParseFailure) -> String {
                    guard let v = rest.first else { throw ParseFailure("'\(word)' expects a value") }
                    rest = rest.dropFirst()
                    return v
                }
                switch word {
                case "ssl": ssl = true
                case "verify":
                    let v = try value()
                    guard v == "none" || v == "required" else { throw ParseFailure("'verify' expects 'none' or 'required'") }
                    tls.verify = v == "required"
                case "ca-file": tls.caFile = p.based(try value(), on: p.config.global.caBase)
                case "sni": tls.sni = try value()
                case "log-proto":
                    let v = try value()
                    guard v == "legacy" || v == "octet-count" else { throw ParseFailure("'log-proto' expects 'legacy' or 'octet-count'") }
                    server.octetCounting = v == "octet-count"
                default:
                    throw ParseFailure("a ring's server takes log-proto, ssl, verify, ca-file and sni (not '\(word)')")
                }
            }
            if ssl {
                tls.more.ssl = true
                guard !tls.verify || tls.caFile != nil else {
                    throw ParseFailure("'ssl' verifies the server's certificate: give 'ca-file FILE', or 'verify none'")
                }
                server.tls = tls
            }
            p.withRing { $0.servers.append(server) }
        },
        Keyword("dgram-bind", [.logForward], usage: "dgram-bind ADDR:PORT") { p, c in
            let text = try c.one("an address, e.g. 'dgram-bind 127.0.0.1:514'")
            let bind = try bindAddress(text, line: c.line.number, parser: p)
            guard bind.socket == nil, bind.port > 0 else { throw ParseFailure("'dgram-bind' expects an IP address and port (UDP)") }
            p.withLogForward { $0.datagramBinds.append(bind) }
        },
        Keyword("bind", [.logForward], usage: "bind ADDR:PORT [ssl crt FILE …]") { p, c in
            let binds = try bindLine(c, p)
            p.withLogForward { $0.streamBinds += binds }
        },
        Keyword("log", [.logForward], usage: "log ADDR|ring@NAME [len N] [format F] FACILITY [LEVEL [MINLEVEL]]") { p, c in
            guard let first = c.args.first else { throw ParseFailure("expects a target: HOST:PORT, udp@HOST:PORT, /dev/log or ring@NAME") }
            var call = c
            let ring = first.hasPrefix("ring@") ? String(first.dropFirst(5)) : nil
            if ring != nil { call = KeywordCall(line: c.line, args: ["stdout"] + c.args.dropFirst(), negated: false, section: c.section) }
            let server = try logServer(call, environment: p.environment)
            guard let facility = server.facility else { throw ParseFailure("a log-forward target needs a facility, e.g. 'log \(first) local0'") }
            let destination: LogForwardSection.Target.Destination
            if let ring {
                guard !ring.isEmpty else { throw ParseFailure("'ring@' expects a ring's name") }
                destination = .ring(ring)
            } else {
                destination = .server(server)
            }
            var target = LogForwardSection.Target(destination: destination, formatGiven: c.args.contains("format"), facility: facility, line: c.line.number)
            target.maxLevel = server.maxLevel
            target.minLevel = server.minLevel
            p.withLogForward { $0.targets.append(target) }
        },
        Keyword("maxconn", [.logForward], usage: "maxconn N") { p, c in
            let n = try positive(c, "maxconn", "connections")
            p.withLogForward { $0.maxconn = n }
        },
        Keyword("backlog", [.logForward], usage: "backlog N") { p, c in
            let n = try positive(c, "backlog", "connections")
            p.withLogForward { $0.backlog = n }
        },
        Keyword("timeout client", [.logForward], usage: "timeout client TIME") { p, c in
            let value = try ringDuration(c)
            p.withLogForward { $0.timeoutClient = value }
        },
    ]

    /// A count from 1 to 2^30 (`maxlen`, `size`, `maxconn`, `backlog`).
    private static func positive(_ c: KeywordCall, _ keyword: String, _ unit: String) throws(ParseFailure) -> Int {
        let text = try c.one("a number of \(unit)")
        guard let n = Int(text), (1...(1 << 30)).contains(n) else { throw ParseFailure("'\(keyword)' expects a number of \(unit) from 1 to 1073741824, not '\(text)'") }
        return n
    }

    private static func ringDuration(_ c: KeywordCall) throws(ParseFailure) -> ConfigDuration? {
        let text = try c.one("a time, e.g. 5s")
        guard let value = ConfigDuration(parsing: text) else {
            throw ParseFailure("invalid time '\(text)': a number with an optional unit us, ms, s, m, h, d")
        }
        return value.nanoseconds == 0 ? nil : value
    }
}

extension SectionParser {
    func startRing(_ line: ConfigLine) -> String? {
        guard line.words.count == 2 else { fail(line, "expects 'ring NAME'"); return nil }
        let name = line.words[1]
        if let other = config.rings[name] {
            fail(line, "a ring named '\(name)' already exists (line \(other.line))")
            return nil
        }
        config.rings[name] = RingSection(name: name, line: line.number)
        return name
    }

    func startLogForward(_ line: ConfigLine) -> Int? {
        guard line.words.count == 2 else { fail(line, "expects 'log-forward NAME'"); return nil }
        let name = line.words[1]
        if let other = config.logForwards.first(where: { $0.name == name }) {
            fail(line, "a log-forward section named '\(name)' already exists (line \(other.line))")
            return nil
        }
        config.logForwards.append(LogForwardSection(name: name, line: line.number))
        return config.logForwards.count - 1
    }

    func withRing(_ change: (inout RingSection) -> Void) {
        guard case .ring(let name) = section else { return }
        change(&config.rings[name]!)
    }

    func withLogForward(_ change: (inout LogForwardSection) -> Void) {
        guard case .logForward(let index) = section else { return }
        change(&config.logForwards[index])
    }

    /// After the whole file: every `ring@NAME` names a ring, every ring that is written to has
    /// a server to send to (HAProxy's rings also serve `show events`, which SwiftLB has not).
    func validateLogForwarding() {
        for forward in config.logForwards {
            if forward.datagramBinds.isEmpty && forward.streamBinds.isEmpty {
                errors.append(ConfigError(file: file, line: forward.line, keyword: "log-forward", message: "log-forward '\(forward.name)' has no 'bind' or 'dgram-bind' line"))
            }
            for target in forward.targets {
                guard case .ring(let name) = target.destination else { continue }
                if config.rings[name] == nil {
                    errors.append(ConfigError(file: file, line: target.line, keyword: "log", message: "no ring named '\(name)'\(didYouMean(name, in: Array(config.rings.keys)))"))
                }
            }
        }
        for ring in config.rings.values where ring.servers.isEmpty {
            errors.append(ConfigError(file: file, line: ring.line, keyword: "ring", message: "ring '\(ring.name)' has no 'server' to forward to (SwiftLB keeps no ring to read with 'show events')"))
        }
    }
}
