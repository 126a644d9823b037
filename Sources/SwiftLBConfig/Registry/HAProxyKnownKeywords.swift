/// Keywords HAProxy 2.6 knows (its configuration.txt: the global list of section 3 and the
/// proxy keyword matrix of section 4.1) that no feature of SwiftLB registers: recognised, so
/// an operator gets "not supported by SwiftLB" instead of a misleading "did you mean".
extension KeywordRegistry {
    static let haproxyKnownKeywords: [Keyword] = {
        // A name a feature registers, or the family of one (`http-request` of
        // `http-request set-header`: its other actions are listed by the rule feature).
        // Names of a `peers` section (`disabled`, `server`…) do not count for the proxies.
        let proxyFeatures = Self.features.filter { $0.sections != [SectionKind.peers] }
        var registered = Set(proxyFeatures.map(\.name))
        for keyword in proxyFeatures where keyword.wordCount > 1 { registered.insert(keyword.family) }
        let reason = "SwiftLB does not implement it (docs/configuration.md lists what it does)"
        let global = globalNames.filter { !registered.contains($0) }.map { Keyword.unsupported($0, [.global], reason) }
        let proxy = proxyNames.filter { !registered.contains($0.0) }.map { name, code in
            Keyword.unsupported(name, sectionsFromMatrix(code), reason)
        }
        return global + proxy
    }()

    /// "DFLB": the columns of HAProxy's matrix where the keyword is allowed.
    static func sectionsFromMatrix(_ code: String) -> Set<SectionKind> {
        var result = Set<SectionKind>()
        if code.contains("D") { result.insert(.defaults) }
        if code.contains("F") { result.insert(.frontend) }
        if code.contains("L") { result.insert(.listen) }
        if code.contains("B") { result.insert(.backend) }
        return result
    }

    private static let globalNames = [
        "51degrees-cache-size", "51degrees-data-file", "51degrees-property-name-list",
        "51degrees-property-separator", "ca-base", "chroot", "cluster-secret", "cpu-map", "crt-base",
        "daemon", "default-path", "description", "deviceatlas-json-file", "deviceatlas-log-level",
        "deviceatlas-properties-cookie", "deviceatlas-separator", "expose-experimental-directives",
        "external-check", "fd-hard-limit", "gid", "grace", "group", "h1-accept-payload-with-any-method",
        "h1-case-adjust", "h1-case-adjust-file", "h2-workaround-bogus-websocket-clients", "hard-stop-after",
        "httpclient.resolvers.id", "httpclient.resolvers.prefer", "httpclient.ssl.ca-file",
        "httpclient.ssl.verify", "insecure-fork-wanted", "insecure-setuid-wanted", "issuers-chain-path",
        "localpeer", "log", "log-send-hostname", "log-tag", "lua-load", "lua-load-per-thread",
        "lua-prepend-path", "mworker-max-reloads", "nbthread", "node", "numa-cpu-mapping", "pidfile",
        "pp2-never-send-local", "presetenv", "resetenv", "set-dumpable", "set-var", "setenv",
        "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites", "ssl-default-bind-curves",
        "ssl-default-bind-options", "ssl-default-server-ciphers", "ssl-default-server-ciphersuites",
        "ssl-default-server-options", "ssl-dh-param-file", "ssl-propquery", "ssl-provider",
        "ssl-load-extra-del-ext", "ssl-load-extra-files", "ssl-provider-path", "ssl-server-verify", "ssl-skip-self-issued-ca", "stats", "strict-limits", "uid",
        "ulimit-n", "unix-bind", "unsetenv", "user", "wurfl-cache-size", "wurfl-data-file",
        "wurfl-information-list", "wurfl-information-list-separator", "busy-polling", "max-spread-checks",
        "maxcompcpuusage", "maxcomprate", "maxconn", "maxconnrate", "maxpipes", "maxsessrate", "maxsslconn",
        "maxsslrate", "maxzlibmem", "no-memory-trimming", "noepoll", "noevports", "nogetaddrinfo", "nokqueue",
        "nopoll", "noreuseport", "nosplice", "profiling.tasks", "server-state-base", "server-state-file",
        "spread-checks", "ssl-engine", "ssl-mode-async", "tune.buffers.limit", "tune.buffers.reserve",
        "tune.bufsize", "tune.comp.maxlevel", "tune.fail-alloc", "tune.fd.edge-triggered",
        "tune.h2.header-table-size", "tune.h2.initial-window-size", "tune.h2.max-concurrent-streams",
        "tune.http.cookielen", "tune.http.logurilen", "tune.http.maxhdr", 
        "tune.idletimer", "tune.lua.forced-yield", "tune.lua.maxmem", "tune.lua.service-timeout",
        "tune.lua.session-timeout", "tune.lua.task-timeout", "tune.maxaccept", "tune.maxpollevents",
        "tune.maxrewrite", "tune.pattern.cache-size", "tune.peers.max-updates-at-once", "tune.pipesize",
        "tune.pool-high-fd-ratio", "tune.pool-low-fd-ratio", "tune.quic.frontend.conn-tx-buffers.limit",
        "tune.quic.frontend.max-idle-timeout", "tune.quic.frontend.max-streams-bidi",
        "tune.quic.retry-threshold", "tune.rcvbuf.client", "tune.rcvbuf.server", "tune.recv_enough",
        "tune.runqueue-depth", "tune.sched.low-latency", "tune.sndbuf.client", "tune.sndbuf.server",
        "tune.ssl.cachesize",  "tune.ssl.capture-cipherlist-size",
        "tune.ssl.default-dh-param", "tune.ssl.force-private-cache", "tune.ssl.hard-maxrecord",
        "tune.ssl.keylog", "tune.ssl.lifetime", "tune.ssl.maxrecord", "tune.ssl.ssl-ctx-cache-size",
        "tune.vars.global-max-size", "tune.vars.proc-max-size", "tune.vars.reqres-max-size",
        "tune.vars.sess-max-size", "tune.vars.txn-max-size", "tune.zlib.memlevel", "tune.zlib.windowsize",
        "quiet", "zero-warning",
    ]

    private static let proxyNames: [(String, String)] = [
        ("acl", "DFLB"), ("backlog", "DFL"), ("balance", "DLB"), ("bind", "FL"), ("bind-process", "DFLB"),
        ("capture cookie", "FL"), ("capture request header", "FL"), ("capture response header", "FL"),
        ("clitcpka-cnt", "DFL"), ("clitcpka-idle", "DFL"), ("clitcpka-intvl", "DFL"), ("compression", "DFLB"),
        ("cookie", "DLB"), ("declare capture", "FL"), ("default-server", "DLB"), ("default_backend", "DFL"),
        ("description", "FLB"), ("disabled", "DFLB"), ("dispatch", "LB"), ("email-alert from", "DFLB"),
        ("email-alert level", "DFLB"), ("email-alert mailers", "DFLB"), ("email-alert myhostname", "DFLB"),
        ("email-alert to", "DFLB"), ("enabled", "DFLB"), ("errorfile", "DFLB"), ("errorfiles", "DFLB"),
        ("errorloc", "DFLB"), ("errorloc302", "DFLB"), ("errorloc303", "DFLB"), ("error-log-format", "DFL"),
        ("force-persist", "LB"), ("filter", "FLB"), ("fullconn", "DLB"), ("hash-balance-factor", "DLB"), ("hash-type", "DLB"),
        ("http-after-response", "DFLB"), ("http-check comment", "DLB"), ("http-check connect", "DLB"),
        ("http-check disable-on-404", "DLB"), ("http-check expect", "DLB"), ("http-check send", "DLB"),
        ("http-check send-state", "DLB"), ("http-check set-var", "DLB"), ("http-check unset-var", "DLB"),
        ("http-error", "DFLB"), ("http-request", "DFLB"), ("http-response", "DFLB"), ("http-reuse", "DLB"),
        ("http-send-name-header", "DLB"), ("id", "FLB"), ("ignore-persist", "LB"),
        ("load-server-state-from-file", "DLB"), ("log", "DFLB"), ("log-format", "DFL"),
        ("log-format-sd", "DFL"), ("log-tag", "DFLB"), ("max-keep-alive-queue", "DLB"), ("maxconn", "DFL"),
        ("mode", "DFLB"), ("monitor fail", "FL"), ("monitor-uri", "DFL"), ("option abortonclose", "DLB"),
        ("option accept-invalid-http-request", "DFL"), ("option accept-invalid-http-response", "DLB"),
        ("option allbackups", "DLB"), ("option checkcache", "DLB"), ("option clitcpka", "DFL"),
        ("option contstats", "DFL"), ("option disable-h2-upgrade", "DFL"), ("option dontlog-normal", "DFL"),
        ("option dontlognull", "DFL"), ("option forwardfor", "DFLB"),
        ("option h1-case-adjust-bogus-client", "DFL"), ("option h1-case-adjust-bogus-server", "DLB"),
        ("option http-buffer-request", "DFLB"), ("option http-ignore-probes", "DFL"),
        ("option http-keep-alive", "DFLB"), ("option http-no-delay", "DFLB"),
        ("option http-pretend-keepalive", "DLB"), ("option http-restrict-req-hdr-names", "DFLB"),
        ("option http-server-close", "DFLB"), ("option http-use-proxy-header", "DFL"),
        ("option httpchk", "DLB"), ("option httpclose", "DFLB"), ("option httplog", "DFL"),
        ("option httpslog", "DFL"), ("option independent-streams", "DFLB"), ("option ldap-check", "DLB"),
        ("option external-check", "DLB"), ("option log-health-checks", "DLB"),
        ("option log-separate-errors", "DFL"), ("option logasap", "DFL"), ("option mysql-check", "DLB"),
        ("option nolinger", "DFLB"), ("option originalto", "DFLB"), ("option persist", "DLB"),
        ("option pgsql-check", "DLB"), ("option prefer-last-server", "DLB"), ("option redispatch", "DLB"),
        ("option redis-check", "DLB"), ("option smtpchk", "DLB"), ("option socket-stats", "DFL"),
        ("option splice-auto", "DFLB"), ("option splice-request", "DFLB"), ("option splice-response", "DFLB"),
        ("option spop-check", "DLB"), ("option srvtcpka", "DLB"), ("option ssl-hello-chk", "DLB"),
        ("option tcp-check", "DLB"), ("option tcp-smart-accept", "DFL"), ("option tcp-smart-connect", "DLB"),
        ("option tcpka", "DFLB"), ("option tcplog", "DFLB"), ("option transparent", "DLB"),
        ("option idle-close-on-response", "DFL"), ("external-check command", "DLB"),
        ("external-check path", "DLB"), ("rate-limit sessions", "DFL"),
        ("redirect", "FLB"), ("retries", "DLB"), ("retry-on", "DLB"), ("server", "LB"),
        ("server-state-file-name", "DLB"), ("server-template", "LB"), ("source", "DLB"),
        ("srvtcpka-cnt", "DLB"), ("srvtcpka-idle", "DLB"), ("srvtcpka-intvl", "DLB"), ("stats admin", "FLB"),
        ("stats auth", "DFLB"), ("stats enable", "DFLB"), ("stats hide-version", "DFLB"),
        ("stats http-request", "FLB"), ("stats realm", "DFLB"), ("stats refresh", "DFLB"),
        ("stats scope", "DFLB"), ("stats show-desc", "DFLB"), ("stats show-legends", "DFLB"),
        ("stats show-node", "DFLB"), ("stats uri", "DFLB"), ("stick match", "LB"), ("stick on", "LB"),
        ("stick store-request", "LB"), ("stick store-response", "LB"), ("stick-table", "FLB"),
        ("tcp-check comment", "DLB"), ("tcp-check connect", "DLB"), ("tcp-check expect", "DLB"),
        ("tcp-check send", "DLB"), ("tcp-check send-lf", "DLB"), ("tcp-check send-binary", "DLB"),
        ("tcp-check send-binary-lf", "DLB"), ("tcp-check set-var", "DLB"), ("tcp-check unset-var", "DLB"),
        ("tcp-request connection", "DFL"), ("tcp-request content", "DFLB"),
        ("tcp-request inspect-delay", "DFLB"), ("tcp-request session", "DFL"),
        ("tcp-response content", "DLB"), ("tcp-response inspect-delay", "DLB"), ("timeout check", "DLB"),
        ("timeout client", "DFL"), ("timeout client-fin", "DFL"), ("timeout connect", "DLB"),
        ("timeout http-keep-alive", "DFLB"), ("timeout http-request", "DFLB"), ("timeout queue", "DLB"),
        ("timeout server", "DLB"), ("timeout server-fin", "DLB"), ("timeout tarpit", "DFLB"),
        ("timeout tunnel", "DLB"), ("transparent", "DLB"), ("unique-id-format", "DFL"),
        ("unique-id-header", "DFL"), ("use_backend", "FL"), ("use-fcgi-app", "LB"), ("use-server", "LB"),
    ]
}
