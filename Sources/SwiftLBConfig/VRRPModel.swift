/// A `vrrp NAME` section: the floating VIP this instance shares with its sibling, with
/// keepalived's `vrrp_instance` keyword names (docs/configuration.md lists each).
public struct VRRPSettings: Sendable, Equatable {
    public var name: String
    public var line: Int
    /// The interface heartbeats leave from and the VIPs live on (unless `dev` says otherwise).
    public var interface: String = ""
    public var virtualRouterID: Int = 0
    /// 1…254; the higher one holds the VIP.
    public var priority: Int = 100
    public var advertInterval: ConfigDuration = .seconds(1)
    public var virtualAddresses: [VirtualAddress] = []
    /// The address heartbeats are sent from and received on; by default the first IPv4
    /// address of `interface`.
    public var unicastSourceIP: String?
    public var unicastPeers: [String] = []
    public var udpPort: Int = 5112
    public var preempt = true
    public var preemptDelay: ConfigDuration = .init(nanoseconds: 0)
    /// Gratuitous ARPs per VIP in the burst sent on becoming master.
    public var garpMasterRepeat = 5
    /// Re-announce the VIP this often while master (nil: never, keepalived's default).
    public var garpMasterRefresh: ConfigDuration?
    public var notifyMaster: String?
    public var notifyBackup: String?
    public var notifyFault: String?
    /// Called on every transition with `INSTANCE NAME STATE PRIORITY`, as keepalived does.
    public var notify: String?
    /// Holds the HMAC key; nil only with `auth none`.
    public var authKeyFile: String?
    public var authKeyLine: Int = 0
    public var trackBackends: [TrackBackend] = []

    public init(name: String, line: Int) {
        self.name = name
        self.line = line
    }
}

/// `virtual_ipaddress ADDR/PREFIX [dev IF]`.
public struct VirtualAddress: Sendable, Equatable {
    /// "192.168.122.10/24"
    public var cidr: String
    public var interface: String?
    public init(cidr: String, interface: String?) {
        self.cidr = cidr
        self.interface = interface
    }
    public var address: String { String(cidr.split(separator: "/")[0]) }
}

/// `track_backend NAME [weight N]`: weight 0 means FAULT while the backend has no usable server;
/// a positive weight is added to the priority while it has one, a negative one added while it
/// has none (keepalived's track_script semantics).
public struct TrackBackend: Sendable, Equatable {
    public var backend: String
    public var weight: Int
    public var line: Int
    public init(backend: String, weight: Int, line: Int) {
        self.backend = backend
        self.weight = weight
        self.line = line
    }
}
