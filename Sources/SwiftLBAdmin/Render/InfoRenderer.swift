/// `show info`: HAProxy 2.6's process fields, in its order and spelling (`Name: value`), so
/// tools that read HAProxy's `show info` find every line they look for. Fields for features
/// SwiftLB does not have (pipes, compression, peers, pools) read 0, as HAProxy shows them
/// when unused.
public enum InfoRenderer {
    /// The fields as (name, value) pairs, also used by the JSON and Prometheus renderers.
    public static func fields(_ p: ProcessStats, hideVersion: Bool = false) -> [(String, String)] {
        let uptime = p.uptime
        let days = uptime / 86_400, hours = (uptime / 3600) % 24, minutes = (uptime / 60) % 60, seconds = uptime % 60
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let version = hideVersion ? "" : p.version
        return [
            ("Name", p.name),
            ("Version", version),
            ("Release_date", hideVersion ? "" : p.releaseDate),
            ("Nbthread", "\(p.nbthread)"),
            ("Nbproc", "1"),
            ("Process_num", "1"),
            ("Pid", "\(p.pid)"),
            ("Uptime", "\(days)d \(hours)h\(two(minutes))m\(two(seconds))s"),
            ("Uptime_sec", "\(uptime)"),
            ("Memmax_MB", "0"),
            ("PoolAlloc_MB", "0"),
            ("PoolUsed_MB", "0"),
            ("PoolFailed", "0"),
            ("Ulimit-n", "\(p.ulimitN)"),
            ("Maxsock", "\(p.maxsock)"),
            ("Maxconn", "\(p.maxconn)"),
            ("Hard_maxconn", "\(p.hardMaxconn)"),
            ("CurrConns", "\(p.currentConnections)"),
            ("CumConns", "\(p.cumulativeConnections)"),
            ("CumReq", "\(p.cumulativeRequests)"),
            ("MaxSslConns", "0"),
            ("CurrSslConns", "\(p.currentSSLConnections)"),
            ("CumSslConns", "\(p.cumulativeSSLConnections)"),
            ("Maxpipes", "0"),
            ("PipesUsed", "0"),
            ("PipesFree", "0"),
            ("ConnRate", "\(p.connectionRate)"),
            ("ConnRateLimit", "0"),
            ("MaxConnRate", "\(p.connectionRateMax)"),
            ("SessRate", "\(p.sessionRate)"),
            ("SessRateLimit", "0"),
            ("MaxSessRate", "\(p.sessionRateMax)"),
            ("SslRate", "\(p.sslRate)"),
            ("SslRateLimit", "0"),
            ("MaxSslRate", "\(p.sslRateMax)"),
            ("SslFrontendKeyRate", "0"),
            ("SslFrontendMaxKeyRate", "0"),
            ("SslFrontendSessionReuse_pct", "\(p.sslFrontendSessionReusePercent)"),
            ("SslBackendKeyRate", "0"),
            ("SslBackendMaxKeyRate", "0"),
            ("SslCacheLookups", "0"),
            ("SslCacheMisses", "0"),
            ("CompressBpsIn", "0"),
            ("CompressBpsOut", "0"),
            ("CompressBpsRateLim", "0"),
            ("Tasks", "\(p.jobs)"),
            ("Run_queue", "0"),
            ("Idle_pct", "\(p.idlePercent)"),
            ("node", p.node),
            ("description", p.description),
            ("Stopping", p.stopping ? "1" : "0"),
            ("Jobs", "\(p.jobs)"),
            ("Unstoppable Jobs", "0"),
            ("Listeners", "\(p.listeners)"),
            ("ActivePeers", "0"),
            ("ConnectedPeers", "0"),
            ("DroppedLogs", "\(p.droppedLogs)"),
            ("BusyPolling", "0"),
            ("FailedResolutions", "0"),
            ("TotalBytesOut", "\(p.bytesOutTotal)"),
            ("TotalSplicdedBytesOut", "0"),
            ("BytesOutRate", "\(p.bytesOutRate)"),
            ("DebugCommandsIssued", "0"),
            ("CumRecvLogs", "0"),
            ("Build info", version),
            ("Memmax_bytes", "0"),
            ("PoolAlloc_bytes", "0"),
            ("PoolUsed_bytes", "0"),
            ("Start_time_sec", "\(p.startTime)"),
            ("Tainted", "0"),
        ]
    }

    /// The `show info` text: one `Name: value` line per field (empty ones left out, as
    /// HAProxy leaves out an unset `description`). The CLI adds the blank line that ends every
    /// answer.
    public static func render(_ p: ProcessStats, hideVersion: Bool = false) -> String {
        fields(p, hideVersion: hideVersion).filter { !$0.1.isEmpty }.map { "\($0.0): \($0.1)\n" }.joined()
    }
}
