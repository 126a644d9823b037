import Glibc

/// `bind ADDRESS[,ADDRESS…] [PARAMETER…]`: where a frontend listens, and TLS termination there.
extension KeywordRegistry {
    static let bindKeywords: [Keyword] = [
        Keyword("bind", SectionKind.frontSide.subtracting([.defaults]), usage: "bind ADDRESS[,ADDRESS…] [ssl crt FILE …]") { p, c in
            p.withFrontend { p.frontendsWithBindLines.insert($0.name) }
            let binds = try bindLine(c, p)
            p.withFrontend { $0.binds += binds }
        },
        // HAProxy's defaults for the unix sockets of `bind` lines (not the stats socket's).
        Keyword("unix-bind", [.global], usage: "unix-bind [prefix PATH] [mode OCTAL] [user NAME|uid N] [group NAME|gid N]") { p, c in
            var rest = c.args[...]
            while let word = rest.first {
                guard let value = rest.dropFirst().first else { throw ParseFailure("unix-bind '\(word)' expects a value") }
                rest = rest.dropFirst(2)
                switch word {
                case "prefix":
                    // haproxy: given twice, an alert that does not stop the start; the first stays.
                    if p.config.global.unixBindPrefix != nil { p.alertAlreadySpecified("unix-bind 'prefix'") } else { p.config.global.unixBindPrefix = value }
                case "mode":
                    guard let mode = UInt32(value, radix: 8), mode <= 0o7777 else { throw ParseFailure("unix-bind 'mode' expects octal permissions such as 600 or 0660") }
                    p.config.global.unixBindAccess.mode = mode
                case "uid", "gid":
                    let n = String(try number(word, value, 0...Int(Int32.max)))
                    if word == "uid" { p.config.global.unixBindAccess.user = n } else { p.config.global.unixBindAccess.group = n }
                case "user":
                    guard getpwnam(value) != nil else { throw ParseFailure("'unix-bind' : '\(value)' unknown user") }
                    p.config.global.unixBindAccess.user = value
                case "group":
                    guard getgrnam(value) != nil else { throw ParseFailure("'unix-bind' : '\(value)' unknown group") }
                    p.config.global.unixBindAccess.group = value
                default:
                    throw ParseFailure("'unix-bind' only supports the 'prefix', 'mode', 'uid', 'gid', 'user' and 'group' options")
                }
            }
        },
    ]

    /// A `bind` line's addresses, each with the line's parameters (a frontend's, a log-forward's).
    static func bindLine(_ c: KeywordCall, _ p: SectionParser) throws -> [BindAddress] {
        guard let addresses = c.args.first else { throw ParseFailure("expects an address such as ':80' or '127.0.0.1:8080'") }
        var spec = BindLine(defaults: p.config.global.defaultBindTLS)
        spec.unixAccess = p.config.global.unixBindAccess
        try bindParameters.parse(c.args.dropFirst(), into: &spec, parser: p)
        if var tls = spec.tls, !spec.ssl, onlyVersions(tls, differFrom: spec.defaults) {
            spec.tls = nil  // `no-sslv3` on a plain bind: harmless, as in HAProxy
        } else if var tls = spec.tls {
            guard spec.ssl else { throw ParseFailure("TLS parameters without 'ssl': write 'bind … ssl crt FILE'") }
            try finishBindTLS(&tls, parser: p)
            spec.tls = tls
        }
        // `bind :80,:8080` lists several addresses, as in HAProxy.
        var binds: [BindAddress] = []
        for text in try addresses.split(separator: ",").flatMap({ try portRange(String($0)) }) {
            var bind = try bindAddress(text, line: c.line.number, parser: p)
            // `unix-bind prefix`: written before the path as it stands (HAProxy's str2sa_range).
            if case .unix(let path) = bind.socket, let prefix = p.config.global.unixBindPrefix { bind.socket = .unix(path: prefix + path) }
            bind.tls = spec.tls
            bind.name = spec.name
            bind.acceptProxy = spec.acceptProxy
            bind.proto = spec.proto
            bind.unixAccess = spec.unixAccess
            bind.interface = spec.interface
            binds.append(bind)
        }
        return binds
    }

    /// What a `bind` line's parameters build: TLS settings that start from the global defaults
    /// as soon as a TLS parameter appears.
    struct BindLine {
        let defaults: BindTLS
        var ssl = false
        var tls: BindTLS?
        var name: String?
        var acceptProxy = false
        var proto: String?
        var unixAccess = UnixSocketAccess()
        var interface: String?
        init(defaults: BindTLS) { self.defaults = defaults }
        /// The TLS settings of the line, created from the defaults on first use.
        var withTLS: BindTLS {
            get { tls ?? defaults }
            set { tls = newValue }
        }
    }

    /// `HOST:PORT`, `ipv4@HOST:PORT`, `ipv6@[::]:PORT`, `fd@N`, `"fd@${VAR}"`, `unix@PATH`, `/PATH`,
    /// `abns@NAME`.
    /// `HOST:LOW-HIGH`, HAProxy's port range: one listener per port (at most 1024 of them);
    /// any other address is itself.
    static func portRange(_ text: String) throws -> [String] {
        guard !text.hasPrefix("fd@"), !text.hasPrefix("/"), !text.contains("@") || text.hasPrefix("ipv"),
              let colon = text.lastIndex(of: ":"), let dash = text[colon...].firstIndex(of: "-") else { return [text] }
        guard let low = Int(text[text.index(after: colon)..<dash]), let high = Int(text[text.index(after: dash)...]),
              1 <= low, low <= high, high <= 65535 else {
            throw ParseFailure("invalid port range in '\(text)': expected LOW-HIGH, 1 to 65535")
        }
        guard high - low < 1024 else { throw ParseFailure("port range in '\(text)': at most 1024 ports") }
        return (low...high).map { "\(text[...colon])\($0)" }
    }

    /// The port HAProxy's atoi reads from an expanded `HOST:DIGITS,…` (a comma after the last
    /// colon only), nil for any other address.
    private static func commaInExpandedPort(_ text: String) -> String? {
        guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(","), !text.hasPrefix("fd@"), !text.contains("/") else { return nil }
        let after = text[text.index(after: colon)...]
        let digits = after.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, after.dropFirst(digits.count).first == "," else { return nil }
        return String(digits)
    }

    static func bindAddress(_ written: String, line: Int, parser p: SectionParser) throws -> BindAddress {
        // As HAProxy's address parser, `$VAR`/`${VAR}` are expanded even outside quotes.
        var text = expandAddressVariables(written, p.environment)
        if written.contains("$"), let port = commaInExpandedPort(text) {
            // HAProxy 2.6 splits `bind A,B` before it expands A's variables (str2listener, then
            // str2sa_range), and reads the port with atoi: `:${PORTS}` with PORTS=8001,8002
            // listens on 8001 only. Kept, said out loud.
            let host = text[...text.lastIndex(of: ":")!]
            let list = text[host.endIndex...].split(separator: ",").map { host + $0 }.joined(separator: ",")
            p.warn("'\(written)' expands to '\(text)': a bind list is split before its variables are expanded, and the port is read up to the comma, so only port \(port) listens (as in HAProxy); for several listeners put whole addresses in a quoted variable: bind \"${LIST}\" with LIST='\(list)'")
            text = host + port
        }
        if text.hasPrefix("fd@") {
            guard let fd = Int32(text.dropFirst(3)), fd >= 0 else {
                throw ParseFailure("'\(text)': fd@ expects a descriptor number (with \"fd@${VAR}\", the variable must be set)")
            }
            var bind = BindAddress(host: "", port: 0, line: line)
            bind.socket = .inherited(fd: fd)
            return bind
        }
        if let unix = try unixSocketName(text) {
            var bind = BindAddress(host: "", port: 0, line: line)
            bind.socket = unix.abstract ? .abstract(name: unix.path) : .unix(path: unix.path)
            return bind
        }
        var spec = Substring(text)
        var family: String?
        for prefix in ["ipv4@", "ipv6@"] where spec.hasPrefix(prefix) {
            family = prefix
            spec = spec.dropFirst(prefix.count)
        }
        guard let (host, port) = parseAddress(String(spec)) else {
            let hint = written.contains("$") ? " (its variables expand to '\(text)')" : ""
            throw ParseFailure("invalid address '\(written)': expected [HOST]:PORT, e.g. ':80', '127.0.0.1:8080', '[::1]:80'\(hint)")
        }
        let any = host.isEmpty || host == "*"
        // `ipv6@:80` listens on every IPv6 address, `ipv4@`/plain `:80` on every IPv4 one.
        return BindAddress(host: any ? (family == "ipv6@" ? "::" : "0.0.0.0") : host, port: port, line: line)
    }

    static let bindParameters = ParameterTable<BindLine>("bind parameter", tlsBindLineParameters + [
        Parameter("ssl") { b, _, _ in b.ssl = true; b.tls = b.withTLS },
        Parameter("crt", values: 1) { b, v, p in b.withTLS.certificates.append(p.based(v[0], on: p.config.global.crtBase)) },
        Parameter("alpn", values: 1) { b, v, p in
            b.withTLS.alpn = v[0].split(separator: ",").map(String.init)
        },
        Parameter("name", values: 1) { b, v, _ in b.name = v[0] },
        Parameter("accept-proxy") { b, _, _ in b.acceptProxy = true },
        Parameter("mode", values: 1) { b, v, _ in
            guard let mode = UInt32(v[0], radix: 8), mode <= 0o7777 else { throw ParseFailure("'mode' expects octal permissions such as 600 or 0660") }
            b.unixAccess.mode = mode
        },
        Parameter("user", values: 1) { b, v, _ in b.unixAccess.user = v[0] },
        Parameter("uid", values: 1) { b, v, _ in b.unixAccess.user = String(try number("uid", v[0], 0...Int(Int32.max))) },
        Parameter("group", values: 1) { b, v, _ in b.unixAccess.group = v[0] },
        Parameter("gid", values: 1) { b, v, _ in b.unixAccess.group = String(try number("gid", v[0], 0...Int(Int32.max))) },
        // `proto h2`: HTTP/2 with prior knowledge (h2c); `proto h1` is the default.
        Parameter("proto", values: 1) { b, v, _ in
            guard v[0] == "h1" || v[0] == "h2" else { throw ParseFailure("'proto' expects h1 or h2 (the only multiplexers SwiftLB serves)") }
            b.proto = v[0]
        },
        // `interface NAME`: only connections that arrive on that network interface
        // (SO_BINDTODEVICE, set before the bind as HAProxy does).
        Parameter("interface", values: 1) { b, v, _ in
            guard !v[0].isEmpty, v[0].utf8.count < 16, !v[0].contains("/") else {
                throw ParseFailure("'interface' expects a network interface name (at most 15 characters), e.g. eth0")
            }
            b.interface = v[0]
        },
        .unsupported("npn", values: 1, "NPN is obsolete; use alpn"),
    ] + ["accept-netscaler-cip", "allow-0rtt", "backlog", "ca-sign-file", "ca-sign-pass",
         "defer-accept", "expose-fd", "generate-certificates", "id", "level", "severity-output",
         "maxconn", "mss", "namespace", "nice", "no-ca-names",
         "prefer-client-ciphers", "process", "quic-cc-algo", "quic-force-retry", "shards", "tcp-ut",
         "tfo", "thread", "tls-ticket-keys", "transparent", "v4v6", "v6only"].map {
        Parameter<BindLine>.unsupported($0, "a HAProxy bind parameter SwiftLB does not implement")
    })
}
