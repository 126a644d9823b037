/// `ring NAME`: a buffer of log messages (HAProxy's sink) that `log ring@NAME` targets write
/// into, each in the ring's `format`, and that is forwarded to its `server`s over TCP with
/// octet counting (RFC 6587), TLS with `ssl`.
public struct RingSection: Sendable, Equatable {
    /// `server NAME ADDR:PORT [ssl [verify none|required] [ca-file F] [sni S]]`.
    public struct Server: Sendable, Equatable {
        public var name: String
        public var host: String
        public var port: Int
        public var line: Int
        /// `ssl`: TLS towards the server (`verify`/`ca-file`/`sni` as a proxy's server).
        public var tls: ServerTLS?
        /// `log-proto octet-count`: each message after its length (RFC 6587); by default
        /// (`legacy`) each message ends with a LF.
        public var octetCounting = false
        public init(name: String, host: String, port: Int, line: Int) {
            self.name = name; self.host = host; self.port = port; self.line = line
        }
    }

    public var name: String
    public var line: Int
    public var description: String?
    /// `format`: how messages are written into the ring (HAProxy's default: raw).
    public var format: LogServer.Format?
    /// `maxlen`: longer messages are cut (HAProxy's default: the ring's size).
    public var maxLength: Int?
    /// `size`: bytes the ring holds; when full, the oldest messages not yet sent are dropped.
    public var size = 16384
    public var timeoutConnect: ConfigDuration?
    public var timeoutServer: ConfigDuration?
    public var servers: [Server] = []
    public init(name: String, line: Int) { self.name = name; self.line = line }
}

/// `log-forward NAME`: a syslog relay. Messages received on `dgram-bind` (UDP, one per
/// datagram) and `bind` (TCP, octet counting or LF-framed, TLS with `ssl crt`) are parsed as
/// RFC 3164 / 5424 and sent to every `log` target (an address or `ring@NAME`), with their
/// header rebuilt in the target's format (HAProxy 2.6's src/log.c).
public struct LogForwardSection: Sendable, Equatable {
    /// One `log` line: the target, and whether `format` was written (without it, the format
    /// follows the received header, as HAProxy's LOG_FORMAT_UNSPEC).
    public struct Target: Sendable, Equatable {
        public enum Destination: Sendable, Equatable {
            case server(LogServer)
            case ring(String)
        }
        public var destination: Destination
        public var formatGiven: Bool
        public var facility: String
        public var maxLevel: String?
        public var minLevel: String?
        public var line: Int
        public init(destination: Destination, formatGiven: Bool, facility: String, line: Int) {
            self.destination = destination; self.formatGiven = formatGiven; self.facility = facility; self.line = line
        }
    }

    public var name: String
    public var line: Int
    public var datagramBinds: [BindAddress] = []
    public var streamBinds: [BindAddress] = []
    public var targets: [Target] = []
    /// `maxconn`: TCP clients at once (HAProxy's default for log-forward: 10).
    public var maxconn = 10
    /// `backlog`: the TCP listeners' accept queue.
    public var backlog: Int?
    /// `timeout client`: a TCP client silent this long is closed (HAProxy's default: none).
    public var timeoutClient: ConfigDuration?
    public init(name: String, line: Int) { self.name = name; self.line = line }
}
