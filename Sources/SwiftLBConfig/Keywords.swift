/// The keyword tables of lb.conf: which keyword is allowed in which section, and which known
/// HAProxy/keepalived keywords are owned by work that has not landed yet.
///
/// A keyword SwiftLB does not act on is refused, never accepted silently: an operator who ports a
/// haproxy.cfg must learn at `swiftlb check` time that, say, health checks are not running.
enum SectionKind: String, CaseIterable {
    case global, defaults, frontend, backend, listen
}

enum Keywords {
    static let sections = ["global", "defaults", "frontend", "backend", "listen", "vrrp"]
    /// Sections we recognise but do not implement yet, with the reason given to the user.
    static let pendingSections: [String: String] = [
        "vrrp_instance": "write keepalived's vrrp_instance as a 'vrrp NAME' section (one keyword per line, no braces)",
        "vrrp_script": "use 'track_backend NAME' in the vrrp section: the VIP follows backend health checks",
        "userlist": "user lists are not supported",
        "resolvers": "DNS resolvers are not supported; servers are resolved once at start",
        "peers": "stick-table peers are not supported",
    ]

    static let global = ["maxconn", "nbthread", "pidfile", "log", "hard-stop-after", "stats",
                         "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites", "ssl-default-bind-options",
                         "tune.ssl.cachesize"]
    static let pendingGlobal: [String: String] = [
        "tune.ssl.default-dh-param": "DHE parameters are OpenSSL's built-in ones; not configurable",
        "daemon": "swiftlb runs in the foreground; use systemd or the demo script to supervise it",
        "chroot": "chroot is not supported", "user": "privilege drop is not supported",
        "group": "privilege drop is not supported",
    ]

    static let vrrp = ["interface", "virtual_router_id", "priority", "advert_int", "virtual_ipaddress",
                       "unicast_src_ip", "unicast_peer", "udp_port", "nopreempt", "preempt_delay",
                       "garp_master_repeat", "garp_master_refresh", "notify_master", "notify_backup",
                       "notify_fault", "notify", "auth_key_file", "auth", "track_backend"]
    static let pendingVRRP: [String: String] = [
        "state": "both instances start as BACKUP and the priorities elect the master; remove 'state'",
        "authentication": "use 'auth_key_file FILE' (HMAC-SHA256), or 'auth none' on a trusted link",
        "track_script": "use 'track_backend NAME [weight N]'",
        "track_interface": "not supported; a master whose link is down is replaced by its peer after 3 x advert_int",
        "mcast_src_ip": "multicast is not supported; use unicast_src_ip and unicast_peer",
        "version": "the heartbeat has one version; remove 'version'",
        "virtual_routes": "not supported",
    ]

    /// Keyword → sections it may appear in.
    static let proxy: [String: Set<SectionKind>] = [
        "mode": [.defaults, .frontend, .backend, .listen],
        "bind": [.frontend, .listen],
        "default_backend": [.defaults, .frontend, .listen],
        "use_backend": [.frontend, .listen],
        "acl": [.frontend, .backend, .listen],
        "balance": [.defaults, .backend, .listen],
        "server": [.backend, .listen],
        "default-server": [.defaults, .backend, .listen],
        "timeout": [.defaults, .frontend, .backend, .listen],
        "option": [.defaults, .frontend, .backend, .listen],
        "http-request": [.frontend, .backend, .listen],
        "maxconn": [.defaults, .frontend, .listen],
        "retries": [.defaults, .backend, .listen],
        "log": [.defaults, .frontend, .backend, .listen],
        "cookie": [.defaults, .backend, .listen],
        "retry-on": [.defaults, .backend, .listen],
        "tcp-check": [.defaults, .backend, .listen],
        "redirect": [.frontend, .listen],
        "http-response": [.frontend, .backend, .listen],
        "http-check": [.defaults, .backend, .listen],
    ]
    static let pendingProxy: [String: String] = [
        "hash-type": "the source hash is always consistent; hash-type is not configurable",
        "stats": "the stats page is not implemented yet",
        "http-reuse": "connection reuse is always 'safe'-like and not configurable",
        "errorfile": "custom error files are not supported",
        "compression": "compression is not supported",
        "capture": "captures are not supported",
        "stick-table": "stick tables are not supported; use 'cookie … insert' or 'balance source' for stickiness",
        "stick": "stick tables are not supported; use 'cookie … insert' or 'balance source' for stickiness",
    ]

    static let options = ["forwardfor", "httplog", "dontlognull", "http-keep-alive", "httpchk", "redispatch", "tcp-check"]
    static let pendingOptions: [String: String] = [
        "tcplog": "mode tcp is not supported",
        "http-server-close": "connections are always kept alive on both sides",
        "httpclose": "connections are always kept alive on both sides",
        "forceclose": "connections are always kept alive on both sides",
        "log-health-checks": "state changes are always logged; per-check logging is not supported",
    ]
    static let timeouts = ["connect", "client", "server", "http-request", "http-keep-alive", "check", "queue"]
    static let pendingTimeouts: [String: String] = [
        "tunnel": "WebSocket tunnels are not implemented yet",
        "client-fin": "not supported", "server-fin": "not supported",
    ]
    static let serverParameters = ["weight", "check", "inter", "fastinter", "downinter", "rise", "fall",
                                   "port", "addr", "cookie", "backup", "disabled", "maxconn", "observe",
                                   "error-limit", "on-error", "slowstart", "ssl", "verify", "ca-file", "sni"]
    static let pendingServerParameters: [String: String] = [
        "crt": "client certificates towards servers are not supported",
        "check-ssl": "checks of an 'ssl' server use TLS already",
    ]
    static let bindParameters = ["ssl", "crt", "alpn", "ssl-min-ver", "ciphers", "ciphersuites", "no-tls-tickets"]
    static let pendingBindParameters: [String: String] = [
        "ca-file": "client certificates are not supported",
        "verify": "client certificates are not supported",
        "crt-list": "use a directory of PEM files with 'crt DIR'",
        "npn": "NPN is obsolete; use alpn",
        "ssl-max-ver": "not supported",
        "accept-proxy": "the PROXY protocol is not supported",
    ]
    static let httpRequestActions = ["set-header", "add-header", "del-header"]
    static let balanceAlgorithms = ["roundrobin", "leastconn", "source", "random", "first"]
    static let pendingBalance: [String: String] = [
        "static-rr": "use roundrobin", "uri": "not implemented", "hdr": "not implemented",
        "url_param": "not implemented", "rdp-cookie": "not implemented",
    ]
}
