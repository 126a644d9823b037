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
    public var garpMasterRepeat = VRRPSettings.keepalivedGarpRepeat
    /// keepalived's VRRP_GARP_REP: `garp_master_repeat`'s default, and `garp_lower_prio_repeat`'s.
    public static let keepalivedGarpRepeat = 5
    /// Re-announce the VIP this often while master (nil: never, keepalived's default).
    public var garpMasterRefresh: ConfigDuration?
    /// `garp_master_delay`: the second burst of gratuitous ARPs, this long after becoming
    /// master (nil: none); keepalived's default is 5 s.
    public var garpMasterDelay: ConfigDuration? = .seconds(5)
    public var notifyMaster: String?
    public var notifyBackup: String?
    public var notifyFault: String?
    /// `notify_stop SCRIPT`: run when the instance stops (keepalived's shutdown, STOP).
    public var notifyStop: String?
    /// Called on every transition with `INSTANCE NAME STATE PRIORITY`, as keepalived does.
    public var notify: String?
    /// Holds the HMAC key; nil with `auth none` or keepalived's `authentication { … }`.
    public var authKeyFile: String?
    public var authKeyLine: Int = 0
    /// keepalived's `authentication { auth_pass … }` (its first 8 characters, as keepalived
    /// reads it): the HMAC key is derived from it (`HeartbeatKey`) when no `auth_key_file` is set.
    public var authPass: String?
    /// Whether the heartbeat is authenticated (a key file or a keepalived password).
    public var isAuthenticated: Bool { authKeyFile != nil || authPass != nil }
    public var trackBackends: [TrackBackend] = []
    /// The file that declared the instance, when not the main lb.conf (an `include`).
    public var file: String?
    /// keepalived's `state MASTER|BACKUP`: the state to start in (nil: BACKUP).
    public var initialState: VRRPInitialState?
    /// `track_script { NAME [weight N [reverse]] }`: scripts defined by `vrrp_script`.
    public var trackScripts: [TrackScript] = []
    /// `track_interface { IF [weight N] }`: a link down is a FAULT (weight 0) or moves the priority.
    public var trackInterfaces: [TrackInterface] = []
    /// `track_process { NAME [weight N [reverse]] }`: processes counted by `vrrp_track_process`.
    public var trackProcesses: [TrackProcess] = []
    /// `track_file { NAME [weight N [reverse]] }`: files read by `track_file` blocks.
    public var trackFiles: [TrackFile] = []
    /// `mcast_src_ip ADDR`: the source of the advertisements when `unicast_src_ip` is not
    /// given (keepalived reads both keywords into one source address).
    public var mcastSourceIP: String?
    /// No `unicast_peer`: advertisements go by multicast to 224.0.0.18, as keepalived's do.
    public var multicast: Bool { unicastPeers.isEmpty }
    /// `smtp_alert [BOOL]` as written; once the file is read, never nil (the global default
    /// applied: `SMTPAlertSettings.mails`).
    public var smtpAlert: Bool?
    /// `dont_track_primary`: the instance's own interface going down is no FAULT (a VIP on
    /// another interface and `track_interface` entries still count), as keepalived.
    public var dontTrackPrimary = false
    /// `unicast_ttl N`: the IP TTL of unicast heartbeats (nil: 255, keepalived's VRRP_IP_TTL).
    public var unicastTTL: Int?
    /// `kernel_rx_buf_size N`: SO_RCVBUF of the heartbeat socket (nil: the kernel's default).
    public var kernelReceiveBuffer: Int?
    /// `garp_lower_prio_repeat N`: gratuitous ARPs per VIP a master sends when it hears a
    /// lower priority (nil: `keepalivedGarpRepeat`, whatever `garp_master_repeat` says, as
    /// keepalived's global default; 0: none).
    public var garpLowerPriorityRepeat: Int?
    /// `garp_lower_prio_delay TIME`: a second such burst this long after (nil or 0: none).
    public var garpLowerPriorityDelay: ConfigDuration?
    /// `notify_master_rx_lower_pri SCRIPT`: run when the master hears a lower priority.
    public var notifyMasterRxLowerPriority: String?

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

public enum VRRPInitialState: String, Sendable, Equatable {
    case master = "MASTER", backup = "BACKUP"
}

/// keepalived's `vrrp_script NAME { script …; interval …; weight …; fall …; rise … }`.
public struct VRRPScript: Sendable, Equatable {
    public var name: String
    public var script: String = ""
    public var interval: ConfigDuration = .seconds(1)
    /// nil: the interval (a run still going when the next is due is killed).
    public var timeout: ConfigDuration?
    /// Added to the priority while the script succeeds (> 0) or fails (< 0); 0: FAULT on failure.
    public var weight: Int = 0
    /// keepalived's `weight N reverse`: the weight acts on the opposite state (a positive one
    /// is subtracted while the script succeeds; `weight 0 reverse` is FAULT while it succeeds).
    public var reverse = false
    public var fall: Int = 1
    public var rise: Int = 1
    public var line: Int
    public var file: String?
    public init(name: String, line: Int) {
        self.name = name
        self.line = line
    }
}

/// `track_script { NAME [weight N [reverse|noreverse]] }`: a weight given here overrides the
/// script's own; `reverse`/`noreverse` override its `reverse`, which stands when neither is
/// written, even with a weight here (keepalived's alloc_track_script).
public struct TrackScript: Sendable, Equatable {
    public var script: String
    public var weight: Int?
    public var reverse: Bool?
    public var line: Int
    public init(script: String, weight: Int?, reverse: Bool? = nil, line: Int) {
        self.script = script
        self.weight = weight
        self.reverse = reverse
        self.line = line
    }
}

/// `track_interface { IF [weight N] }`.
public struct TrackInterface: Sendable, Equatable {
    public var interface: String
    public var weight: Int
    public var line: Int
}

/// keepalived's `vrrp_sync_group NAME { group { A B … } notify… }`: instances that fail
/// together — one that enters FAULT takes the others of its group into FAULT with it, so
/// their VIPs move to the peer together (an external and an internal VIP of one router) —
/// and notify scripts of the group's own, run when all its members agree on a state.
public struct VRRPSyncGroup: Sendable, Equatable {
    public var name: String
    public var line: Int
    public var members: [String] = []
    public var notifyMaster: String?
    public var notifyBackup: String?
    public var notifyFault: String?
    /// `notify_stop`: run when SwiftLB stops (the group's `notify` then gets STOP).
    public var notifyStop: String?
    /// Called with `GROUP NAME STATE`, as keepalived calls a group's `notify`.
    public var notify: String?
    /// `smtp_alert [BOOL]` as written; never nil once the file is read.
    public var smtpAlert: Bool?
    /// `track_process { … }` and `track_file { … }` of the group: tracked by every member, as
    /// keepalived adds them to each (the parser copies them into the members' lists).
    public var trackProcesses: [TrackProcess] = []
    public var trackFiles: [TrackFile] = []
    public init(name: String, line: Int) {
        self.name = name
        self.line = line
    }
}

extension Configuration {
    /// Every instance's virtual addresses: a `bind` on any of them must work on a node that
    /// does not hold it yet (IP_FREEBIND).
    public var virtualAddresses: Set<String> {
        Set(vrrpInstances.flatMap { $0.virtualAddresses.map(\.address) })
    }
}

extension Configuration {
    /// The VIP may run commands: a `vrrp_script`, or a notify command of an instance or a
    /// sync group. (SwiftLBHA's ScriptAllowList lists them one by one.)
    public var runsScripts: Bool {
        !vrrpScripts.isEmpty
            || vrrpInstances.contains { v in
                [v.notifyMaster, v.notifyBackup, v.notifyFault, v.notifyStop, v.notify, v.notifyMasterRxLowerPriority].contains { $0 != nil }
            }
            || vrrpSyncGroups.contains { g in [g.notifyMaster, g.notifyBackup, g.notifyFault, g.notifyStop, g.notify].contains { $0 != nil } }
    }

    /// The script runner starts the VIP's scripts (`swiftlb run`): under `chroot`, which would
    /// hide /bin/sh and them, and for `script_user`, which swiftlb cannot become itself.
    public var scriptsNeedTheRunner: Bool {
        !vrrpInstances.isEmpty && runsScripts && (global.chroot != nil || scriptUser != nil)
    }
}
