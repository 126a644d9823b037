import Glibc

/// The keywords of keepalived's `vrrp_script NAME { … }` and `global_defs { … }` blocks
/// (KeepalivedBlock reads the blocks; `vrrp_instance` blocks use the vrrp section's keywords).
extension KeywordRegistry {
    /// vrrp_script: parsed into `Configuration.vrrpScripts`, run by the VIP runtime for the
    /// instances that track it (SwiftLBHA's TrackedScript).
    static let vrrpScriptStatus = KeywordStatus.active

    static let keepalivedKeywords: [Keyword] = [
        script("script", "script \"COMMAND ARGS\"") { s, c in
            guard !c.args.isEmpty else { throw ParseFailure("expects a command (quote it when it has arguments)") }
            s.script = c.args.joined(separator: " ")
        },
        script("interval", "interval SECONDS") { s, c in s.interval = try scriptTime(c) },
        script("timeout", "timeout SECONDS") { s, c in s.timeout = try scriptTime(c) },
        script("weight", "weight N [reverse]") { s, c in
            // keepalived 2.x: 'reverse' applies the weight the other way round (see VRRPScript).
            guard (1...2).contains(c.args.count), let w = Int(c.args[0]), (-253...253).contains(w),
                  c.args.count == 1 || c.args[1] == "reverse" else { throw ParseFailure("expects a weight in -253...253 (and an optional 'reverse')") }
            s.weight = w
            s.reverse = c.args.count == 2
        },
        script("fall", "fall N") { s, c in s.fall = try c.int(in: 1...1000) },
        script("rise", "rise N") { s, c in s.rise = try c.int(in: 1...1000) },
        Keyword("user", [.vrrpScript], status: .unsupported(
            "scripts run as SwiftLB's own user (the 'user' of global, once privileges are dropped); to run one as another user, write it in the command: script \"runuser -u NAME -- /path/to/check\""),
            parse: nil),
        // The VIP runtime elects only after each tracked script's first result, which is
        // what init_fail asks for (no MASTER before the script said OK).
        script("init_fail", "init_fail") { _, c in try c.noArguments() },

        Keyword("router_id", [.globalDefs], usage: "router_id NAME") { p, c in p.config.routerID = try c.one("a name") },
        // keepalived's alert mail (SMTPAlertModel.swift); the `notification_email { … }` block
        // reads one `notification_email ADDR` per line (Keepalived.swift).
        mail("notification_email", "notification_email { ADDR… }") { m, c in
            guard !c.args.isEmpty else { throw ParseFailure("expects '{' and one address per line") }
            m.recipients += c.args
        },
        mail("notification_email_from", "notification_email_from ADDR") { m, c in
            guard !c.args.isEmpty else { throw ParseFailure("expects an address") }
            m.from = c.args.joined(separator: " ")
        },
        mail("smtp_server", "smtp_server ADDR|NAME [PORT]") { m, c in
            guard (1...2).contains(c.args.count) else { throw ParseFailure("expects 'smtp_server ADDR|NAME [PORT]'") }
            var host = c.args[0]
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty, !host.contains("/") else { throw ParseFailure("'\(c.args[0])' is not an address or a host name") }
            if c.args.count == 2 {
                guard let port = Int(c.args[1]), (1...65535).contains(port) else { throw ParseFailure("'\(c.args[1])' is not a port (1-65535)") }
                m.port = port
            } else {
                m.port = 25
            }
            m.server = host
        },
        mail("smtp_helo_name", "smtp_helo_name NAME") { m, c in m.heloName = try c.one("a name") },
        Keyword("smtp_connect_timeout", [.globalDefs], usage: "smtp_connect_timeout SECONDS") { p, c in
            guard c.args.count == 1, let seconds = Int(c.args[0]), seconds >= 0, seconds <= 86_400 else {
                throw ParseFailure("expects a number of seconds (0-86400)")
            }
            if seconds == 0 { p.warn("'smtp_connect_timeout 0' is read as 1 second, as keepalived does") }
            p.config.smtpAlert.connectTimeout = .seconds(Int64(max(seconds, 1)))
        },
        mail("smtp_alert", "smtp_alert [yes|no]") { m, c in m.alert = try keepalivedBool(c.args) },
        mail("smtp_alert_vrrp", "smtp_alert_vrrp [yes|no]") { m, c in m.alertVRRP = try keepalivedBool(c.args) },
        mail("no_email_faults", "no_email_faults") { m, c in
            try c.noArguments()
            m.noFaultMails = true
        },
        // keepalived's LVS checkers mail real servers' changes; SwiftLB has none (its health
        // checks log each change, as HAProxy's do).
        Keyword("smtp_alert_checker", [.globalDefs], usage: "smtp_alert_checker [yes|no]") { p, c in
            _ = try keepalivedBool(c.args)
            p.warn("'smtp_alert_checker' has no effect in SwiftLB: it has no LVS checkers to mail about (health checks are logged)")
        },
        Keyword("no_checker_emails", [.globalDefs], usage: "no_checker_emails [yes|no]") { p, c in
            _ = try keepalivedBool(c.args)
            p.warn("'no_checker_emails' has no effect in SwiftLB: it has no LVS checkers to mail about (health checks are logged)")
        },
        Keyword("vrrp_garp_lower_prio_repeat", [.globalDefs], usage: "vrrp_garp_lower_prio_repeat N") { p, c in
            p.config.vrrpGarpLowerPriorityRepeat = try c.int(in: 0...255)
        },
        Keyword("vrrp_garp_lower_prio_delay", [.globalDefs], usage: "vrrp_garp_lower_prio_delay SECONDS") { p, c in
            guard c.args.count == 1, let d = keepalivedTime(c.args[0]), d.nanoseconds <= 86_400_000_000_000 else {
                throw ParseFailure("expects a time from 0 to 1d, e.g. '5' (seconds)")
            }
            p.config.vrrpGarpLowerPriorityDelay = d
        },
        // keepalived's user for its scripts. SwiftLB runs them through its script runner as
        // this user (swiftlb run, ScriptRunnerCommand), outside any chroot.
        Keyword("script_user", [.globalDefs], usage: "script_user USER [GROUP]") { p, c in
            guard (1...2).contains(c.args.count) else { throw ParseFailure("expects a user name and an optional group name") }
            guard let user = getpwnam(c.args[0]) else { throw ParseFailure("no user named '\(c.args[0])' on this system") }
            var gid = user.pointee.pw_gid
            if c.args.count == 2 {
                guard let group = getgrnam(c.args[1]) else { throw ParseFailure("no group named '\(c.args[1])' on this system") }
                gid = group.pointee.gr_gid
            }
            p.config.scriptUser = ScriptUser(name: c.args[0], uid: user.pointee.pw_uid, gid: gid)
        },
        // Heartbeats from an address that is no unicast_peer are always dropped (VRRPInstance).
        Keyword("vrrp_check_unicast_src", [.globalDefs], usage: "vrrp_check_unicast_src") { _, c in try c.noArguments() },
    ] + ["enable_script_security", "vrrp_skip_check_adv_addr", "vrrp_strict", "vrrp_garp_interval",
         "vrrp_gna_interval", "vrrp_version", "vrrp_iptables", "max_auto_priority", "lvs_id", "vrrp_mcast_group4",
         "dynamic_interfaces", "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh"].map { name in
        Keyword(name, [.globalDefs], usage: "\(name) …") { p, _ in
            p.warn("'\(name)' has no effect in SwiftLB: its instances speak an authenticated heartbeat of their own, not VRRP on the wire, and run notify scripts as the swiftlb user")
        }
    }

    private static func mail(_ name: String, _ usage: String,
                             _ apply: @escaping @Sendable (inout SMTPAlertSettings, KeywordCall) throws -> Void) -> Keyword {
        Keyword(name, [.globalDefs], usage: usage) { p, c in try apply(&p.config.smtpAlert, c) }
    }

    private static func script(_ name: String, _ usage: String,
                               _ apply: @escaping @Sendable (inout VRRPScript, KeywordCall) throws -> Void) -> Keyword {
        blockKeyword(name, .vrrpScript, usage, \.vrrpScripts, apply)
    }

    /// A keyword of the named keepalived block being read (`vrrp_script NAME`,
    /// `vrrp_track_process NAME`), kept by name in `blocks`.
    static func blockKeyword<Block>(_ name: String, _ kind: SectionKind, _ usage: String,
                                    _ blocks: WritableKeyPath<Configuration, [String: Block]> & Sendable,
                                    _ apply: @escaping @Sendable (inout Block, KeywordCall) throws -> Void) -> Keyword {
        Keyword(name, [kind], usage: usage) { p, c in
            guard let blockName = p.section.blockName, var block = p.config[keyPath: blocks][blockName] else { return }
            try apply(&block, c)
            p.config[keyPath: blocks][blockName] = block
        }
    }

    private static func scriptTime(_ c: KeywordCall) throws(ParseFailure) -> ConfigDuration {
        guard c.args.count == 1, let d = keepalivedTime(c.args[0]), d.nanoseconds > 0 else {
            throw ParseFailure("expects a time in seconds, e.g. '2' (or with a unit, '500ms')")
        }
        return d
    }
}
