/// `peers NAME` sections (stick tables shared over HAProxy's peers protocol, run by
/// SwiftLBProxy/Peers) and the global `localpeer`.
extension KeywordRegistry {
    static let peersKeywords: [Keyword] = [
        Keyword("localpeer", [.global], usage: "localpeer NAME") { p, c in
            p.config.global.localPeer = try c.one("a peer name")
        },
        Keyword("peer", [.peers], usage: "peer NAME ADDR:PORT") { p, c in
            guard c.args.count >= 2 else { throw ParseFailure("expects 'peer NAME ADDR:PORT'") }
            try p.addPeer(c.args[0], address: c.args[1], options: Array(c.args.dropFirst(2)), line: c.line.number)
        },
        Keyword("server", [.peers], usage: "server NAME [ADDR:PORT] [ssl] [verify none|required] [ca-file FILE]") { p, c in
            guard let name = c.args.first else { throw ParseFailure("expects 'server NAME [ADDR:PORT]'") }
            var options = Array(c.args.dropFirst())
            var address: String?
            if let first = options.first, !serverOptionNames.contains(first) {
                address = first
                options.removeFirst()
            }
            try p.addPeer(name, address: address, options: options, line: c.line.number)
        },
        Keyword("default-server", [.peers], usage: "default-server [ssl] [verify none|required] [ca-file FILE]") { p, c in
            guard case .peers(let section) = p.section, var peers = p.config.peers[section] else { return }
            (peers.defaultServerSSL, peers.defaultServer) = try serverTLS(c.args, ssl: peers.defaultServerSSL, tls: peers.defaultServer, parser: p)
            p.config.peers[section] = peers
        },
        Keyword("bind", [.peers], usage: "bind ADDR:PORT|fd@N [ssl crt FILE…]") { p, c in
            guard let text = c.args.first else { throw ParseFailure("expects an address, e.g. 'bind 10.0.0.1:10000'") }
            var certificates: [String] = []
            var ssl = false
            var rest = c.args.dropFirst()
            while let word = rest.first {
                rest = rest.dropFirst()
                switch word {
                case "ssl": ssl = true
                case "crt":
                    guard let file = rest.first else { throw ParseFailure("'crt' expects a PEM file") }
                    certificates.append(file)
                    rest = rest.dropFirst()
                default:
                    throw ParseFailure("'bind' in a peers section takes an address and 'ssl crt FILE' only (not '\(word)')")
                }
            }
            guard ssl == !certificates.isEmpty else { throw ParseFailure(ssl ? "'ssl' expects 'crt FILE'" : "'crt' needs 'ssl'") }
            let bind = try bindAddress(text, line: c.line.number, parser: p)
            if case .unix = bind.socket { throw ParseFailure("a peers section listens on TCP (an address or fd@N)") }
            if case .abstract = bind.socket { throw ParseFailure("a peers section listens on TCP (an address or fd@N)") }
            guard case .peers(let name) = p.section else { return }
            guard p.config.peers[name]?.bind == nil else { throw ParseFailure("peers section '\(name)' already has a 'bind' line") }
            p.config.peers[name]?.bind = bind
            p.config.peers[name]?.bindCertificates = certificates
        },
        Keyword("table", [.peers], usage: "table NAME type ip|ipv6|integer|string [len N] size N [expire TIME] [store DATA,…] [srvkey name|addr]") { p, c in
            guard let tableName = c.args.first, c.args.count > 1 else { throw ParseFailure("expects 'table NAME type … size …'") }
            guard case .peers(let name) = p.section else { return }
            guard p.config.peers[name]?.tables[tableName] == nil else { throw ParseFailure("table '\(tableName)' is already declared in peers '\(name)'") }
            var table = try stickTable(Array(c.args.dropFirst()), line: c.line.number)
            guard table.peers == nil else { throw ParseFailure("a table of a peers section is shared by that section ('peers' is not allowed)") }
            table.peers = name
            p.config.peers[name]?.tables[tableName] = table
        },
        Keyword("disabled", [.peers], usage: "disabled") { p, c in
            try c.noArguments()
            guard case .peers(let name) = p.section else { return }
            p.config.peers[name]?.disabled = true
        },
        Keyword("enabled", [.peers], usage: "enabled") { p, c in
            try c.noArguments()
            guard case .peers(let name) = p.section else { return }
            p.config.peers[name]?.disabled = false
        },
        Keyword.unsupported("shards", [.peers], "SwiftLB's tables are not sharded between peers (every peer holds every entry)"),
        Keyword.unsupported("default-bind", [.peers], "peers take no bind options in SwiftLB"),
        Keyword.unsupported("log", [.peers], "SwiftLB logs peer sessions on its own log"),
    ]

    /// The options a peer's `server` line takes (HAProxy's others are refused).
    static let serverOptionNames: Set<String> = ["ssl", "verify", "ca-file", "crt"]

    /// `ssl`, `verify none|required`, `ca-file FILE`, `crt FILE` over what `ssl`/`tls` were.
    static func serverTLS(_ words: [String], ssl: Bool, tls: PeersSection.PeerTLS, parser p: SectionParser) throws(ParseFailure) -> (Bool, PeersSection.PeerTLS) {
        var (ssl, tls) = (ssl, tls)
        var rest = words[...]
        while let word = rest.first {
            rest = rest.dropFirst()
            switch word {
            case "ssl":
                ssl = true
            case "verify", "ca-file", "crt":
                guard let value = rest.first else { throw ParseFailure("'\(word)' expects a value") }
                rest = rest.dropFirst()
                if word == "verify" {
                    guard value == "none" || value == "required" else { throw ParseFailure("'verify' expects 'none' or 'required'") }
                    tls.verify = value == "required"
                } else if word == "ca-file" {
                    tls.caFile = value
                } else {
                    p.warn("'crt \(value)': SwiftLB presents no client certificate to its peers (a peer that requires one refuses the session)")
                }
            default:
                throw ParseFailure("a peer takes only 'ssl', 'verify', 'ca-file' and 'crt' (not '\(word)')")
            }
        }
        return (ssl, tls)
    }
}

extension SectionParser {
    func startPeers(_ line: ConfigLine) -> String? {
        guard line.words.count == 2 else { fail(line, "expects 'peers NAME'"); return nil }
        let name = line.words[1]
        if let other = config.peers[name] {
            fail(line, "a peers section named '\(name)' already exists (line \(other.line))")
            return nil
        }
        config.peers[name] = PeersSection(name: name, line: line.number)
        return name
    }

    fileprivate func addPeer(_ name: String, address: String?, options: [String], line: Int) throws(ParseFailure) {
        guard case .peers(let section) = self.section, let peers = config.peers[section] else { return }
        var (ssl, tls) = try KeywordRegistry.serverTLS(options, ssl: peers.defaultServerSSL, tls: peers.defaultServer, parser: self)
        tls.verify = tls.verify ?? config.global.sslServerVerify ?? true
        // Refused here, as `haproxy -c` does (not at start only), in HAProxy's words.
        if ssl, let refusal = verificationWithoutCA(verify: tls.verify ?? true, caFile: tls.caFile) { throw ParseFailure(refusal) }

        guard config.peers[section]?.peers.contains(where: { $0.name == name }) == false else {
            throw ParseFailure("peer '\(name)' is already declared in peers '\(section)'")
        }
        var host: String?, port: Int?
        if let address {
            if let (h, p) = parseAddress(address), p > 0 {
                host = h.isEmpty || h == "*" ? "0.0.0.0" : h
                port = p
            } else if address.contains("${") || address == ":" {
                // An unset variable (HAProxy reads it as empty, and accepts the line): the peer
                // can call us, we cannot call it.
                warn(line, "server", "peer '\(name)' has no usable address ('\(address)'): it is accepted when it calls, never dialled")
            } else {
                throw ParseFailure("'\(address)': expects ADDR:PORT")
            }
        }
        config.peers[section]?.peers.append(PeersSection.Peer(name: name, host: host, port: port, line: line, tls: ssl ? tls : nil))
    }
}
