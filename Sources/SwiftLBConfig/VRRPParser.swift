/// The `vrrp NAME` section: keepalived's `vrrp_instance` keywords, one per line, HAProxy-style
/// (no braces). Times take a unit (`100ms`, `2s`) or, as in keepalived, a bare number of seconds
/// (`advert_int 1`, `advert_int 0.1`).
extension SectionParser {
    func startVRRP(_ line: ConfigLine) {
        guard line.words.count == 2 else {
            fail(line, line.words.count < 2 ? "missing name: 'vrrp NAME'" : "unexpected words after the name: \(line.words.dropFirst(2).joined(separator: " "))")
            return
        }
        if let other = config.vrrp {
            fail(line, "only one vrrp section is supported (the first is '\(other.name)' at line \(other.line))")
            return
        }
        config.vrrp = VRRPSettings(name: line.words[1], line: line.number)
    }

    func vrrpKeyword(_ line: ConfigLine) {
        guard var v = config.vrrp else { return }
        defer { config.vrrp = v }
        let keyword = line.words[0]
        let args = Array(line.words.dropFirst())
        func one(_ what: String) -> String? {
            guard args.count == 1 else { fail(line, "expects \(what)"); return nil }
            return args[0]
        }
        func number(_ range: ClosedRange<Int>) -> Int? {
            guard args.count == 1, let n = Int(args[0]), range.contains(n) else {
                fail(line, "expects a number in \(range.lowerBound)...\(range.upperBound)"); return nil
            }
            return n
        }
        func time(_ range: ClosedRange<Int64>) -> ConfigDuration? {
            guard args.count == 1, let d = keepalivedTime(args[0]), range.contains(d.nanoseconds) else {
                fail(line, "expects a time from \(ConfigDuration(nanoseconds: range.lowerBound)) to \(ConfigDuration(nanoseconds: range.upperBound)), e.g. '100ms', '2s' or '0.5' (seconds)")
                return nil
            }
            return d
        }
        switch keyword {
        case "interface":
            if let name = one("an interface name") { v.interface = name }
        case "virtual_router_id":
            if let n = number(1...255) { v.virtualRouterID = n }
        case "priority":
            if let n = number(1...254) { v.priority = n }
        case "advert_int":
            // Down to 10 ms: faster heartbeats cost nothing measurable and shorten takeover.
            if let d = time(10_000_000...40_000_000_000) { v.advertInterval = d }
        case "virtual_ipaddress":
            guard args.count == 1 || (args.count == 3 && args[1] == "dev") else {
                fail(line, "expects 'virtual_ipaddress ADDR/PREFIX [dev IF]' (one address per line)"); return
            }
            guard isIPv4CIDR(args[0]) else { fail(line, "'\(args[0])' is not an IPv4 address with a prefix, e.g. 192.168.122.10/24"); return }
            v.virtualAddresses.append(VirtualAddress(cidr: args[0], interface: args.count == 3 ? args[2] : nil))
        case "unicast_src_ip":
            guard let a = one("an IPv4 address") else { return }
            guard isIPv4(a) else { fail(line, "'\(a)' is not an IPv4 address"); return }
            v.unicastSourceIP = a
        case "unicast_peer":
            guard !args.isEmpty else { fail(line, "expects one or more IPv4 addresses"); return }
            for a in args {
                guard isIPv4(a) else { fail(line, "'\(a)' is not an IPv4 address"); return }
                v.unicastPeers.append(a)
            }
        case "udp_port":
            if let n = number(1...65535) { v.udpPort = n }
        case "nopreempt":
            guard args.isEmpty else { fail(line, "takes no argument"); return }
            v.preempt = false
        case "preempt_delay":
            if let d = time(0...1_000_000_000_000) { v.preemptDelay = d }
        case "garp_master_repeat":
            if let n = number(1...255) { v.garpMasterRepeat = n }
        case "garp_master_refresh":
            if let d = time(0...86_400_000_000_000) { v.garpMasterRefresh = d.nanoseconds == 0 ? nil : d }
        case "notify_master", "notify_backup", "notify_fault", "notify":
            guard !args.isEmpty else { fail(line, "expects a script (quote it when it has arguments)"); return }
            let script = args.joined(separator: " ")
            switch keyword {
            case "notify_master": v.notifyMaster = script
            case "notify_backup": v.notifyBackup = script
            case "notify_fault": v.notifyFault = script
            default: v.notify = script
            }
        case "auth_key_file":
            // Read when the instance starts (and by `swiftlb check`), like certificates.
            guard let path = one("a file holding the shared key") else { return }
            v.authKeyFile = path
            v.authKeyLine = line.number
        case "auth":
            guard args == ["none"] else { fail(line, "only 'auth none' is accepted here; a key goes in 'auth_key_file FILE'"); return }
            v.authKeyFile = nil
            authNoneLine = line.number
        case "track_backend":
            guard args.count == 1 || (args.count == 3 && args[1] == "weight") else {
                fail(line, "expects 'track_backend NAME [weight N]'"); return
            }
            var weight = 0
            if args.count == 3 {
                guard let w = Int(args[2]), (-253...253).contains(w) else { fail(line, "'weight' expects a number in -253...253"); return }
                weight = w
            }
            v.trackBackends.append(TrackBackend(backend: args[0], weight: weight, line: line.number))
        default:
            if let reason = Keywords.pendingVRRP[keyword] {
                fail(line, "not supported: \(reason)")
            } else {
                let near = didYouMean(keyword, in: Keywords.vrrp)
                fail(line, "unknown keyword in 'vrrp' section\(near)")
            }
        }
    }

    /// Whole-section checks: what keepalived would refuse to start without, and references.
    func finishVRRP() {
        guard let v = config.vrrp else { return }
        func error(_ keyword: String, _ message: String, line: Int? = nil) {
            errors.append(ConfigError(file: file, line: line ?? v.line, keyword: keyword, message: "vrrp '\(v.name)': \(message)"))
        }
        if v.interface.isEmpty { error("interface", "missing 'interface IF'") }
        if v.virtualRouterID == 0 { error("virtual_router_id", "missing 'virtual_router_id N' (1-255, the same on both instances)") }
        if v.virtualAddresses.isEmpty { error("virtual_ipaddress", "missing 'virtual_ipaddress ADDR/PREFIX'") }
        if v.unicastPeers.isEmpty { error("unicast_peer", "missing 'unicast_peer ADDR': heartbeats are unicast UDP (multicast is not supported)") }
        if v.authKeyFile == nil && authNoneLine == nil {
            error("auth_key_file", "no heartbeat key: set 'auth_key_file FILE', or write 'auth none' to run unauthenticated on a trusted link")
        }
        for track in v.trackBackends where config.backends[track.backend] == nil {
            let near = didYouMean(track.backend, in: Array(config.backends.keys))
            error("track_backend", "no backend named '\(track.backend)'\(near)", line: track.line)
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
