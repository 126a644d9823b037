import SwiftLBRegex

/// The whole parsed lb.conf: an immutable snapshot that every connection reads without locks.
/// A reload builds a new one; a connection keeps the snapshot it started with.
public struct Configuration: Sendable {
    public var file: String
    public var global: GlobalSettings
    public var frontends: [Frontend]
    public var backends: [String: Backend]
    /// Things that parse but probably are not what the operator meant (`swiftlb check` prints them).
    public var warnings: [ConfigError] = []

    public init(file: String, global: GlobalSettings = .init(), frontends: [Frontend] = [], backends: [String: Backend] = [:]) {
        self.file = file
        self.global = global
        self.frontends = frontends
        self.backends = backends
    }
}

/// The `global` section.
public struct GlobalSettings: Sendable, Equatable {
    /// Process-wide cap on concurrent client connections (HAProxy's default is derived from
    /// ulimit; we use a fixed, documented one).
    public var maxconn: Int = 4096
    /// Event loops (threads) for the data path; nil means one per core.
    public var nbthread: Int? = nil
    public var pidfile: String? = nil
    /// Where access-log lines go.
    public var logTarget: LogTarget = .stdout
    /// On SIGTERM, how long in-flight requests may take before the process exits anyway.
    public var hardStopAfter: ConfigDuration = .seconds(30)
    public init() {}
}

public enum LogTarget: String, Sendable, Equatable { case stdout, stderr }

/// The five timeouts of the HTTP data path. nil means "no timeout" (HAProxy warns about that;
/// `swiftlb check` does too).
public struct Timeouts: Sendable, Equatable {
    public var connect: ConfigDuration?
    public var client: ConfigDuration?
    public var server: ConfigDuration?
    public var httpRequest: ConfigDuration?
    public var httpKeepAlive: ConfigDuration?
    public init() {}
}

/// A listening address from `bind`.
public struct BindAddress: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var line: Int
}

/// `option forwardfor [header NAME]`.
public struct ForwardFor: Sendable, Equatable {
    public var header: String = "X-Forwarded-For"
}

/// Settings a `defaults` section hands down to the proxies that follow it, and that a
/// `frontend`, `backend` or `listen` may override.
public struct ProxyOptions: Sendable {
    public var timeouts = Timeouts()
    public var forwardFor: ForwardFor? = nil
    public var httpLog = false
    public var dontLogNull = false
    public var maxconn: Int? = nil
    public var retries = 3
    public var balance: BalanceAlgorithm = .roundRobin
    public var defaultServer = ServerParameters()
    public init() {}
}

public enum BalanceAlgorithm: String, Sendable, Equatable {
    case roundRobin = "roundrobin"
}

/// Per-server parameters that `default-server` can preset.
public struct ServerParameters: Sendable, Equatable {
    public var weight = 1
    public init() {}
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

    public init(name: String, line: Int, options: ProxyOptions) {
        self.name = name
        self.line = line
        self.options = options
    }
}

/// `use_backend NAME if|unless CONDITION`: evaluated in order, the first match wins.
public struct BackendSwitchingRule: Sendable {
    public var backend: String
    public var condition: Condition
    public var line: Int
}

/// A `backend` (or the back half of a `listen`).
public struct Backend: Sendable {
    public var name: String
    public var line: Int
    public var options: ProxyOptions
    public var servers: [Server] = []
    public var requestRules: [HeaderRule] = []

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
    public var weight: Int
    public var line: Int
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
    }
    public var parts: [Part]
}

/// What a `%[…]` in a header value, or an ACL, reads from the request.
public enum SampleFetch: Sendable, Equatable, Hashable {
    case src, srcPort, dst, dstPort
    case method, path, query, url
    case header(String)
}
