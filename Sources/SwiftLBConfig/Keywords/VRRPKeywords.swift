/// The `vrrp NAME` section: keepalived's `vrrp_instance` keywords, one per line, HAProxy-style
/// (no braces). Times take a unit (`100ms`, `2s`) or, as in keepalived, a bare number of seconds
/// (`advert_int 1`, `advert_int 0.1`).
extension KeywordRegistry {
    static let vrrpKeywords: [Keyword] = [
        vrrp("interface", "interface IF") { v, c, _ in v.interface = try c.one("an interface name") },
        vrrp("virtual_router_id", "virtual_router_id N") { v, c, _ in v.virtualRouterID = try c.int(in: 1...255) },
        vrrp("priority", "priority N") { v, c, _ in v.priority = try c.int(in: 1...254) },
        // Down to 10 ms: faster heartbeats cost nothing measurable and shorten takeover.
        vrrp("advert_int", "advert_int TIME") { v, c, _ in v.advertInterval = try vrrpTime(c, 10_000_000...40_000_000_000) },
        vrrp("virtual_ipaddress", "virtual_ipaddress ADDR/PREFIX [dev IF]") { v, c, _ in
            let args = c.args
            guard args.count == 1 || (args.count == 3 && args[1] == "dev") else {
                throw ParseFailure("expects 'virtual_ipaddress ADDR/PREFIX [dev IF]' (one address per line)")
            }
            guard isIPv4CIDR(args[0]) else { throw ParseFailure("'\(args[0])' is not an IPv4 address with a prefix, e.g. 192.168.122.10/24") }
            v.virtualAddresses.append(VirtualAddress(cidr: args[0], interface: args.count == 3 ? args[2] : nil))
        },
        vrrp("unicast_src_ip", "unicast_src_ip ADDR") { v, c, _ in
            let address = try c.one("an IPv4 address")
            guard isIPv4(address) else { throw ParseFailure("'\(address)' is not an IPv4 address") }
            v.unicastSourceIP = address
        },
        vrrp("unicast_peer", "unicast_peer ADDR…") { v, c, _ in
            guard !c.args.isEmpty else { throw ParseFailure("expects one or more IPv4 addresses") }
            for address in c.args {
                guard isIPv4(address) else { throw ParseFailure("'\(address)' is not an IPv4 address") }
                v.unicastPeers.append(address)
            }
        },
        vrrp("udp_port", "udp_port N") { v, c, _ in v.udpPort = try c.int(in: 1...65535) },
        vrrp("nopreempt", "nopreempt") { v, c, _ in
            guard c.args.isEmpty else { throw ParseFailure("takes no argument") }
            v.preempt = false
        },
        vrrp("preempt_delay", "preempt_delay TIME") { v, c, _ in v.preemptDelay = try vrrpTime(c, 0...1_000_000_000_000) },
        vrrp("garp_master_repeat", "garp_master_repeat N") { v, c, _ in v.garpMasterRepeat = try c.int(in: 1...255) },
        vrrp("garp_master_refresh", "garp_master_refresh TIME") { v, c, _ in
            let d = try vrrpTime(c, 0...86_400_000_000_000)
            v.garpMasterRefresh = d.nanoseconds == 0 ? nil : d
        },
        notify("notify_master", \.notifyMaster),
        notify("notify_backup", \.notifyBackup),
        notify("notify_fault", \.notifyFault),
        notify("notify", \.notify),
        vrrp("auth_key_file", "auth_key_file FILE") { v, c, _ in
            // Read when the instance starts (and by `swiftlb check`), like certificates.
            v.authKeyFile = try c.one("a file holding the shared key")
            v.authKeyLine = c.line.number
        },
        vrrp("auth", "auth none") { v, c, index in
            guard c.args == ["none"] else { throw ParseFailure("only 'auth none' is accepted here; a key goes in 'auth_key_file FILE'") }
            v.authKeyFile = nil
            index.authNone = true
        },
        vrrp("track_backend", "track_backend NAME [weight N]") { v, c, _ in
            let args = c.args
            guard args.count == 1 || (args.count == 3 && args[1] == "weight") else {
                throw ParseFailure("expects 'track_backend NAME [weight N]'")
            }
            var weight = 0
            if args.count == 3 {
                guard let w = Int(args[2]), (-253...253).contains(w) else { throw ParseFailure("'weight' expects a number in -253...253") }
                weight = w
            }
            v.trackBackends.append(TrackBackend(backend: args[0], weight: weight, line: c.line.number))
        },
        Keyword("state", [.vrrp], status: .pending("both instances start as BACKUP and the priorities elect the master; remove 'state'"), parse: nil),
        Keyword("authentication", [.vrrp], status: .unsupported("use 'auth_key_file FILE' (HMAC-SHA256), or 'auth none' on a trusted link"), parse: nil),
        Keyword("track_script", [.vrrp], status: .pending("use 'track_backend NAME [weight N]'"), parse: nil),
        Keyword("track_interface", [.vrrp], status: .pending("not supported; a master whose link is down is replaced by its peer after 3 x advert_int"), parse: nil),
        Keyword("mcast_src_ip", [.vrrp], status: .pending("multicast is not supported; use unicast_src_ip and unicast_peer"), parse: nil),
        Keyword("version", [.vrrp], status: .unsupported("the heartbeat has one version; remove 'version'"), parse: nil),
        Keyword("virtual_routes", [.vrrp], status: .unsupported("not supported"), parse: nil),
    ]

    /// Per-instance parse state a vrrp keyword may set besides the model.
    struct VRRPInstanceState {
        var authNone: Bool
    }

    /// A keyword of the current vrrp instance.
    private static func vrrp(_ name: String, _ usage: String,
                             _ apply: @escaping @Sendable (inout VRRPSettings, KeywordCall, inout VRRPInstanceState) throws -> Void) -> Keyword {
        Keyword(name, [.vrrp], usage: usage) { p, c in
            guard case .vrrp(let index) = p.section else { return }
            var state = VRRPInstanceState(authNone: p.authNone.contains(index))
            try apply(&p.config.vrrpInstances[index], c, &state)
            if state.authNone { p.authNone.insert(index) }
        }
    }

    private static func notify(_ name: String, _ field: WritableKeyPath<VRRPSettings, String?> & Sendable) -> Keyword {
        vrrp(name, "\(name) SCRIPT") { v, c, _ in
            guard !c.args.isEmpty else { throw ParseFailure("expects a script (quote it when it has arguments)") }
            v[keyPath: field] = c.args.joined(separator: " ")
        }
    }

    private static func vrrpTime(_ c: KeywordCall, _ range: ClosedRange<Int64>) throws(ParseFailure) -> ConfigDuration {
        guard c.args.count == 1, let d = keepalivedTime(c.args[0]), range.contains(d.nanoseconds) else {
            throw ParseFailure("expects a time from \(ConfigDuration(nanoseconds: range.lowerBound)) to \(ConfigDuration(nanoseconds: range.upperBound)), e.g. '100ms', '2s' or '0.5' (seconds)")
        }
        return d
    }
}

extension SectionParser {
    /// `vrrp NAME`: returns the new instance's index, or nil after reporting.
    func startVRRP(_ line: ConfigLine) -> Int? {
        guard line.words.count == 2 else {
            fail(line, line.words.count < 2 ? "missing name: 'vrrp NAME'" : "unexpected words after the name: \(line.words.dropFirst(2).joined(separator: " "))")
            return nil
        }
        if let other = config.vrrp {
            fail(line, "only one vrrp section is supported (the first is '\(other.name)' at line \(other.line))")
            return nil
        }
        config.vrrpInstances.append(VRRPSettings(name: line.words[1], line: line.number))
        return config.vrrpInstances.count - 1
    }

    /// Whole-section checks: what keepalived would refuse to start without, and references.
    func finishVRRP() {
        for (index, v) in config.vrrpInstances.enumerated() {
            func error(_ keyword: String, _ message: String, line: Int? = nil) {
                errors.append(ConfigError(file: file, line: line ?? v.line, keyword: keyword, message: "vrrp '\(v.name)': \(message)"))
            }
            if v.interface.isEmpty { error("interface", "missing 'interface IF'") }
            if v.virtualRouterID == 0 { error("virtual_router_id", "missing 'virtual_router_id N' (1-255, the same on both instances)") }
            if v.virtualAddresses.isEmpty { error("virtual_ipaddress", "missing 'virtual_ipaddress ADDR/PREFIX'") }
            if v.unicastPeers.isEmpty { error("unicast_peer", "missing 'unicast_peer ADDR': heartbeats are unicast UDP (multicast is not supported)") }
            if v.authKeyFile == nil && !authNone.contains(index) {
                error("auth_key_file", "no heartbeat key: set 'auth_key_file FILE', or write 'auth none' to run unauthenticated on a trusted link")
            }
            for track in v.trackBackends where config.backends[track.backend] == nil {
                let near = didYouMean(track.backend, in: Array(config.backends.keys))
                error("track_backend", "no backend named '\(track.backend)'\(near)", line: track.line)
            }
        }
    }
}

/// keepalived writes times as seconds (`1`, `0.1`); lb.conf also takes units (`100ms`).
func keepalivedTime(_ text: String) -> ConfigDuration? {
    if let d = ConfigDuration(parsing: text), text.last.map({ !$0.isNumber }) == true { return d }
    guard let seconds = Double(text), seconds >= 0, seconds < 1e6 else { return nil }
    return ConfigDuration(nanoseconds: Int64((seconds * 1e9).rounded()))
}

func isIPv4(_ text: String) -> Bool {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) && Int($0)! <= 255 }
}

func isIPv4CIDR(_ text: String) -> Bool {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let prefix = Int(parts[1]), (0...32).contains(prefix) else { return false }
    return isIPv4(String(parts[0]))
}
