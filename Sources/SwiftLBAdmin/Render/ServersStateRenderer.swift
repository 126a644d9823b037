/// `show servers state [BACKEND]`: HAProxy's versioned dump (format version 1), the one
/// `server-state-file` and HAProxy tooling parse: a `1` line, the `# be_id be_name …` header,
/// then one space-separated line per server with HAProxy's numeric encodings.
public enum ServersStateRenderer {
    public static let header = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"

    /// HAProxy's admin-state bits: forced maintenance, configured maintenance, forced drain.
    static let forcedMaint = 0x01, configMaint = 0x04, forcedDrain = 0x08
    /// HAProxy's check-state bits: configured, enabled, paused (server in maintenance).
    static let checkConfigured = 0x02, checkEnabled = 0x04, checkPaused = 0x08
    /// An agent check's bits: configured, enabled, agent.
    static let agentState = 0x02 | 0x04 | 0x10

    /// nil `backend` means all; a backend that does not exist is the caller's error to report.
    public static func render(_ snapshot: StatsSnapshot, backend: String? = nil) -> String {
        var out = "1\n" + header + "\n"
        let stopped = Set(snapshot.stoppedProxies.map(\.name))
        for proxy in (snapshot.proxies + snapshot.stoppedProxies).sorted(by: { $0.iid < $1.iid }) {
            guard let b = proxy.backend, backend == nil || backend == proxy.name else { continue }
            // HAProxy numbers a proxy's servers, and puts them back in line order, only when it
            // starts the proxy: a stopped one shows id 0 and its servers last line first.
            let isStopped = stopped.contains(proxy.name)
            for s in isStopped ? b.servers.reversed() : b.servers {
                out += line(proxy, s, sid: isStopped ? 0 : s.sid).joined(separator: " ") + "\n"
            }
        }
        return out
    }

    static func line(_ proxy: ProxyStats, _ s: ServerStats, sid: Int) -> [String] {
        // `disabled` in lb.conf is CMAINT for as long as the line says so, and FMAINT while the
        // server is in maintenance: set ready (then drained) at runtime, HAProxy writes 4 (12).
        var admin = 0
        if s.admin == .maint { admin |= forcedMaint }
        if s.maintFromConfig { admin |= configMaint }
        if s.admin == .drain { admin |= forcedDrain }
        var checkState = 0
        var checkStatus = CheckStats.Status.initializing.rawValue
        var checkResult = 0
        var checkHealth = 0
        if let c = s.check {
            checkState = checkConfigured | (c.enabled ? checkEnabled : 0) | (s.admin == .maint ? checkPaused : 0)
            checkStatus = c.status.rawValue
            checkResult = c.status.result
            checkHealth = c.health
        } else {
            // HAProxy keeps an unchecked server's health at its `rise` (2 by default) while
            // it is up, 0 once stopped, and pauses its (unconfigured) check in maintenance.
            checkHealth = s.operational == .stopped ? 0 : s.rise
            // (haproxy 2.6 leaves it 0 when the server has an agent instead.)
            if s.admin == .maint && s.agent == nil { checkState = checkPaused }
        }
        return [
            "\(proxy.iid)", proxy.name, "\(sid)", s.name, s.address.isEmpty || s.onUnixSocket ? "-" : s.address,
            // A server in maintenance is STOPPED to HAProxy, whatever its checks last said.
            "\(s.admin == .maint ? ServerStats.OperationalState.stopped.rawValue : s.operational.rawValue)", "\(admin)", "\(s.userWeight)", "\(s.initialWeight)", "\(s.lastChange)",
            "\(checkStatus)", "\(checkResult)", "\(checkHealth)", "\(checkState)", s.agent == nil ? "0" : "\(agentState)",
            proxy.forcedID ? "1" : "0", s.forcedID ? "1" : "0", s.fqdn ?? "-", "\(s.port)", "-", s.useTLS ? "1" : "0", "0", "-", s.agent?.address ?? "-", "\(s.agent?.port ?? 0)",
        ]
    }
}
