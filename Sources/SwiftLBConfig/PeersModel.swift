import Glibc

/// A `peers NAME` section: the instances that share stick tables over HAProxy's peers
/// protocol (SwiftLB and HAProxy 2.6 alike), the address this one listens on, and the tables
/// declared in the section itself (`table NAME …`, referenced as `PEERS/NAME`).
///
/// Which peer is this instance is decided when the process starts, not here: the one named
/// like the local peer name (`-L NAME` on the command line, else `localpeer`, else the host
/// name), as in HAProxy.
public struct PeersSection: Sendable, Equatable {
    /// `peer NAME ADDR:PORT` or `server NAME [ADDR:PORT]`.
    public struct Peer: Sendable, Equatable {
        public var name: String
        /// nil: `server NAME` without an address (the local peer in HAProxy 2.x's form).
        public var host: String?
        public var port: Int?
        public var line: Int
        /// `ssl …`: TLS when dialling this peer.
        public var tls: PeerTLS?
        public init(name: String, host: String?, port: Int?, line: Int, tls: PeerTLS? = nil) {
            self.name = name
            self.host = host
            self.port = port
            self.line = line
            self.tls = tls
        }
    }

    /// `ssl [verify none|required] [ca-file FILE]` on a `server` (or `default-server`) line.
    public struct PeerTLS: Sendable, Equatable {
        /// Verify the peer's certificate against `caFile`; nil: as `ssl-server-verify` says
        /// (HAProxy's default `required`), resolved on the peer's line.
        public var verify: Bool?
        public var caFile: String?
        public init() {}
    }

    public var name: String
    public var line: Int
    public var peers: [Peer] = []
    /// `bind ADDR` (an `fd@N` included): where the local peer listens; without it, the local
    /// peer's own `ADDR:PORT`.
    public var bind: BindAddress?
    /// `bind … ssl crt FILE…`: the peers listener speaks TLS with these certificates.
    public var bindCertificates: [String] = []
    /// `default-server [ssl] [verify …] [ca-file …]`: what the `server` lines after it start from.
    public var defaultServer = PeerTLS()
    public var defaultServerSSL = false
    /// `table NAME …`, by NAME (without the section's prefix).
    public var tables: [String: StickTable] = [:]
    /// `disabled`: the section is parsed and does nothing.
    public var disabled = false

    public init(name: String, line: Int) {
        self.name = name
        self.line = line
    }
}

extension PeersSection {
    /// The local peer name: `-L`, else `localpeer`, else the host name (HAProxy's order).
    public static func localName(commandLine: String?, global: GlobalSettings) -> String {
        if let name = commandLine ?? global.localPeer { return name }
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(cString: buffer)
    }
}
