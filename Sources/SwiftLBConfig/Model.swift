import SwiftLBRegex

/// The whole parsed lb.conf: an immutable snapshot that every connection reads without locks.
/// A reload builds a new one; a connection keeps the snapshot it started with.
public struct Configuration: Sendable {
    public var file: String
    public var global: GlobalSettings
    public var frontends: [Frontend]
    public var backends: [String: Backend]
    /// The `vrrp NAME` sections and keepalived `vrrp_instance NAME { … }` blocks, in order.
    public var vrrpInstances: [VRRPSettings] = []
    /// The first VIP instance, when this instance shares a floating VIP with a sibling (the
    /// VRRP runtime acts on one instance).
    public var vrrp: VRRPSettings? {
        get { vrrpInstances.first }
        set {
            if let newValue {
                if vrrpInstances.isEmpty { vrrpInstances = [newValue] } else { vrrpInstances[0] = newValue }
            } else {
                vrrpInstances = []
            }
        }
    }
    /// keepalived `vrrp_script` blocks, by name (pending).
    public var vrrpScripts: [String: VRRPScript] = [:]
    /// keepalived `vrrp_track_process` blocks, by name.
    public var vrrpTrackProcesses: [String: VRRPTrackProcess] = [:]
    /// keepalived `track_file` (and `vrrp_track_file`) blocks, by name.
    public var vrrpTrackFiles: [String: VRRPTrackFile] = [:]
    /// keepalived `vrrp_sync_group` blocks, in order.
    public var vrrpSyncGroups: [VRRPSyncGroup] = []
    /// `http-errors NAME` sections: status → file.
    public var httpErrors: [String: [Int: String]] = [:]
    /// `userlist NAME` sections, by name (read by `http_auth(NAME)`).
    public var userlists: [String: Userlist] = [:]
    /// An ACL reads a proxy's or a server's state (`nbsrv`, `be_conn`, `srv_is_up`…): only
    /// then does the runtime give its frontends a directory of its proxies.
    public var readsProxyStates = false
    /// One of those reads a rate (`fe_sess_rate`, `fe_req_rate`, `be_sess_rate`): only then
    /// does the runtime count the proxies' sessions and requests per second.
    public var readsProxyRates = false
    /// `peers NAME` sections, by name.
    public var peers: [String: PeersSection] = [:]
    /// `ring NAME` sections, by name, and `log-forward NAME` sections (LogForwardModel.swift).
    public var rings: [String: RingSection] = [:]
    public var logForwards: [LogForwardSection] = []
    /// keepalived's `global_defs { router_id … }`: the `[ROUTER_ID]` of the alert mails'
    /// subjects (nil: the host name, keepalived's default); heartbeats do not carry it.
    public var routerID: String?
    /// keepalived's `global_defs { script_user NAME [GROUP] }`: who `vrrp_script` and notify
    /// commands run as (through the script runner); nil: swiftlb's own `user`/`group`.
    public var scriptUser: ScriptUser?
    /// keepalived's mail on VRRP transitions (`notification_email`, `smtp_server`, …).
    public var smtpAlert = SMTPAlertSettings()
    /// global_defs' `vrrp_garp_lower_prio_repeat` and `vrrp_garp_lower_prio_delay`: the
    /// default of the instances that write no `garp_lower_prio_repeat`/`_delay` (applied to
    /// them once the file is read).
    public var vrrpGarpLowerPriorityRepeat: Int?
    public var vrrpGarpLowerPriorityDelay: ConfigDuration?
    /// Things that parse but probably are not what the operator meant (`swiftlb check` prints them).
    public var warnings: [ConfigError] = []
    /// Alerts that do not stop the start, as HAProxy's "'maxconnrate' already specified.
    /// Continuing.": printed as [ALERT], and not warnings, so `zero-warning` does not count them
    /// (HAProxy counts only its ha_warning calls).
    public var alerts: [ConfigError] = []
    /// Where each alert fell among the warnings as the file was read: `alerts[i]` came just
    /// before `warnings[alertPlaces[i]]` (or after them all).
    public var alertPlaces: [Int] = []
    /// The alerts and warnings in the order haproxy prints them: as their lines were read,
    /// then the warnings of the checks made once the whole file is read.
    public var alertsAndWarnings: [(ConfigError.Level, ConfigError)] {
        var out: [(ConfigError.Level, ConfigError)] = []
        var next = 0
        for (index, warning) in warnings.enumerated() {
            while next < alerts.count, next >= alertPlaces.count || alertPlaces[next] <= index {
                out.append((.alert, alerts[next]))
                next += 1
            }
            out.append((.warning, warning))
        }
        out += alerts[next...].map { (.alert, $0) }
        return out
    }
    /// `.notice` lines of the file (`swiftlb check` and `run` print them as [NOTICE]).
    public var notices: [ConfigError] = []
    /// The lines of the `defaults` sections: HAProxy numbers them among its proxies.
    public var defaultsLines: [Int] = []

    /// HAProxy's proxy ids (`iid` in `show stat`, `be_id` in `show servers state`), by name:
    /// 1, 2, … in declaration order over every proxy section, `defaults` included (HAProxy 2.6
    /// keeps those in its proxy list too); a `listen` is one proxy.
    /// A proxy with `id N` has N; the others take, in that order, the first number no proxy
    /// holds from a counter that every proxy advances (HAProxy 2.6's `next_pxid` loop).
    public var proxyIDs: [String: Int] {
        var sections = defaultsLines.map { (line: $0, name: nil as String?, id: nil as Int?) }
        sections += frontends.map { ($0.line, $0.name, $0.explicitID) }
        // A `listen` is a frontend and a backend of one name and one line: one proxy.
        sections += backends.values.filter { backend in !frontends.contains { $0.name == backend.name && $0.line == backend.line } }
            .map { ($0.line, $0.name, $0.explicitID) }
        var ids: [String: Int] = [:]
        let taken = Set(sections.compactMap(\.id))
        var next = 1
        for section in sections.sorted(by: { $0.line < $1.line }) {
            var id = section.id ?? 0
            if section.id == nil {
                while taken.contains(next) { next += 1 }
                id = next
            }
            next += 1
            if let name = section.name { ids[name] = id }
        }
        return ids
    }

    public init(file: String, global: GlobalSettings = .init(), frontends: [Frontend] = [], backends: [String: Backend] = [:]) {
        self.file = file
        self.global = global
        self.frontends = frontends
        self.backends = backends
    }
}

/// The `global` section.
public struct GlobalSettings: Sendable, Equatable {
    /// `set-var`/`set-var-fmt proc.NAME …`, in file order.
    public var processVariables: [ProcessVariableSetting] = []
    /// Process-wide cap on concurrent client connections: `maxconn`, else HAProxy's figure
    /// derived from the descriptor limit at boot (DescriptorBudget), set when the file is read.
    public var maxconn: Int = 4096
    /// `maxconn` as written; nil: derived.
    public var configuredMaxconn: Int?
    /// Descriptors the process needs at `maxconn` (HAProxy's `Maxsock`); RLIMIT_NOFILE is set
    /// to it unless `ulimit-n` says otherwise.
    public var maxsock: Int = 8192
    /// `strict-limits`: a descriptor limit that cannot be raised to what `maxconn` needs stops
    /// the start instead of a warning. Off unless written, where HAProxy 2.6 has it on: a file
    /// that ran before (`maxconn 20000` under a hard limit of 20000, the shared benchmark's)
    /// must not stop starting with an upgrade (docs/conformance.md).
    public var strictLimits = false
    /// `fd-hard-limit N`: the most descriptors the derived `maxconn` and the limit may count on.
    public var fdHardLimit: Int?
    /// Event loops (threads) for the data path; nil means one per core.
    public var nbthread: Int? = nil
    public var pidfile: String? = nil
    /// `localpeer NAME` (or `-L NAME` on the command line, which wins): this instance's name
    /// in the `peers` sections; nil: the host name.
    public var localPeer: String? = nil
    /// Where access-log lines go.
    public var logTarget: LogTarget = .stdout
    /// `hard-stop-after`: how long connections may take to end after a stop before the process
    /// exits anyway. nil, as in HAProxy: a soft stop (SIGUSR1) waits for them however long;
    /// SIGTERM/SIGINT wait `stopSignalDrain` (HAProxy stops at once there).
    public var hardStopAfter: ConfigDuration?
    /// SIGTERM/SIGINT without `hard-stop-after`: HAProxy exits at once, SwiftLB lets
    /// connections end for this long first. Bounded because whoever sends SIGTERM (systemd,
    /// docker, Kubernetes) expects the process gone soon and kills it outright after its own
    /// grace (90 s, 10 s, 30 s): past that, connections would be cut without their last response.
    public static let stopSignalDrain: ConfigDuration = .seconds(30)
    /// `stats socket PATH [mode OCTAL] [level user|operator|admin]`: the control socket.
    public var statsSocket: StatsSocket?
    /// Further `stats socket` lines, each one more control socket (HAProxy serves them all).
    public var moreStatsSockets: [StatsSocket] = []
    /// Every control socket, the first `stats socket` first.
    public var statsSockets: [StatsSocket] { (statsSocket.map { [$0] } ?? []) + moreStatsSockets }
    /// `log TARGET …` lines of `global` (stdout/stderr included): what `log global` takes.
    public var logServers: [LogServer] = []
    /// `ssl-default-bind-ciphers`, `-ciphersuites`, `-options`: defaults of every `bind … ssl`.
    public var defaultBindTLS = BindTLS()
    /// `ssl-default-server-ciphers`, `-ciphersuites`, `-options`: defaults of every `server … ssl`.
    public var defaultServerTLS = ServerTLSOptions()
    /// `tune.ssl.cachesize 0` turns the server-side session cache off.
    public var sslSessionCache = true
    /// `unix-bind prefix P mode M user U group G`: what every `bind` on a unix socket gets
    /// unless it says otherwise — the path prefixed with P, and the file's access.
    public var unixBindPrefix: String?
    public var unixBindAccess = UnixSocketAccess()
    /// `tune.ssl.lifetime TIME` (seconds): how long a TLS session may be resumed.
    public var sslLifetime: Int?
    /// `ssl-load-extra-del-ext`: a `crt` file without its key takes it from the file named
    /// without its extension plus `.key` (`site.crt` → `site.key`) instead of `site.crt.key`.
    public var sslLoadExtraDeleteExtension = false

    // Process keywords (see ProcessModel.swift and Sources/swiftlb for what acts on them).

    /// `daemon`: `swiftlb run` detaches once it serves (ignored under systemd's notify mode).
    public var daemon = false
    /// `user`/`uid`: the user to become after binding ports and opening the VIP sockets.
    public var uid: UInt32?
    /// `group`/`gid` (default: the primary group of `user`).
    public var gid: UInt32?
    /// `chroot DIR`: entered after certificates, keys and sockets are open.
    public var chroot: String?
    /// `cpu-map`: event-loop threads pinned to CPUs.
    public var cpuMap: [CPUMapping] = []
    /// `ca-base`/`crt-base`: prefixes of relative `ca-file`/`crt` paths (applied while parsing).
    public var caBase: String?
    public var crtBase: String?
    /// `tune.ssl.default-dh-param N`: the least DHE group size in bits.
    public var sslDefaultDHParam: Int?
    /// `ssl-dh-param-file FILE`: the DH parameters (PEM, read when the file is parsed) of the
    /// DHE suites of every `bind … ssl`; nil: OpenSSL's automatic ones.
    public var sslDHParameters: String?
    /// `tune.ssl.maxrecord N`: plaintext bytes per TLS record a listener sends (nil or 0: no cap).
    public var sslMaxRecord: Int?
    /// `tune.http.cookielen N`: the most a `capture cookie` keeps (63 bytes by default).
    public var cookieCaptureLimit = 63
    /// `tune.bufsize N` (bytes): HAProxy's buffer size, the bound of a request head.
    public var tuneBufsize: Int?
    /// `tune.h2.max-concurrent-streams N`: streams an HTTP/2 client may open at once (100).
    public var tuneH2MaxConcurrentStreams = 100
    /// `tune.h2.initial-window-size N`: the HTTP/2 flow-control window offered to clients (65535).
    public var tuneH2InitialWindowSize = 65535
    /// `tune.maxrewrite N` (bytes): the part of a buffer kept for rewrites (HAProxy: 1024, at
    /// most half of tune.bufsize).
    public var tuneMaxRewrite: Int?
    /// `tune.http.maxhdr N`: header lines per message.
    public var tuneHTTPMaxHeaders: Int?
    /// `tune.vars.*-max-size`: the bytes variables may take, per scope (0: no limit).
    public var variableSizeLimits = VariableSizeLimits()
    /// `h1-case-adjust FROM TO` and `h1-case-adjust-file`: FROM (a lower-case name) → TO,
    /// for the proxies with `option h1-case-adjust-bogus-client|server`.
    public var headerNameCase: [String: String] = [:]
    /// `expose-experimental-directives` was written (SwiftLB has no experimental directive).
    public var exposeExperimentalDirectives = false
    /// `log-tag TAG`: the syslog tag of every line (nil: the program's name, as HAProxy's).
    public var logTag: String?
    /// `log-send-hostname [NAME]`: the hostname field of the syslog header (nil: none sent).
    public var logSendHostname: String?
    /// `maxconnrate N`, `maxsessrate N`, `maxsslrate N`: new connections (sessions, TLS
    /// connections on `ssl` binds) accepted per second, process-wide; the rest wait in the
    /// listeners' backlog, as in HAProxy.
    public var maxConnRate: Int?
    public var maxSessRate: Int?
    public var maxSSLRate: Int?
    /// `zero-warning`: a warning about the configuration is fatal, at start and at a reload.
    public var zeroWarning = false
    /// `tune.rcvbuf.client|server`, `tune.sndbuf.client|server` (bytes): SO_RCVBUF and
    /// SO_SNDBUF of the client and server sockets (nil: the kernel's autotuning).
    public var clientSocketBuffers = SocketBuffers()
    public var serverSocketBuffers = SocketBuffers()
    /// HAProxy's buffer: `tune.bufsize`, else its default, 16384 bytes. A request or response
    /// head must fit one (HeadParser.Limits: larger is a 400 or a 502).
    public var bufferSize: Int { tuneBufsize ?? 16384 }
    /// The part of a buffer kept for rewrites: `tune.maxrewrite`, else 1024, at most half the
    /// buffer (HAProxy caps it so).
    public var rewriteReserve: Int { min(tuneMaxRewrite ?? 1024, bufferSize / 2) }
    /// What a head may fill of a buffer: `bufferSize - rewriteReserve` (15360 by default).
    public var headLimit: Int { bufferSize - rewriteReserve }
    /// `tune.http.maxhdr`, else HAProxy's 101: a message has fewer header lines.
    public var maxHeaders: Int { tuneHTTPMaxHeaders ?? 101 }
    /// `tune.maxaccept N`: connections accepted per listener wake-up.
    public var tuneMaxAccept: Int?
    /// `spread-checks N`: ±N% random jitter on each check interval (0–50).
    public var spreadChecks: Int?
    /// `max-spread-checks TIME`: the first checks at start are spread over at most TIME.
    public var maxSpreadChecks: ConfigDuration?
    /// `ssl-server-verify none|required`: the default of `verify` for `ssl` servers (nil:
    /// required, as in HAProxy).
    public var sslServerVerify: Bool?
    /// `description`, `node` (pending: the stats page shows them).
    public var description: String?
    public var node: String?
    /// `server-state-file FILE`, `server-state-base DIR`: the servers' states `show servers
    /// state` saved, applied once at start (ServerStateModel.swift).
    public var serverStateFile: String?
    public var serverStateBase: String?
    /// `ulimit-n N`: the descriptor limit to set at start.
    public var ulimitN: Int?
    /// `noreuseport`: no listener takes SO_REUSEPORT, so a reload that must open a listener
    /// on an address an old one still holds is refused (ProxyServer.reload).
    public var noReusePort = false
    /// `stats timeout T`: an idle control-socket connection is closed after T.
    public var statsTimeout: ConfigDuration?
    /// The line of each `global` keyword, so that what fails at start (a chroot, a user)
    /// is reported at its line.
    public var keywordLines: [String: Int] = [:]
    public init() {}
}

/// TCP keep-alive probes: TCP_KEEPCNT, TCP_KEEPIDLE and TCP_KEEPINTVL (seconds).
public struct KeepAliveProbes: Sendable, Equatable {
    public var count: Int?
    public var idle: Int?
    public var interval: Int?
    public init(count: Int? = nil, idle: Int? = nil, interval: Int? = nil) {
        self.count = count
        self.idle = idle
        self.interval = interval
    }
}

/// SO_RCVBUF and SO_SNDBUF of one side's sockets, in bytes.
public struct SocketBuffers: Sendable, Equatable {
    public var receive: Int?
    public var send: Int?
    public init(receive: Int? = nil, send: Int? = nil) {
        self.receive = receive
        self.send = send
    }
}

public enum LogTarget: String, Sendable, Equatable { case stdout, stderr }

public struct StatsSocket: Sendable, Equatable {
    public enum Level: String, Sendable, Comparable {
        case user, operator_ = "operator", admin
        private var rank: Int { switch self { case .user: 0; case .operator_: 1; case .admin: 2 } }
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
    }
    public var path: String
    public var mode: UInt16 = 0o600
    public var level: Level = .admin
    /// `expose-fd listeners`: haproxy hands its listening sockets to the next process over
    /// this socket for a seamless reload; SwiftLB reloads in-process and keeps them.
    public var exposeFDListeners = false
    /// `user`/`uid`, `group`/`gid`: the unix socket's owner, when not the process's (names
    /// are resolved when lb.conf is read).
    public var uid: UInt32?
    public var gid: UInt32?
    public init(path: String) { self.path = path }
}

/// The five timeouts of the HTTP data path. nil means "no timeout" (HAProxy warns about that;
/// `swiftlb check` does too).
public struct Timeouts: Sendable, Equatable {
    public var connect: ConfigDuration?
    public var client: ConfigDuration?
    public var server: ConfigDuration?
    public var httpRequest: ConfigDuration?
    public var httpKeepAlive: ConfigDuration?
    /// Bounds each health check (connect + answer); default: `inter` of the server.
    public var check: ConfigDuration?
    /// How long a request may wait for a server slot when every server is at its `maxconn`.
    public var queue: ConfigDuration?
    /// WebSocket and TCP tunnels (pending), half-closed client and server sides (pending).
    public var tunnel: ConfigDuration?
    public var clientFin: ConfigDuration?
    public var serverFin: ConfigDuration?
    /// How long `http-request tarpit` holds a request before answering (default: `connect`).
    public var tarpit: ConfigDuration?
    public init() {}

    /// HAProxy's idle limit of a client connection with no request under way (HTTP/1.1 and
    /// HTTP/2 alike): `http-request` until its first request, `http-keep-alive` after one, each
    /// falling back to `http-request`, then to `client`.
    public func clientIdle(afterARequest: Bool) -> ConfigDuration? {
        afterARequest ? (httpKeepAlive ?? httpRequest ?? client) : (httpRequest ?? client)
    }
}

/// A listening address from `bind`.
public struct BindAddress: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var line: Int
    /// `ssl crt …`: TLS termination on this address.
    public var tls: BindTLS? = nil
    /// `name NAME` (pending): the listener's name in stats and logs.
    public var name: String?
    /// `accept-proxy` (pending): a PROXY protocol header comes first on each connection.
    public var acceptProxy = false
    /// `proto h1|h2`: `h2`, the listener speaks HTTP/2 with prior knowledge; otherwise HTTP/1.1,
    /// or what ALPN chooses on a TLS listener.
    public var proto: String?
    /// `fd@N`, `"fd@${VAR}"`, `unix@PATH` / `/PATH` or `abns@NAME`: an inherited descriptor or a
    /// unix socket instead of host:port (host is "" and port 0 then).
    public var socket: BindSocket?
    /// `mode OCTAL`, `user U`/`uid N`, `group G`/`gid N`: the permissions and owner of a unix
    /// socket file (ignored for the others, as in HAProxy).
    public var unixAccess = UnixSocketAccess()
    /// `interface NAME`: the listener takes only connections that arrive on that interface.
    public var interface: String?
    public init(host: String, port: Int, line: Int, tls: BindTLS? = nil) {
        self.host = host
        self.port = port
        self.line = line
        self.tls = tls
    }
}

/// `bind … ssl crt FILE|DIR [alpn LIST] [ssl-min-ver V] [ciphers C] [ciphersuites S] [no-tls-tickets]`.
public struct BindTLS: Sendable, Equatable {
    /// PEM files or directories of them, in order; the first certificate is the default.
    public var certificates: [String] = []
    public var alpn: [String] = []
    public var minVersion: String?
    public var ciphers: String?
    public var ciphersuites: String?
    public var noTickets = false
    /// `ca-file FILE` and `verify none|optional|required`: client certificates.
    public var caFile: String?
    public var verify: String?
    /// The rest of HAProxy's bind TLS keywords: TLSModel.swift.
    public var more = BindTLSOptions()
    public init() {}
}

/// A listener that is not an IP address and port.
public enum BindSocket: Sendable, Equatable {
    /// `fd@N`: a listening socket inherited from the parent (systemd, VTest).
    case inherited(fd: Int32)
    /// `unix@PATH` or a path: a unix stream socket.
    case unix(path: String)
    /// `abns@NAME`: a unix stream socket in Linux's abstract namespace (no file).
    case abstract(name: String)
}

/// `bind unix@PATH mode 600 user U group G`: who may connect to a listening unix socket. The
/// file is created by bind(2) with the process's umask; these are applied right after.
public struct UnixSocketAccess: Sendable, Equatable {
    /// `mode`: permission bits, octal in lb.conf.
    public var mode: UInt32?
    /// `user`/`uid`, `group`/`gid`: a name or a number.
    public var user: String?
    public var group: String?
    public init() {}
}

/// `option forwardfor [except NET] [header NAME] [if-none]`.
public struct ForwardFor: Sendable, Equatable {
    public init(header: String = "X-Forwarded-For") { self.header = header }
    public var header: String = "X-Forwarded-For"
    /// `except NET` (pending): clients from this network get no header.
    public var except: String?
    /// `if-none` (pending): only when the request has none.
    public var ifNone = false
}

/// The built-in HTTP log layouts: `option httplog`, `option httplog clf`, `option httpslog`.
public enum HTTPLogLayout: Sendable {
    case httplog, clf, httpslog
}

/// Settings a `defaults` section hands down to the proxies that follow it, and that a
/// `frontend`, `backend` or `listen` may override.
public struct ProxyOptions: Sendable {
    public var timeouts = Timeouts()
    public var forwardFor: ForwardFor? = nil
    /// `option originalto [except NET] [header NAME]`: the address the client connected to, in
    /// `X-Original-To` (or NAME), unless it is in NET (`ifNone` unused).
    public var originalTo: ForwardFor? = nil
    public var httpLog = false
    /// Which built-in HTTP layout `option httplog [clf]` / `option httpslog` asked for.
    public var httpLogLayout: HTTPLogLayout = .httplog
    public var dontLogNull = false
    /// `option http-ignore-probes`: a connection that ends or times out before sending a byte
    /// gets no 400/408, no log line and no error count (browsers' pre-connections).
    public var httpIgnoreProbes = false
    /// `option h1-case-adjust-bogus-client`: response names to clients through the global
    /// `h1-case-adjust` map.
    public var h1CaseAdjustBogusClient = false
    /// `option h1-case-adjust-bogus-server`: request names to servers through that map.
    public var h1CaseAdjustBogusServer = false
    public var maxconn: Int? = nil
    public var retries = 3
    public var balance: BalanceAlgorithm = .roundRobin
    /// `hash-type`: how the hashing algorithms map a key to a server.
    public var hashType = HashType()
    /// `hash-balance-factor N`: with `hash-type consistent`, no server takes more than N% of
    /// the backend's average load per weight unit (0: no bound).
    public var hashBalanceFactor = 0
    public var defaultServer = ServerParameters()
    /// `option httpchk` / `http-check …`: nil means TCP connect checks.
    public var httpCheck: HTTPCheck?
    /// `option tcp-check` with its `tcp-check` steps (nil: not a tcp-check backend).
    public var tcpCheck: [TCPCheckStep]?
    public var cookie: CookieSettings?
    /// `compression …`, `filter compression` (nil: no compression, no per-request work).
    public var compression: HTTPCompression?
    /// `load-server-state-from-file`, `server-state-file-name` (ServerStateModel.swift).
    public var serverState = ServerStateSource()
    /// `option redispatch`: a client whose sticky server is down goes to another one.
    public var redispatch = false
    /// `retry-on`: which failures of an idempotent, bodiless request are retried elsewhere.
    public var retryOn: Set<RetryCondition> = [.connFailure]
    /// `mode http|tcp`; tcp unless a `mode` line (here or in the defaults) says http, as in
    /// HAProxy: a copied haproxy.cfg's mode-less Redis or Postgres section stays TCP.
    public var mode: ProxyMode = .tcp
    /// `disabled` (`enabled` undoes it; from a `defaults` section, for the proxies after it):
    /// the proxy is parsed and checked but does not run, as in HAProxy — a frontend does not
    /// listen, a backend has no server (503) and no checks, and neither is in the stats.
    public var disabled = false
    /// `option http-keep-alive|http-server-close|httpclose`: how both sides of an HTTP connection end.
    public var httpConnectionMode: HTTPConnectionMode = .keepAlive
    /// `http-reuse`: which idle server connections a request may be sent over.
    public var httpReuse: HTTPReuse = .safe
    /// `option http-buffer-request`: a request goes to a server only once its body is in
    /// (or SwiftLB's body buffer is full).
    public var httpBufferRequest = false
    /// `option http-restrict-req-hdr-names preserve|delete|reject` (default preserve).
    public var restrictRequestHeaderNames: HeaderNamePolicy = .preserve
    /// `option accept-invalid-http-request`: a request target may hold a fragment (`#`),
    /// which HAProxy 2.6 otherwise refuses with 400 (SwiftLB relaxes nothing else).
    public var acceptInvalidRequest = false
    /// `option accept-invalid-http-response` (a backend's): a response header name may hold
    /// bytes outside the token set and the status line any version word, as HAProxy 2.6
    /// accepts them (`HeadParser.Limits.relaxedResponse` says which, and what stays refused).
    public var acceptInvalidResponse = false
    /// `option http-pretend-keepalive` (a backend's): with `http-server-close` or `httpclose`,
    /// the request goes to the server without `Connection: close`; the server connection
    /// still ends after the response.
    public var pretendKeepAlive = false
    /// `option disable-h2-upgrade`: an HTTP/1 listener's connection that opens with the HTTP/2
    /// preface is refused (400) instead of served as HTTP/2, HAProxy's default upgrade.
    public var disableH2Upgrade = false
    /// `option abortonclose`: a client that shuts its sending side abandons its request
    /// (without it the request is still answered, then the connection closes).
    public var abortOnClose = false
    /// `option tcplog`.
    public var tcpLog = false
    /// `option log-health-checks`, `option logasap`, `option log-separate-errors`,
    /// `option dontlog-normal`.
    public var logHealthChecks = false
    public var logASAP = false
    public var logSeparateErrors = false
    public var dontLogNormal = false
    /// `log-format` (rendered by SwiftLBLog), `log-format-sd` (pending) as written.
    public var logFormat: String?
    /// Where `logFormat` (or `option httplog`) was written (it may be in a `defaults` section).
    public var logFormatLine = 0
    public var logFormatSD: String?
    /// `unique-id-format FORMAT`: each request's id (`%ID` in logs, `unique-id-header`).
    public var uniqueIDFormat: String?
    public var uniqueIDFormatLine = 0
    /// `unique-id-header NAME`: the request header the server gets the id in.
    public var uniqueIDHeader: String?
    /// `log TARGET …` lines of this proxy; `log global` sets `logGlobal`.
    public var logTargets: [LogServer] = []
    /// `rate-limit sessions N`: new sessions this frontend accepts per second (nil: no limit).
    public var rateLimitSessions: Int?
    /// `log-tag TAG`: the syslog tag of this proxy's lines (nil: the global one).
    public var logTag: String?
    public var logGlobal = false
    /// `errorfile`, `errorfiles`, `errorloc*` and `http-error` lines in the order written, a
    /// `defaults` section's first. Kept as one list because HAProxy applies them in that order
    /// (`proxy_check_errors`): for a status, the last line that gives it an answer wins,
    /// whatever its kind.
    public var errorDirectives: [ErrorDirective] = []
    /// `monitor-uri PATH` (pending): answered 200 by SwiftLB itself.
    public var monitorURI: String?
    /// `option pgsql-check user NAME`: the user (the check itself is `protocolCheck`).
    public var pgsqlCheckUser: String?
    /// `fullconn N`: the backend load at which servers with `minconn` reach their `maxconn`
    /// (validation fills HAProxy's default: a tenth of its frontends' `maxconn`).
    public var fullconn: Int?
    /// `tcp-request inspect-delay T` (pending).
    public var tcpInspectDelay: ConfigDuration?
    /// `option tcpka`, `clitcpka`, `srvtcpka` (pending): TCP keep-alive probes on client
    /// and/or server sockets.
    public var clientTCPKeepAlive = false
    public var serverTCPKeepAlive = false
    /// `clitcpka-cnt|idle|intvl`, `srvtcpka-cnt|idle|intvl`: the probes' schedule when
    /// keep-alive is on (nil fields: the kernel's sysctls).
    public var clientKeepAliveProbes = KeepAliveProbes()
    public var serverKeepAliveProbes = KeepAliveProbes()
    /// `option tcp-smart-accept`: the listeners' TCP_QUICKACK is off, so the kernel delays
    /// the ACK of a request and sends it with the response.
    public var tcpSmartAccept = false
    /// `option tcp-smart-connect`: TCP_QUICKACK off before the connect, so the request
    /// leaves with the handshake's last ACK.
    public var tcpSmartConnect = false
    /// `option nolinger`: the sockets of this proxy's side (clients for a frontend, servers
    /// for a backend) close with a reset (SO_LINGER 0) unless the close is a clean one after
    /// a complete answer, as HAProxy's FD_LINGER_RISK.
    public var noLinger = false
    /// `option checkcache`: a cacheable response that sets a cookie is blocked (502).
    public var checkCache = false
    /// `option mysql-check`, `option smtpchk`, … : a check in the server's own protocol
    /// (nil: `httpCheck`, `tcpCheck` or a plain connect).
    public var protocolCheck: ProtocolCheck?
    /// `stats …` (pending): the stats page this proxy serves (a `defaults` one is inherited).
    public var stats: StatsPage?
    /// `http-send-name-header NAME`: the request header (lower case, as HAProxy sends it) that
    /// tells the server its own name; a header of that name from the client is removed.
    public var sendNameHeader: String?
    /// `option prefer-last-server`: a keep-alive client's next request goes to the server its
    /// client connection still holds a connection to (non-hashing algorithms only).
    public var preferLastServer = false
    /// `max-keep-alive-queue N`: the last server is preferred (`option prefer-last-server`)
    /// only while it has a free slot or fewer than N streams wait for it; nil (-1, the
    /// default): whatever its queue.
    public var maxKeepAliveQueue: Int?
    /// `option persist`: a cookie, `use-server` or stick entry naming a DOWN server is followed.
    public var persist = false
    /// `persist rdp-cookie[(NAME)]`: the RDP cookie (`msts` by default) whose `ADDR.PORT.…`
    /// value names the server of a TCP session, as a Microsoft broker writes it.
    public var rdpCookiePersistence: String?
    /// `source ADDR[:PORT]`: the address connections to the servers leave from (a server's
    /// own `source` overrides it).
    public var source: SourceAddress?
    /// `timeout tunnel|client-fin|server-fin` live in `timeouts` (pending).
    public init() {}
}

public enum ProxyMode: String, Sendable, Equatable { case http, tcp }

/// `errorfiles NAME [CODE…]`.
public struct ErrorFilesReference: Sendable, Equatable {
    public var section: String
    /// Empty: every code the section has.
    public var codes: [Int]
    public var line: Int
}

/// One error-page line of a proxy (see `ProxyOptions.errorDirectives`).
public enum ErrorDirective: Sendable, Equatable {
    /// `errorfile`, `errorloc*` or `http-error`: the answer for one status.
    case status(Int, ErrorReply)
    /// `errorfiles NAME [CODE…]`: the pages of an `http-errors` section.
    case section(ErrorFilesReference)
}

/// A proxy's answer for a status it generates, given in place of the error page.
public enum ErrorReply: Sendable, Equatable {
    /// `errorfile CODE FILE`: the file is the whole response.
    case file(path: String, line: Int)
    /// `errorloc|errorloc302|errorloc303 CODE URL`: a redirect (`code` 302 or 303) to URL.
    case location(code: Int, url: String, line: Int)
    /// `http-error status CODE …`: built as `http-request return` builds its answer.
    case reply(HTTPReturn, line: Int)
}

public enum RetryCondition: String, Sendable, Hashable, CaseIterable {
    case connFailure = "conn-failure"
    case emptyResponse = "empty-response"
    case responseTimeout = "response-timeout"
}

public enum BalanceAlgorithm: Sendable, Equatable {
    case roundRobin
    case leastConn
    /// A hash of the client address (`hash-type`): the same address maps to the same server
    /// on every SwiftLB or HAProxy instance with the same servers.
    case source
    /// The least loaded of `draws` random servers ("power of two choices").
    case random(draws: Int)
    /// The first server in declaration order that is up.
    case first
    /// A hash of a part of each request (`uri`, `url_param`, `hdr(NAME)`, `hash-type`); round
    /// robin for a request that lacks it.
    case requestHash(RequestHashKey)
    /// `balance rdp-cookie[(NAME)]`: a hash of the value of the RDP cookie NAME (`mstshash` by
    /// default) of a TCP session's connection request, as `hdr(NAME)` hashes a header; round
    /// robin for a session without it (an HTTP stream never has one).
    case rdpCookie(String)

    /// A hash of the client or the request picks the server (HAProxy's BE_LB_KIND_HI, where
    /// `option prefer-last-server` does nothing).
    public var hashes: Bool {
        switch self {
        case .source, .requestHash, .rdpCookie: true
        case .roundRobin, .leastConn, .random, .first: false
        }
    }

    /// Its name as `balance` writes it (the stats' `algo` column).
    public var name: String {
        switch self {
        case .roundRobin: "roundrobin"
        case .leastConn: "leastconn"
        case .source: "source"
        case .random: "random"
        case .first: "first"
        case .requestHash(.uri): "uri"
        case .requestHash(.urlParameter): "url_param"
        case .requestHash(.header): "hdr"
        case .rdpCookie: "rdp-cookie"
        }
    }
}

/// `hash-type map-based|consistent [FUNCTION [avalanche]]`: HAProxy 2.6's hashing, so that a key
/// picks the server HAProxy picks. `mapBased` (the default): the key modulo the total weight, in
/// a table of the servers up (lb_map.c); `consistent`: the nearest of weight × 16 points per
/// server placed by its id (lb_chash.c). The function is sdbm unless named; `consistent` without
/// one also mixes the hash (`avalanche`), as HAProxy does.
public struct HashType: Sendable, Equatable {
    public enum Method: String, Sendable { case mapBased = "map-based", consistent }
    public enum Function: String, Sendable, CaseIterable { case sdbm, djb2, wt6, crc32 }

    public var method: Method
    public var function: Function
    public var avalanche: Bool

    public init(method: Method = .mapBased, function: Function = .sdbm, avalanche: Bool = false) {
        self.method = method
        self.function = function
        self.avalanche = avalanche
    }
}

/// What a request-hashing `balance` hashes (HAProxy's `uri`, `url_param`, `hdr`).
public enum RequestHashKey: Sendable, Equatable {
    /// `balance uri [len N] [depth N] [whole] [path-only]`: the path (`whole`: with its query),
    /// of an absolute-form target without scheme and authority when `pathOnly`; cut to
    /// `length` characters and to `depth` directories.
    case uri(length: Int?, depth: Int?, whole: Bool, pathOnly: Bool)
    /// `balance url_param NAME`: the value of query parameter NAME.
    case urlParameter(String)
    /// `balance hdr(NAME) [use_domain_only]`: the header's value; `domainOnly`: of a host
    /// name, only the label before the top-level domain (`www.example.com` → `example`).
    case header(String, domainOnly: Bool)
}

/// Per-server parameters that `default-server` can preset.
public struct ServerParameters: Sendable, Equatable {
    public var weight = 1
    /// `pool-max-conn N`: idle connections to this server each event loop keeps (-1: no
    /// limit beyond SwiftLB's own, 0: none); nil: SwiftLB's limit.
    public var poolMaxConn: Int?
    public var check = false
    public var inter: ConfigDuration = .seconds(2)
    public var fastinter: ConfigDuration?
    public var downinter: ConfigDuration?
    public var rise = 2
    public var fall = 3
    public var checkPort: Int?
    public var checkAddress: String?
    /// `check-send-proxy`: the checks' connections start with a PROXY header (the server's
    /// version, v1 without `send-proxy-v2`) even where the server's own `send-proxy` does not
    /// reach them (another check `port` or `addr`).
    public var checkSendProxy = false

    /// The PROXY header a check's own connection starts with, as HAProxy 2.6 decides it
    /// (`check.send_proxy`): with `check-send-proxy`, or with `send-proxy[-v2]` when the check
    /// goes where the traffic goes (no `port`, no `addr`); nil: none.
    public var checkProxyHeader: ProxyProtocolVersion? {
        checkSendProxy || (sendProxy != nil && checkPort == nil && checkAddress == nil) ? sendProxy ?? .v1 : nil
    }
    /// `init-addr METHOD,…`: how the address is found at start, in order: `libc` (resolve the
    /// name), `none` (start without one, in maintenance), an IP address, `last` (skipped:
    /// SwiftLB's state file keeps no addresses). nil: HAProxy's default `last,libc`.
    public var initAddr: [String]?
    public var cookie: String?
    public var backup = false
    /// `disabled`: starts in maintenance (never chosen, not checked).
    public var disabled = false
    /// Requests in flight on this server at most; more wait in the backend's queue.
    public var maxconn: Int?
    /// `minconn N`: with `maxconn`, a dynamic limit between the two that grows with the
    /// backend's load up to its `fullconn` (HAProxy's `srv_dynamic_maxconn`); a `minconn`
    /// above `maxconn` (or alone) becomes the static `maxconn`, as HAProxy applies it.
    public var minconn: Int?
    /// After coming UP (or out of maintenance) the server's share ramps up over this time.
    public var slowstart: ConfigDuration?
    /// `ssl [verify none|required] [ca-file F] [sni NAME]`: TLS towards this server.
    public var tls: ServerTLS?
    /// The TLS parameters of a server without `ssl` or `check-ssl` (`verify`, `ca-file`,
    /// `crt`…): they do nothing for its traffic, and are what its backend's `http-check|
    /// tcp-check connect ssl` steps connect with, as in HAProxy. Nil when `tls` is set.
    public var checkRuleTLS: ServerTLS?
    /// Set on a server whose TLS (traffic, checks or a check rule's `connect ssl`) would
    /// verify with no `ca-file` to verify against, HAProxy's refusal; nil otherwise.
    var verifyWithoutCA: String?
    /// `observe layer4|layer7`: count errors of real traffic (passive checks).
    public var observe: ObserveLayer?
    public var errorLimit = 10
    public var onError: OnError = .failCheck
    /// `send-proxy` / `send-proxy-v2`: the PROXY protocol header towards the server (and on
    /// its checks' connections, unless they go to another `port` or `addr`: `checkProxyHeader`).
    public var sendProxy: ProxyProtocolVersion?
    /// `source ADDR[:PORT]`: where connections to this server leave from (else the proxy's).
    public var source: SourceAddress?
    /// `proxy-v2-options unique-id,authority,crc32c`: the TLVs a `send-proxy-v2` header
    /// carries (HAProxy's names; the TLS ones are refused).
    public var proxyV2Options: Set<String> = []
    /// `maxqueue N` (pending).
    public var maxQueue: Int?
    /// `on-marked-down shutdown-sessions` (pending): close the sessions of a server that
    /// goes DOWN.
    public var shutdownSessionsOnMarkedDown = false
    /// `on-marked-up shutdown-backup-sessions` (pending).
    public var shutdownBackupSessionsOnMarkedUp = false
    /// `agent-check` and its `agent-*` parameters.
    public var agent = AgentCheckSettings()
    /// `proto h2`: each request goes to the server as an HTTP/2 stream (h2c with prior
    /// knowledge, or over `ssl`); `proto h1`, the default, is HTTP/1.1.
    public var http2 = false
    /// `ws auto|h1|h2` as written (nil: not written). SwiftLB relays a WebSocket as an
    /// HTTP/1.1 Upgrade on the server's HTTP/1 connection, which is what `auto` and `h1` mean
    /// there; the parser refuses the combinations that would need more.
    public var webSocketMode: String?
    /// `server NAME HOST` without a port (set by the server line, not `default-server`):
    /// each connection goes to the port the client connected to, as in HAProxy; such a
    /// connection is never pooled for another client (its port may differ).
    public var portFromClient = false
    /// `id N`: the server's number in its backend (`sid` of the stats, `srv_id` of the
    /// server-state file) instead of the next free one (`Backend.serverIDs`).
    public var id: Int?
    public init() {}
}

/// HAProxy's agent check of a server: a TCP connection to `agent-addr:agent-port` every
/// `agent-inter`, `agent-send` written, the agent's one-line answer applied (SwiftLBHealth's
/// AgentReply says what it may contain).
public struct AgentCheckSettings: Sendable, Equatable {
    public var enabled = false
    public var port: Int?
    public var address: String?
    public var send: String?
    /// Default: the server's `inter`.
    public var inter: ConfigDuration?
    public init() {}
}

public enum ProxyProtocolVersion: String, Sendable, Equatable { case v1 = "send-proxy", v2 = "send-proxy-v2" }

/// TLS towards a server.
public struct ServerTLS: Sendable, Equatable {
    /// `verify required` checks the server's certificate against `caFile` (and `sni`).
    public var verify = false
    public var caFile: String?
    /// The name sent with SNI (and verified, with `verify required`).
    public var sni: String?
    /// `sni EXPRESSION` (`req.hdr(host)`, `ssl_fc_sni`…): evaluated for each new connection,
    /// which then carries only requests whose expression gives the same name (HAProxy 2.6
    /// hashes it into the connection). `sni` is nil then; checks use `check-sni` only.
    public var sniExpression: String?
    /// The rest of HAProxy's server TLS keywords: TLSModel.swift.
    public var more = ServerTLSOptions()
    public init() {}
}

public enum ObserveLayer: String, Sendable, Equatable {
    /// Connection failures, resets and timeouts.
    case layer4
    /// Those, plus invalid responses and 5xx statuses (except 501 and 505).
    case layer7
}

/// What `error-limit` consecutive observed errors do (HAProxy's `on-error`).
public enum OnError: String, Sendable, Equatable {
    /// Check again at `fastinter` from now on until a check passes.
    case fastinter
    /// Count as one failed check.
    case failCheck = "fail-check"
    /// Count as `fall - 1` failed checks: the next failed check takes the server down.
    case suddenDeath = "sudden-death"
    /// Take the server down at once; checks bring it back.
    case markDown = "mark-down"
}

/// `option httpchk [METHOD] [URI] [VERSION]` with `http-check send hdr` and `http-check expect`.
public struct HTTPCheck: Sendable, Equatable {
    public var method = "OPTIONS"
    public var uri = "/"
    public var version = "HTTP/1.0"
    public var headers: [(String, String)] = []
    /// `http-check expect` rules, all checked against the one answer in order (HAProxy 2.2+);
    /// none: the status must be 2xx or 3xx.
    public var expects: [Expect] = []
    /// The last expectation (HAProxy's implicit `status 200-399` without one).
    public var expect: Expectation { expects.last?.match ?? .status([200...399]) }
    /// `http-check send-state`: each check carries an `X-Haproxy-Server-State` header saying
    /// how the checker sees the server (servers that drain themselves read it).
    public var sendState = false
    /// `set-var`/`unset-var` lines not yet followed by an expect rule (the next one takes them).
    public var pendingAssignments: [Assignment] = []
    /// `http-check send body TEXT`: sent with its Content-Length.
    public var body: String?
    /// `http-check disable-on-404`: a 404 from an UP server puts it in NOLB (no new clients,
    /// sticky ones stay) until its check passes again.
    public var disableOn404 = false
    /// Written in a `defaults` section: a proxy's own `http-check send` then starts afresh
    /// (HAProxy: a proxy with http-check rules of its own inherits none), not from these.
    public var fromDefaults = false
    /// `http-check connect …` before the send/expect rules: where and how the check connects
    /// instead of the server's check address and TLS (one connection per check: SwiftLB runs
    /// one request per HTTP check, so a second `connect` is refused).
    public var connect: TCPCheckConnect?
    /// The order of the rules written so far (parse time only: HTTPCheckRuleOrder).
    public var order = HTTPCheckRuleOrder()

    /// What one `http-check expect` rule matches.
    public enum Expectation: Sendable, Equatable {
        /// `status 200,201-299`: codes and ranges.
        case status([ClosedRange<Int>])
        /// `rstatus REGEX` on the status code's digits.
        case rstatus(String)
        /// `string TEXT` in the body.
        case string(String)
        /// PCRE2 pattern on the body, compiled when the checker starts (validated at parse time).
        case rstring(String)
        /// `hdr|fhdr name [-m M] NAME [value [-m M] VALUE]`: some header whose name matches
        /// (case-insensitive) has a value that matches (`hdr`: each comma-separated value;
        /// `fhdr`: the whole line); without a value pattern the name alone decides.
        case header(name: TextMatch, value: TextMatch?, fullLine: Bool)
    }

    /// A `-m str|beg|end|sub|reg` pattern of a header expectation; `name-lf`/`value-lf`
    /// give a log-format (`format`) rendered on each answer instead of a fixed text.
    public struct TextMatch: Sendable, Equatable {
        public enum Method: String, Sendable { case str, beg, end, sub, reg }
        public var method: Method
        public var text: String
        public var format: [CheckFormatPart]?
        public init(_ method: Method, _ text: String, format: [CheckFormatPart]? = nil) {
            self.method = method; self.text = text; self.format = format
        }
    }

    /// `http-check set-var(check.NAME) EXPR` (value) / `unset-var(check.NAME)` (nil), run
    /// before the expect rule that follows it, on the same answer.
    public struct Assignment: Sendable, Equatable {
        public var name: String
        public var value: CheckSample?
        public init(name: String, value: CheckSample?) { self.name = name; self.value = value }
    }

    /// One `http-check expect [min-recv N] [ok-status S] [error-status S] [tout-status S]
    /// [comment C] [!] MATCH PATTERN` rule.
    public struct Expect: Sendable, Equatable {
        public var negated = false
        public var match: Expectation
        /// Read: SwiftLB reads the whole answer (to the close, up to 16 KiB) before it
        /// matches, so this only bounds nothing further; kept to accept HAProxy's configs.
        public var minRecv: Int?
        /// Printed as the check's info when this rule fails.
        public var comment: String?
        /// HAProxy's status names (`L7OK`, `L7RSP`, `L7TOUT`…) the check ends in when this
        /// rule passes, fails or times out, instead of the match's own.
        public var okStatus: String?
        public var errorStatus: String?
        public var timeoutStatus: String?
        /// The `set-var`/`unset-var` lines written between the previous rule and this one.
        public var assignments: [Assignment] = []
        public init(_ match: Expectation, negated: Bool = false) { self.match = match; self.negated = negated }
    }

    public static func == (a: HTTPCheck, b: HTTPCheck) -> Bool {
        a.method == b.method && a.uri == b.uri && a.version == b.version && a.expects == b.expects && a.sendState == b.sendState && a.body == b.body && a.disableOn404 == b.disableOn404
            && a.connect == b.connect
            && a.headers.map { $0.0 + ":" + $0.1 } == b.headers.map { $0.0 + ":" + $0.1 }
    }
    public init() {}
}

/// The sample fetches an HTTP check's variables and log-format patterns may use: SwiftLB's
/// check has no general sample engine, only what HAProxy's reg-tests and real configs use.
public enum CheckSample: Sendable, Equatable {
    /// `str(TEXT)`
    case string(String)
    /// `res.hdr(NAME)` (the last comma-separated value) / `res.fhdr(NAME)` (the last line).
    case responseHeader(String, fullLine: Bool)
    /// `var(check.NAME)`
    case variable(String)
}

/// A piece of a check's log-format pattern (`"x-%[var(check.name)]"`).
public enum CheckFormatPart: Sendable, Equatable {
    case literal(String)
    case sample(CheckSample)
}

/// A health check that speaks the server's own protocol, as HAProxy's built-in ones do (each is
/// one file of SwiftLBHealth: a pure exchange, run by its conversation runner).
public enum ProtocolCheck: Sendable, Equatable {
    /// `option mysql-check [user NAME [post-41|pre-41]]`: without a user, the server's greeting
    /// must not be an error packet; with one, a login (no password) must get an OK, then QUIT.
    case mysql(user: String?, post41: Bool)
    /// `option smtpchk [HELO|EHLO DOMAIN]`: a 2xx banner, a 2xx answer to `command` (default
    /// `HELO localhost`), then QUIT answered 2xx.
    case smtp(command: String)
    /// `option ldap-check`: an anonymous LDAPv3 bind must succeed.
    case ldap
    /// `option ssl-hello-chk`: an SSLv3 ClientHello must get a TLS handshake or alert record.
    case sslHello
    /// `option redis-check`: PING must get +PONG.
    case redis
    /// `option pgsql-check user NAME`: a StartupMessage must get an authentication request.
    case pgsql(user: String)
    /// `option spop-check`: a SPOE HAPROXY-HELLO must get a valid AGENT-HELLO.
    case spop

    /// Checks of a service that is not HTTP (a backend serving `mode http` with one is
    /// probably a mistake); ssl-hello-chk also checks HTTPS servers.
    public var speaksOtherThanHTTP: Bool { self != .sslHello }
}

/// One step of a `tcp-check` sequence, run in order on one connection.
public enum TCPCheckStep: Sendable, Equatable {
    /// `tcp-check connect [default] [port N] [addr A] [ssl] [sni S] [alpn L] [send-proxy]
    /// [linger] …`: closes the previous connection (if any) and opens one; implicit (to the
    /// server's check address) when the sequence does not start with one.
    case connect(TCPCheckConnect)
    /// `tcp-check send TEXT` / `send-binary HEX`.
    case send([UInt8])
    /// `tcp-check expect [min-recv N] [!] string TEXT | rstring REGEX | binary HEX [comment C]`:
    /// wait until what the server sent since the last send matches; `!` inverts. Without
    /// `min-recv` a mismatch waits for more (the close or the timeout decide); with it, the
    /// first N bytes decide.
    case expect(negated: Bool, match: TCPCheckMatch, minRecv: Int? = nil, comment: String? = nil)
}

/// Where and how a `tcp-check connect` (or `http-check connect`) step connects (HAProxy's
/// `parse_tcpcheck_connect`): unset fields take the server's check settings with `default`,
/// the plain server address otherwise.
public struct TCPCheckConnect: Sendable, Equatable {
    public var port: Int?
    /// `addr A[:P]`: another address (its port, if any, unless `port` says otherwise).
    public var address: String?
    /// `default`: the server's check settings (check-ssl, check-sni, check-alpn, check-send-proxy, port, addr).
    public var useServerSettings = false
    public var ssl = false
    public var sni: String?
    public var alpn: [String]?
    /// `send-proxy`: a PROXY header (the server's version, v1 without one) opens the connection.
    public var sendProxy = false
    /// `via-socks4`: through the server's `socks4` proxy.
    public var viaSocks4 = false
    /// `linger`: close cleanly (a FIN) rather than with the reset (SO_LINGER 0) HAProxy's
    /// checks end with when they close first (SwiftLBHealth's CheckConnectionClose).
    public var linger = false
    public init(port: Int? = nil) { self.port = port }
}

public enum TCPCheckMatch: Sendable, Equatable {
    case string([UInt8])
    case rstring(String)
    case binary([UInt8])
}

/// `cookie NAME insert|rewrite|prefix [indirect] [nocache] [postonly] [httponly] [secure] [domain D]`.
public struct CookieSettings: Sendable, Equatable {
    public enum Mode: String, Sendable { case insert, rewrite, prefix }
    public var name: String
    public var mode: Mode
    public var indirect = false
    public var nocache = false
    public var postonly = false
    public var httponly = false
    public var secure = false
    public var domains: [String] = []
    /// (insert) a cookie not seen for this long is ignored, and it is refreshed as it is used.
    public var maxidle: ConfigDuration?
    /// (insert) a cookie older than this (since first set) is ignored.
    public var maxlife: ConfigDuration?
    public init(name: String, mode: Mode) {
        self.name = name
        self.mode = mode
    }
}

/// A `frontend` (or the front half of a `listen`).
public struct Frontend: Sendable {
    public var name: String
    public var line: Int
    public var binds: [BindAddress] = []
    public var options: ProxyOptions
    public var defaultBackend: String?
    public var switchingRules: [BackendSwitchingRule] = []
    public var requestRules: [HeaderRule] = []
    public var responseRules: [HeaderRule] = []
    public var redirects: [RedirectRule] = []
    /// Every `http-request`/`http-response`/`http-after-response` rule in order (a superset
    /// of `requestRules`/`responseRules`, with the actions that are pending).
    public var httpRequestRules: [HTTPRule] = []
    public var httpResponseRules: [HTTPRule] = []
    public var httpAfterResponseRules: [HTTPRule] = []
    /// `tcp-request connection|content …`.
    public var tcpRequestRules: [TCPRule] = []
    /// `stick-table …` of a frontend (what its `track-sc` rules count into without `table`).
    public var stickTable: StickTable?
    /// `capture request|response header …` (pending).
    public var captures: [HeaderCapture] = []
    /// `capture cookie NAME len N`: the log's `%CC` and `%CS`.
    public var cookieCapture: CookieCapture?
    /// `monitor fail if|unless COND` (pending): the monitor URI answers 503 while it holds.
    public var monitorFail: [Condition] = []
    /// `description TEXT` (pending: shown on the stats page).
    public var description: String?
    /// `id N`: the proxy's number (`iid` of the stats, `be_id` of the server-state file)
    /// instead of the next free one (see `Configuration.proxyIDs`).
    public var explicitID: Int?

    public init(name: String, line: Int, options: ProxyOptions) {
        self.name = name
        self.line = line
        self.options = options
    }
}

/// `redirect scheme https|location URL [code N] [if|unless COND]`.
public struct RedirectRule: Sendable {
    public enum Target: Sendable, Equatable {
        /// Same host and path, another scheme.
        case scheme(String)
        case location(String)
        /// `prefix P`: P before the request's path (`http-request redirect` only).
        case prefix(String)
    }
    public var target: Target
    public var code: Int
    public var condition: Condition?
    public var line: Int
    /// `drop-query`, `append-slash`, `ignore-empty` (`http-request redirect` only; there the
    /// target is a log-format).
    public var dropQuery = false
    public var appendSlash = false
    public var ignoreEmpty = false
}

/// `use_backend NAME if|unless CONDITION`: evaluated in order, the first match wins.
public struct BackendSwitchingRule: Sendable {
    /// The backend's name, or (`isDynamic`) the log-format text that names it.
    public var backend: String
    public var condition: Condition
    public var line: Int
    /// A name with `%` (`use_backend %[req.hdr(host),map_dom(F)]`, `be_%[path,field(2,/)]`) is
    /// a log-format evaluated per request, as in HAProxy; a result naming no backend ends the
    /// search and the request goes to `default_backend`. Checked when the runtime is built.
    public var isDynamic: Bool { backend.contains("%") }
}

/// A `backend` (or the back half of a `listen`).
public struct Backend: Sendable {
    public var name: String
    public var line: Int
    public var options: ProxyOptions
    public var servers: [Server] = []
    public var requestRules: [HeaderRule] = []
    public var responseRules: [HeaderRule] = []
    /// Every HTTP rule of the backend in order (see `Frontend.httpRequestRules`).
    public var httpRequestRules: [HTTPRule] = []
    public var httpResponseRules: [HTTPRule] = []
    public var httpAfterResponseRules: [HTTPRule] = []
    /// `redirect …` written in a `backend`: run after its http-request rules, as HAProxy's
    /// (a `listen` section's are its frontend's).
    public var redirects: [RedirectRule] = []
    /// `tcp-request content …` (pending).
    public var tcpRequestRules: [TCPRule] = []
    /// `description TEXT` (pending: shown on the stats page).
    public var description: String?
    /// `stick-table …` and `stick on|match|store-request …`.
    public var stickTable: StickTable?
    public var stickRules: [StickRule] = []
    /// `use-server …` in order (PersistenceModel.swift).
    public var serverSelectionRules: [ServerSelectionRule] = []
    /// `force-persist …` and `ignore-persist …` in order.
    public var persistenceRules: [PersistenceRule] = []
    /// `id N` (see `Frontend.explicitID`).
    public var explicitID: Int?

    /// Server numbers by name: `id N` where written, else the first number no server of the
    /// backend holds from a counter every server advances, in declaration order (HAProxy
    /// 2.6's `srv->puid` loop: `s1`, `s2 id 1`, `s3` are 2, 1, 4).
    public var serverIDs: [String: Int] {
        let taken = Set(servers.compactMap(\.parameters.id))
        var ids: [String: Int] = [:]
        var next = 1
        for server in servers {
            if let id = server.parameters.id {
                ids[server.name] = id
            } else {
                while taken.contains(next) { next += 1 }
                ids[server.name] = next
            }
            next += 1
        }
        return ids
    }

    public init(name: String, line: Int, options: ProxyOptions) {
        self.name = name
        self.line = line
        self.options = options
    }
}

public struct Server: Sendable, Equatable {
    public var name: String
    public var host: String
    public var port: Int
    public var parameters: ServerParameters
    public var line: Int
    /// `server NAME /path/to/socket`, `unix@PATH` or `abns@NAME`: host is "" and port 0.
    public var unixPath: String? = nil
    /// `abns@NAME`: `unixPath` is a name in Linux's abstract namespace.
    public var unixAbstract = false
    public var weight: Int { parameters.weight }
}

/// `http-request set-header|add-header|del-header …`, applied before the request goes upstream.
public struct HeaderRule: Sendable {
    public enum Action: Sendable {
        case set(name: String, value: ValueFormat)
        case add(name: String, value: ValueFormat)
        case delete(name: String)
    }
    public var action: Action
    public var condition: Condition?
    public var line: Int
}

/// A header value as written in lb.conf: literal text and `%[fetch]` samples, HAProxy's
/// log-format subset that makes sense for request headers.
public struct ValueFormat: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case literal(String)
        case fetch(SampleFetch)
        /// A `%[…]` sample expression beyond the model's fetches (converters, response
        /// fetches…), as written: the rule engine compiles it, and refuses it with the rule's
        /// line when it cannot evaluate it.
        case expression(String)
    }
    public var parts: [Part]
}

/// What a `%[…]` in a header value, or an ACL, reads from the request.
public enum SampleFetch: Sendable, Equatable, Hashable {
    case src, srcPort, dst, dstPort
    case method, path, query, url
    case header(String)
    /// `ssl_fc`: the client connection is TLS.
    case sslFC
    /// `ssl_fc_sni` (pending): the SNI name the client sent.
    case sslFCSNI
    /// `src_conn_cur` without a stick table: connections open from the client's address
    /// (pending; with a table it is a `stickCounter`).
    case srcConnCur
    /// `var(SCOPE.NAME)` (pending).
    case variable(String)
    /// `sc0_http_req_rate`, `sc_conn_cur(1)`, `src_http_req_rate([TABLE])`…: a stick table
    /// entry's counter (an integer).
    case stickCounter(StickCounterFetch)
    /// `req.len`: bytes of the request buffered so far (tcp-request content inspection).
    case requestLength
    /// `req.payload(OFFSET,LENGTH)`: bytes of the buffered request (LENGTH 0: to the end).
    case payload(offset: Int, length: Int)
    /// `req.payload_lv(OFFSET1,LENGTH[,OFFSET2])`: a length-prefixed block of the request.
    case payloadLV(lengthOffset: Int, lengthSize: Int, dataOffset: Int?)
    /// `req.ssl_hello_type`: 1 for a TLS ClientHello at the start of the request.
    case sslHelloType
    /// `req.proto_http` (the predefined ACL `HTTP`): the bytes held start with an HTTP/1
    /// request line (true in an HTTP stream).
    case requestProtoHTTP
    /// `wait_end` (the predefined ACL `WAIT_END`): true once `tcp-request inspect-delay` is
    /// over (or nothing more can come); before, the rule waits. True in an HTTP stream.
    case waitEnd
    /// `req.ssl_sni`: the server name of that ClientHello.
    case requestSSLSNI
    /// `req.ssl_alpn`: the first protocol its ALPN extension offers.
    case requestSSLALPN
    /// `rdp_cookie([NAME])` / `req.rdp_cookie`: the value of the `Cookie: NAME=VALUE` line of
    /// an RDP connection request (X.224) at the start of the bytes; any name without NAME.
    case rdpCookie(String?)
    /// `rdp_cookie_cnt([NAME])`: 1 when that cookie is there, 0 when the request has none
    /// (the predefined ACL `RDP_COOKIE` is `req.rdp_cookie_cnt gt 0`).
    case rdpCookieCount(String?)
    /// `status`: the response's status (an integer; response and after-response rules).
    case status
    /// `capture.req.uri`: the request's URI as it was received.
    case capturedURI
    /// `http_auth(USERLIST)`: the request's Basic credentials are a user of the list.
    case httpAuth(String)
    /// `ssl_c_*`, `ssl_f_*`, `ssl_s_*`, `ssl_fc_*`: the TLS session's facts.
    case tls(TLSFetch)
    /// A sample expression as written (a fetch with converters, or a fetch only the rules
    /// know), compiled into `ACLCriterion.sample`.
    case expression(String)
    /// `nbsrv(BACKEND)`, `be_conn`, `srv_is_up(BACKEND/SERVER)`…: a proxy's or a server's state.
    case proxyState(ProxyStateFetch)
}

extension SampleFetch {
    /// Fetches whose value is a number, compared with `eq|ge|gt|le|lt`.
    public var isInteger: Bool {
        switch self {
        case .srcConnCur, .stickCounter, .requestLength, .sslHelloType, .rdpCookieCount: true
        case .tls(let f): f.isInteger
        case .proxyState(let f): !f.isBoolean
        default: false
        }
    }

    /// The name lb.conf writes a payload fetch with (for messages).
    public var payloadFetchName: String? {
        switch self {
        case .requestLength: "req.len"
        case .payload: "req.payload"
        case .payloadLV: "req.payload_lv"
        case .sslHelloType: "req.ssl_hello_type"
        case .requestSSLSNI: "req.ssl_sni"
        case .requestSSLALPN: "req.ssl_alpn"
        case .rdpCookie: "req.rdp_cookie"
        case .rdpCookieCount: "req.rdp_cookie_cnt"
        default: nil
        }
    }

    /// Payload fetches whose value is text, matched as strings (not as bytes, `-m bin`).
    public var isTextPayload: Bool {
        switch self {
        case .requestSSLSNI, .requestSSLALPN, .rdpCookie: true
        default: false
        }
    }

    /// Fetches that read the request's buffered bytes (tcp-request content inspection).
    public var readsPayload: Bool {
        switch self {
        case .requestLength, .payload, .payloadLV, .sslHelloType, .requestSSLSNI, .requestSSLALPN, .requestProtoHTTP, .waitEnd,
             .rdpCookie, .rdpCookieCount: true
        default: false
        }
    }
}

/// What a stick-counter fetch reads: the entry tracked by `track-scN`, or the one of the
/// client address in a table; which counter.
public struct StickCounterFetch: Sendable, Hashable {
    public enum Entry: Sendable, Hashable {
        /// `scN_*` / `sc_*(N)`: what `track-scN` tracks; `table` (the `sc_*(N,TABLE)` form)
        /// reads the same key in another table.
        case tracked(Int, table: String?)
        /// `src_*([TABLE])`: the client address in TABLE (the proxy's own table without it).
        case source(table: String?)
        /// `table_cnt([TABLE])`, `table_avl([TABLE])`: the table as a whole.
        case table(String?)
    }
    public enum Counter: String, Sendable, Hashable {
        case connCur = "conn_cur", connCount = "conn_cnt", connRate = "conn_rate"
        case httpReqCount = "http_req_cnt", httpReqRate = "http_req_rate"
        /// `get_gpt0`, `get_gpc0|1`, `gpc0|1_rate`: the general purpose tag, counters and their
        /// rates; `inc_gpc0|1` adds one and reads the new value, `clr_gpc0|1` resets and reads
        /// the value before (fetches that change the entry, as in HAProxy).
        case gpt0 = "get_gpt0", gpc0 = "get_gpc0", gpc1 = "get_gpc1", gpc0Rate = "gpc0_rate", gpc1Rate = "gpc1_rate"
        case incGPC0 = "inc_gpc0", incGPC1 = "inc_gpc1", clearGPC0 = "clr_gpc0", clearGPC1 = "clr_gpc1"
        /// `table_cnt`: entries in use; `table_avl`: entries still free.
        case tableCount = "cnt", tableAvailable = "avl"
    }
    public var entry: Entry
    public var counter: Counter
    public init(entry: Entry, counter: Counter) {
        self.entry = entry
        self.counter = counter
    }
}

/// `capture cookie NAME len N`: the first request cookie, and the first cookie a response
/// sets, whose name begins with NAME, logged as `NAME…=VALUE` cut to `length` bytes.
public struct CookieCapture: Sendable, Equatable {
    public var name: String
    public var length: Int
}

/// `script_user NAME [GROUP]`, resolved when lb.conf is read (the group: GROUP, else NAME's
/// primary group, as keepalived takes it).
public struct ScriptUser: Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32
}
