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
        virtualAddress("virtual_ipaddress"),
        // SwiftLB's heartbeat carries no address list, so "excluded" addresses are plain VIPs.
        virtualAddress("virtual_ipaddress_excluded"),
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
        // keepalived's default, written out.
        vrrp("preempt", "preempt") { v, c, _ in
            try c.noArguments()
            v.preempt = true
        },
        vrrp("preempt_delay", "preempt_delay TIME") { v, c, _ in v.preemptDelay = try vrrpTime(c, 0...1_000_000_000_000) },
        vrrp("garp_master_repeat", "garp_master_repeat N") { v, c, _ in v.garpMasterRepeat = try c.int(in: 1...255) },
        vrrp("garp_master_delay", "garp_master_delay TIME") { v, c, _ in
            let d = try vrrpTime(c, 0...86_400_000_000_000)
            v.garpMasterDelay = d.nanoseconds == 0 ? nil : d
        },
        vrrp("garp_master_refresh", "garp_master_refresh TIME") { v, c, _ in
            let d = try vrrpTime(c, 0...86_400_000_000_000)
            v.garpMasterRefresh = d.nanoseconds == 0 ? nil : d
        },
        notify("notify_master", \.notifyMaster),
        notify("notify_backup", \.notifyBackup),
        notify("notify_fault", \.notifyFault),
        notify("notify_stop", \.notifyStop),
        notify("notify", \.notify),
        vrrp("auth_key_file", "auth_key_file FILE") { v, c, _ in
            // Read when the instance starts (and by `swiftlb check`), like certificates.
            v.authKeyFile = try c.one("a file holding the shared key")
            v.authKeyLine = c.line.number
        },
        vrrp("auth", "auth none") { v, c, index in
            guard c.args == ["none"] else { throw ParseFailure("only 'auth none' is accepted here; a key goes in 'auth_key_file FILE'") }
            v.authKeyFile = nil
            v.authPass = nil
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
        vrrp("state", "state MASTER|BACKUP") { v, c, _ in
            let word = try c.one("MASTER or BACKUP")
            guard let state = VRRPInitialState(rawValue: word.uppercased()) else { throw ParseFailure("expects MASTER or BACKUP") }
            v.initialState = state
        },
        vrrp("track_script", "track_script NAME [weight N [reverse|noreverse]]", status: trackScriptStatus) { v, c, _ in
            let (name, weight, reverse) = try nameAndWeight(c, "track_script", reverse: true, noreverse: true)
            v.trackScripts.append(TrackScript(script: name, weight: weight, reverse: c.args.count == 4 ? reverse : nil, line: c.line.number))
        },
        vrrp("track_process", "track_process NAME [weight N [reverse|noreverse]]") { v, c, _ in
            let track = try trackProcess(c)
            guard !v.trackProcesses.contains(where: { $0.process == track.process }) else { throw ParseFailure("vrrp_track_process '\(track.process)' is already tracked by this instance") }
            v.trackProcesses.append(track)
        },
        vrrp("track_file", "track_file NAME [weight N [reverse|noreverse]]") { v, c, _ in
            let track = try trackFile(c)
            guard !v.trackFiles.contains(where: { $0.file == track.file }) else { throw ParseFailure("track_file '\(track.file)' is already tracked by this instance") }
            v.trackFiles.append(track)
        },
        vrrp("track_interface", "track_interface IF [weight N]", status: trackInterfaceStatus) { v, c, _ in
            let (name, weight, _) = try nameAndWeight(c, "track_interface", reverse: false)
            v.trackInterfaces.append(TrackInterface(interface: name, weight: weight ?? 0, line: c.line.number))
        },
        vrrp("mcast_src_ip", "mcast_src_ip ADDR", status: multicastStatus) { v, c, _ in
            let address = try c.one("an IPv4 address")
            guard isIPv4(address) else { throw ParseFailure("'\(address)' is not an IPv4 address") }
            v.mcastSourceIP = address
        },
        // The VIP is an ordinary local address: it accepts traffic, as keepalived's 'accept' asks.
        vrrp("accept", "accept") { _, c, _ in try c.noArguments() },
        // keepalived's `authentication { auth_type PASS|AH  auth_pass SECRET }` (the block's lines
        // are read as these keywords, Keepalived.swift): keepalived sends PASS in clear in every
        // advertisement; SwiftLB keeps its HMAC-SHA256 heartbeat, under a key derived from the
        // password, so the file runs and a forged advertisement still fails.
        vrrp("auth_type", "auth_type PASS|AH") { _, c, _ in
            let type = try c.one("PASS or AH").uppercased()
            guard type == "PASS" || type == "AH" else { throw ParseFailure("expects PASS or AH") }
        },
        vrrp("auth_pass", "auth_pass SECRET") { v, c, state in
            let secret = try c.one("the shared password")
            guard !secret.isEmpty else { throw ParseFailure("expects the shared password") }
            // keepalived uses the first 8 characters (VRRPv2's authentication data field).
            v.authPass = String(secret.prefix(8))
            if v.authKeyFile == nil { v.authKeyLine = c.line.number }
            state.warning = "'auth_pass': the heartbeat is authenticated with HMAC-SHA256 under a key derived from this password (keepalived sends it in clear); 8 characters make a weak key: prefer 'auth_key_file FILE' (head -c 32 /dev/urandom > FILE, mode 600) on both instances"
        },
        Keyword("version", [.vrrp], usage: "version 2|3") { p, _ in
            p.warn("'version' has no effect: SwiftLB's instances speak their own authenticated heartbeat, not VRRP on the wire")
        },
        // keepalived's mail on each transition (SMTPAlertModel.swift; SwiftLBHA's SMTPAlert).
        vrrp("smtp_alert", "smtp_alert [yes|no]") { v, c, _ in v.smtpAlert = try keepalivedBool(c.args) },
        vrrp("dont_track_primary", "dont_track_primary") { v, c, _ in
            try c.noArguments()
            v.dontTrackPrimary = true
        },
        vrrp("unicast_ttl", "unicast_ttl N") { v, c, _ in v.unicastTTL = try c.int(in: 1...255) },
        // Heartbeats from an address that is no unicast_peer are always dropped (VRRPInstance):
        // keepalived's check, written out.
        vrrp("check_unicast_src", "check_unicast_src") { _, c, _ in try c.noArguments() },
        vrrp("kernel_rx_buf_size", "kernel_rx_buf_size BYTES") { v, c, _ in v.kernelReceiveBuffer = try c.int(in: 1...Int(Int32.max / 2)) },
        vrrp("garp_lower_prio_repeat", "garp_lower_prio_repeat N") { v, c, _ in v.garpLowerPriorityRepeat = try c.int(in: 0...255) },
        // 0 is kept (not nil): written, it stands against global_defs' vrrp_garp_lower_prio_delay.
        vrrp("garp_lower_prio_delay", "garp_lower_prio_delay TIME") { v, c, _ in v.garpLowerPriorityDelay = try vrrpTime(c, 0...86_400_000_000_000) },
        notify("notify_master_rx_lower_pri", \.notifyMasterRxLowerPriority),
        // What concerns VRRP on the wire only: SwiftLB's heartbeat is its own (authenticated,
        // no address list, no VRRP checksum), so these change nothing it does.
        inert("debug", "debug [LEVEL]", "per-instance debug logging of keepalived: SwiftLB logs each transition and drop at its own levels"),
        inert("skip_check_adv_addr", "skip_check_adv_addr [on|off]", "SwiftLB's heartbeat carries no address list to check"),
        inert("strict_mode", "strict_mode [on|off]", "its RFC 3768/5798 rules concern VRRP packets; SwiftLB's heartbeat is its own, authenticated"),
        inert("old_unicast_checksum", "old_unicast_checksum [never]", "SwiftLB's heartbeat has no VRRP checksum (it is authenticated by HMAC)"),
        inert("no_accept", "no_accept", "the VIP accepts traffic (SwiftLB's frontends listen on it); keepalived drops it only through the iptables/nftables rules of vrrp_strict or vrrp_iptables, which SwiftLB does not install"),
    ] + [
        ("native_ipv6", "IPv6 instances are not supported: heartbeats and virtual addresses are IPv4"),
        ("use_vmac", "VRRP virtual MAC interfaces are not supported: the VIP is added to the interface and announced by gratuitous ARP"),
        ("vmac_xmit_base", "VRRP virtual MAC interfaces (use_vmac) are not supported"),
        ("virtual_routes", "SwiftLB manages only its VIPs; add routes from a notify_master script or the system's network configuration"),
        ("virtual_rules", "SwiftLB manages only its VIPs; add rules from a notify_master script or the system's network configuration"),
        ("lvs_sync_daemon_interface", "there is no LVS in SwiftLB (its frontends and backends do the load balancing)"),
        ("track_bfd", "BFD is not supported: track the peer's reachability with track_script"),
        ("track_src_ip", "not supported: name the source with unicast_src_ip"),
    ].map { name, reason in
        Keyword.unsupported(name, [.vrrp], reason)
    }

    /// Several instances per process, each electing on its own (SwiftLBHA's VRRPGroup).
    static let multipleInstancesStatus = KeywordStatus.active
    static let trackScriptStatus = KeywordStatus.active
    static let trackInterfaceStatus = KeywordStatus.active
    /// Advertisements to 224.0.0.18 when no `unicast_peer` is given, still authenticated.
    static let multicastStatus = KeywordStatus.active

    /// `virtual_ipaddress ADDR[/PREFIX] [dev IF] [label L]`: a bare address is a /32, as in
    /// keepalived.
    private static func virtualAddress(_ name: String) -> Keyword {
        vrrp(name, "\(name) ADDR[/PREFIX] [dev IF]") { v, c, state in
            var args = c.args[...]
            guard let address = args.first else { throw ParseFailure("expects 'ADDR[/PREFIX] [dev IF]'") }
            args = args.dropFirst()
            let cidr = address.contains("/") ? address : address + "/32"
            guard isIPv4CIDR(cidr) else { throw ParseFailure("'\(address)' is not an IPv4 address (with an optional prefix), e.g. 192.168.122.10/24") }
            var interface: String?
            while let word = args.first {
                args = args.dropFirst()
                guard let value = args.first else { throw ParseFailure("'\(word)' expects a value") }
                args = args.dropFirst()
                switch word {
                case "dev": interface = value
                case "label": state.labelWarning = true
                default: throw ParseFailure("'\(word)' is not supported after a virtual address (only 'dev IF')")
                }
            }
            v.virtualAddresses.append(VirtualAddress(cidr: cidr, interface: interface))
        }
    }

    /// `NAME [weight N]`, and with `reverse` allowed, keepalived's `NAME weight N reverse`
    /// (and, with `noreverse`, `NAME weight N noreverse`, which keepalived's track_process
    /// takes to undo a block's own `reverse`).
    static func nameAndWeight(_ c: KeywordCall, _ keyword: String, reverse: Bool, noreverse: Bool = false,
                                      range: ClosedRange<Int> = -253...253) throws(ParseFailure) -> (String, Int?, Bool) {
        let args = c.args
        let reversed = reverse && args.count == 4 && args[3] == "reverse"
        let unreversed = noreverse && args.count == 4 && args[3] == "noreverse"
        guard args.count == 1 || (args.count == 3 && args[1] == "weight") || ((reversed || unreversed) && args[1] == "weight") else {
            throw ParseFailure("expects '\(keyword) NAME [weight N\(reverse ? noreverse ? " [reverse|noreverse]" : " [reverse]" : "")]'")
        }
        guard args.count >= 3 else { return (args[0], nil, false) }
        guard let w = Int(args[2]), range.contains(w) else { throw ParseFailure("'weight' expects a number in \(range.lowerBound)...\(range.upperBound)") }
        return (args[0], w, reversed)
    }

    /// `NAME [weight N [reverse|noreverse]]` of `track_process` (an instance's or a sync group's).
    static func trackProcess(_ c: KeywordCall) throws(ParseFailure) -> TrackProcess {
        let (name, weight, reverse) = try nameAndWeight(c, "track_process", reverse: true, noreverse: true, range: -254...254)
        return TrackProcess(process: name, weight: weight, reverse: c.args.count == 4 ? reverse : nil, line: c.line.number)
    }

    /// `NAME [weight N [reverse|noreverse]]` of `track_file`.
    static func trackFile(_ c: KeywordCall) throws(ParseFailure) -> TrackFile {
        let (name, weight, reverse) = try nameAndWeight(c, "track_file", reverse: true, noreverse: true, range: -254...254)
        return TrackFile(file: name, weight: weight, reverse: c.args.count == 4 ? reverse : nil, line: c.line.number)
    }

    /// Per-instance parse state a vrrp keyword may set besides the model.
    struct VRRPInstanceState {
        var authNone: Bool
        var labelWarning = false
        /// A warning about the keyword's line.
        var warning: String?
    }

    /// A keyword of the current vrrp instance.
    private static func vrrp(_ name: String, _ usage: String, status: KeywordStatus = .active,
                             _ apply: @escaping @Sendable (inout VRRPSettings, KeywordCall, inout VRRPInstanceState) throws -> Void) -> Keyword {
        Keyword(name, [.vrrp], usage: usage, status: status) { p, c in
            guard case .vrrp(let index) = p.section else { return }
            var state = VRRPInstanceState(authNone: p.authNone.contains(index))
            try apply(&p.config.vrrpInstances[index], c, &state)
            if state.authNone { p.authNone.insert(index) }
            if state.labelWarning { p.warn("'label' is not applied: SwiftLB adds the address without an interface label") }
            if let warning = state.warning { p.warn(warning) }
        }
    }

    /// A keepalived keyword with no effect on SwiftLB's heartbeat: read, and warned about.
    private static func inert(_ name: String, _ usage: String, _ why: String) -> Keyword {
        vrrp(name, usage) { _, c, state in
            guard c.args.count <= 1 else { throw ParseFailure("expects at most one argument") }
            state.warning = "'\(name)' has no effect in SwiftLB: \(why)"
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
        return addVRRPInstance(line.words[1], line: line)
    }

    /// A new instance (a `vrrp` section or a keepalived `vrrp_instance` block); a second one
    /// goes through the gate.
    func addVRRPInstance(_ name: String, line: ConfigLine) -> Int? {
        if let other = config.vrrpInstances.first(where: { $0.name == name }) {
            fail(line, "a vrrp instance named '\(name)' already exists (line \(other.line))")
            return nil
        }
        if let first = config.vrrp {
            do {
                try gate(KeywordRegistry.multipleInstancesStatus, "a second VIP instance ('\(name)'; the first is '\(first.name)' at line \(first.line))")
            } catch {
                fail(line, error.message)
            }
        }
        var instance = VRRPSettings(name: name, line: line.number)
        if file != config.file { instance.file = file }
        config.vrrpInstances.append(instance)
        return config.vrrpInstances.count - 1
    }

    /// Whole-section checks: what keepalived would refuse to start without, and references.
    func finishVRRP() {
        finishSyncGroups()
        finishSMTPAlert()
        defer { addSyncGroupTracking() }
        for (index, v) in config.vrrpInstances.enumerated() {
            func error(_ keyword: String, _ message: String, line: Int? = nil) {
                errors.append(ConfigError(file: v.file ?? config.file, line: line ?? v.line, keyword: keyword, message: "vrrp '\(v.name)': \(message)"))
            }
            if v.interface.isEmpty { error("interface", "missing 'interface IF'") }
            if v.virtualRouterID == 0 { error("virtual_router_id", "missing 'virtual_router_id N' (1-255, the same on both instances)") }
            if v.virtualAddresses.isEmpty { error("virtual_ipaddress", "missing 'virtual_ipaddress ADDR/PREFIX'") }
            if v.multicast {
                do { try gate(KeywordRegistry.multicastStatus, "multicast advertisements (no 'unicast_peer')") } catch let failure { error("unicast_peer", failure.message) }
                if authNone.contains(index) {
                    error("auth", "multicast advertisements (no 'unicast_peer') need 'auth_key_file FILE': every host on the link hears them, and only the key tells the sibling from anyone else; name the sibling with 'unicast_peer ADDR' to run unauthenticated")
                }
            }
            for (otherIndex, other) in config.vrrpInstances.enumerated() where otherIndex < index {
                if other.virtualRouterID == v.virtualRouterID && other.virtualRouterID != 0 && other.interface == v.interface
                    && other.udpPort == v.udpPort && other.multicast == v.multicast
                    && (other.unicastSourceIP ?? other.mcastSourceIP) == (v.unicastSourceIP ?? v.mcastSourceIP) {
                    error("virtual_router_id", "virtual_router_id \(v.virtualRouterID) is also vrrp '\(other.name)''s (line \(other.line)), on the same interface and udp_port: give each instance its own (keepalived refuses this too)")
                }
                for vip in v.virtualAddresses where other.virtualAddresses.contains(where: { $0.address == vip.address }) {
                    error("virtual_ipaddress", "\(vip.address) is also a virtual address of vrrp '\(other.name)' (line \(other.line)): two instances would fight over it")
                }
            }
            // global_defs' defaults, for what the instance does not write (keepalived's vrrp.c).
            if v.garpLowerPriorityRepeat == nil { config.vrrpInstances[index].garpLowerPriorityRepeat = config.vrrpGarpLowerPriorityRepeat }
            if v.garpLowerPriorityDelay == nil { config.vrrpInstances[index].garpLowerPriorityDelay = config.vrrpGarpLowerPriorityDelay }
            if v.unicastTTL != nil && v.multicast {
                warnings.append(ConfigError(file: v.file ?? config.file, line: v.line, keyword: "unicast_ttl", message:
                    "vrrp '\(v.name)': 'unicast_ttl' has no effect without 'unicast_peer' (multicast heartbeats go with TTL 255; keepalived resets it too)"))
            }
            for track in v.trackInterfaces where track.interface == v.interface {
                // keepalived (vrrp.c): "Ignoring track_interface … since own interface"; the
                // own interface is a FAULT when down, unless dont_track_primary.
                warnings.append(ConfigError(file: v.file ?? config.file, line: track.line, keyword: "track_interface", message:
                    "vrrp '\(v.name)': track_interface \(track.interface) is ignored: it is the instance's own interface (keepalived ignores it too)\(v.dontTrackPrimary ? ", and dont_track_primary says its state does not count" : "; its link going down is a FAULT anyway")"))
                config.vrrpInstances[index].trackInterfaces.removeAll { $0.interface == v.interface }
            }
            if v.initialState == .master {
                warnings.append(ConfigError(file: v.file ?? config.file, line: v.line, keyword: "state", message:
                    "vrrp '\(v.name)': 'state MASTER' starts as BACKUP in SwiftLB: the instance becomes master after 3 x advert_int if no higher priority is heard (keepalived claims the VIP at once)"))
            }
            for track in v.trackFiles {
                guard let block = config.vrrpTrackFiles[track.file] else {
                    error("track_file", "no track_file named '\(track.file)'\(didYouMean(track.file, in: Array(config.vrrpTrackFiles.keys)))", line: track.line)
                    continue
                }
                // keepalived 2.2 (vrrp.c): in a sync group a tracked file's weight is not applied
                // (the default 1 becomes 0, another weight drops the file); say so rather than differ.
                if let group = config.vrrpSyncGroups.first(where: { $0.members.contains(v.name) }), (track.weight ?? block.weight) != 0 {
                    error("track_file", "track_file '\(track.file)' has weight \(track.weight ?? block.weight), but the instance is in vrrp_sync_group '\(group.name)', where keepalived applies no file weight (it turns the default 1 into 0 and drops the file for another): write 'weight 0' (a non-zero value is then a FAULT of the group)", line: track.line)
                }
            }
            for track in v.trackProcesses where config.vrrpTrackProcesses[track.process] == nil {
                error("track_process", "no vrrp_track_process named '\(track.process)'\(didYouMean(track.process, in: Array(config.vrrpTrackProcesses.keys)))", line: track.line)
            }
            for track in v.trackScripts where config.vrrpScripts[track.script] == nil {
                error("track_script", "no vrrp_script named '\(track.script)'\(didYouMean(track.script, in: Array(config.vrrpScripts.keys)))", line: track.line)
            }
            if !v.isAuthenticated && !authNone.contains(index) {
                error("auth_key_file", "no heartbeat key: set 'auth_key_file FILE' (or keepalived's 'authentication { auth_type PASS  auth_pass SECRET }'), or write 'auth none' to run unauthenticated on a trusted link")
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

extension SectionParser {
    /// A sync group's `track_process { … }` and `track_file { … }`: each member tracks them
    /// with the group's weights, as keepalived adds them to each member. A member that tracks
    /// the same block itself is refused (keepalived merges the two and logs "Remove vrrp
    /// instance config").
    func addSyncGroupTracking() {
        for group in config.vrrpSyncGroups {
            func error(_ keyword: String, _ line: Int, _ message: String) {
                errors.append(ConfigError(file: config.file, line: line, keyword: keyword, message: "vrrp_sync_group '\(group.name)': \(message)"))
            }
            for track in group.trackProcesses where config.vrrpTrackProcesses[track.process] == nil {
                error("track_process", track.line, "no vrrp_track_process named '\(track.process)'\(didYouMean(track.process, in: Array(config.vrrpTrackProcesses.keys)))")
            }
            for track in group.trackFiles where config.vrrpTrackFiles[track.file] == nil {
                error("track_file", track.line, "no track_file named '\(track.file)'\(didYouMean(track.file, in: Array(config.vrrpTrackFiles.keys)))")
            }
            for index in config.vrrpInstances.indices where group.members.contains(config.vrrpInstances[index].name) {
                let name = config.vrrpInstances[index].name
                for track in group.trackProcesses {
                    guard !config.vrrpInstances[index].trackProcesses.contains(where: { $0.process == track.process }) else {
                        error("track_process", track.line, "vrrp '\(name)' tracks vrrp_track_process '\(track.process)' itself too: track it in one place (keepalived asks the same)")
                        continue
                    }
                    config.vrrpInstances[index].trackProcesses.append(track)
                }
                for track in group.trackFiles {
                    guard !config.vrrpInstances[index].trackFiles.contains(where: { $0.file == track.file }) else {
                        error("track_file", track.line, "vrrp '\(name)' tracks track_file '\(track.file)' itself too: track it in one place (keepalived asks the same)")
                        continue
                    }
                    config.vrrpInstances[index].trackFiles.append(track)
                }
            }
        }
    }

    /// `smtp_alert` resolved against global_defs' defaults for every instance and group, and a
    /// warning where mail is asked for but cannot go (keepalived then sends none, silently).
    func finishSMTPAlert() {
        let mail = config.smtpAlert
        var asking: [(name: String, line: Int, file: String?)] = []
        for index in config.vrrpInstances.indices {
            let v = config.vrrpInstances[index]
            config.vrrpInstances[index].smtpAlert = mail.mails(v.smtpAlert)
            if mail.mails(v.smtpAlert) { asking.append(("vrrp '\(v.name)'", v.line, v.file)) }
        }
        for index in config.vrrpSyncGroups.indices {
            let group = config.vrrpSyncGroups[index]
            config.vrrpSyncGroups[index].smtpAlert = mail.mails(group.smtpAlert)
            if mail.mails(group.smtpAlert) { asking.append(("vrrp_sync_group '\(group.name)'", group.line, nil)) }
        }
        guard let first = asking.first, !mail.canSend else { return }
        let missing = [mail.server == nil ? "'smtp_server'" : nil, mail.recipients.isEmpty ? "'notification_email { … }'" : nil].compactMap { $0 }
        warnings.append(ConfigError(file: first.file ?? config.file, line: first.line, keyword: "smtp_alert", message:
            "\(asking.map(\.name).joined(separator: ", ")): 'smtp_alert' sends nothing without \(missing.joined(separator: " and ")) in global_defs (keepalived sends none either)"))
    }

    /// Each `vrrp_sync_group` member is a vrrp instance of the file, in one group only
    /// (keepalived refuses both too).
    func finishSyncGroups() {
        var owner: [String: String] = [:]
        for group in config.vrrpSyncGroups {
            for name in group.members {
                func error(_ message: String) {
                    errors.append(ConfigError(file: config.file, line: group.line, keyword: "vrrp_sync_group", message: "vrrp_sync_group '\(group.name)': \(message)"))
                }
                if !config.vrrpInstances.contains(where: { $0.name == name }) {
                    error("no vrrp_instance named '\(name)'\(didYouMean(name, in: config.vrrpInstances.map(\.name)))")
                } else if let other = owner[name] {
                    error("vrrp_instance '\(name)' is already in vrrp_sync_group '\(other)'")
                } else {
                    owner[name] = group.name
                }
            }
        }
    }
}
