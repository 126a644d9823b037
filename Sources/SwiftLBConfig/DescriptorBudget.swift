import Glibc

/// The process's RLIMIT_NOFILE, soft and hard. HAProxy reads it once at boot (before it raises
/// anything) and derives its defaults from that; an unlimited hard limit counts as the soft one.
public struct DescriptorLimits: Sendable, Equatable {
    public var soft: Int
    public var hard: Int

    public init(soft: Int, hard: Int) {
        self.soft = soft
        self.hard = hard
    }

    /// What the process has now (a parse without the executable's boot figures uses it).
    public static func current() -> DescriptorLimits {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return DescriptorLimits(soft: 1024, hard: 1024) }
        // RLIM_INFINITY is all ones; HAProxy counts an unlimited hard limit as the soft one.
        let soft = limit.rlim_cur == rlim_t.max ? Int(Int32.max) : Int(limit.rlim_cur)
        let hard = limit.rlim_max == rlim_t.max ? soft : Int(limit.rlim_max)
        return DescriptorLimits(soft: soft, hard: hard)
    }
}

/// HAProxy 2.6's connection and descriptor budget (haproxy.c: `compute_ideal_maxconn`,
/// `compute_ideal_maxsock`), so that a file without `maxconn` gets the limit haproxy would
/// give it under the same `ulimit -n`, and `show info` reads the same.
///
/// HAProxy starts `maxsock` at 10 reserved descriptors and adds one per listener (each `bind`
/// address, each `stats socket`, a `peers` section's own listener), one per server `check`,
/// `agent-check`, `port` and `agent-port` written (a `default-server` line counts once), the
/// stats socket's 10 connections and 3 per peer of a section this instance belongs to. What
/// is left of the larger of the soft and hard limits, less 3 per thread (its poller and
/// wake-up pipe), gives two descriptors per connection; never fewer than 100 connections.
/// SwiftLB splices nothing and has no async engine, so HAProxy's pipe and engine terms are 0.
public struct DescriptorBudget: Sendable, Equatable {
    /// HAProxy's DEFAULT_MAXCONN: the floor of the derived `maxconn`.
    public static let minimumMaxconn = 100
    /// HAProxy's `global.maxsock` starting value.
    public static let reservedDescriptors = 10

    public var maxconn: Int
    /// Descriptors the process needs at `maxconn` (HAProxy's `Maxsock`).
    public var maxsock: Int
    /// What RLIMIT_NOFILE is set to: `ulimit-n`, else `maxsock`.
    public var ulimitN: Int

    /// - Parameters:
    ///   - fixed: the descriptors the file's listeners, checks and sockets account for
    ///     (`reservedDescriptors` included).
    ///   - threads: event loops.
    ///   - boot: RLIMIT_NOFILE when the process started.
    ///   - maxconn, ulimitN, fdHardLimit: `global` settings, nil when absent.
    public init(fixed: Int, threads: Int, boot: DescriptorLimits, maxconn: Int?, ulimitN: Int?, fdHardLimit: Int?) {
        let perThread = 3 * threads
        let resolved: Int
        if let maxconn {
            resolved = maxconn
        } else {
            var remain = max(boot.soft, boot.hard)
            if let cap = fdHardLimit, remain > cap { remain = cap }
            remain -= fixed + perThread
            resolved = max(remain / 2, Self.minimumMaxconn)
        }
        self.maxconn = resolved
        self.maxsock = fixed + 2 * resolved + perThread
        self.ulimitN = ulimitN ?? self.maxsock
    }
}

extension Configuration {
    /// The descriptors HAProxy's `global.maxsock` holds before connections are added, for this
    /// file; `portParameters` counts the `port`/`agent-port` words of server and default-server
    /// lines (HAProxy reserves one at each, when it parses it).
    func fixedDescriptors(portParameters: Int, localPeer: String) -> Int {
        var count = DescriptorBudget.reservedDescriptors + portParameters
        count += frontends.reduce(0) { $0 + $1.binds.count }
        if !global.statsSockets.isEmpty { count += global.statsSockets.count + 10 }
        for section in peers.values where !section.disabled && (section.bind != nil || section.peers.contains { $0.name == localPeer }) {
            count += 1 + 3 * section.peers.count
        }
        for backend in backends.values {
            count += backend.servers.reduce(0) { $0 + ($1.parameters.check ? 1 : 0) + ($1.parameters.agent.enabled ? 1 : 0) }
        }
        return count
    }
}
