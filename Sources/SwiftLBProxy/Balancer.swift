import Atomics
import NIOCore

/// One balancing algorithm, shared by every event loop of a backend. (HAProxy's
/// `struct lb_ops`: one file per algorithm behind one interface.) Implementations must be
/// lock-free: they run on the data path of every loop at once.
protocol Balancer: Sendable {
    /// The index of the server for the next request among those `isCandidate` accepts (UP,
    /// primary or backup as needed, not yet failed for this request); nil when none is.
    /// `key`: the hashing algorithms' key (`BalanceKey.swift`): of the client's address for
    /// `balance source`, of the request for `uri|url_param|hdr`; nil when there is none (the
    /// request lacks the part hashed), or the algorithm hashes nothing.
    func pick(client: SocketAddress?, key: UInt32?, isCandidate: (Int) -> Bool) -> Int?
    /// A server's weight changed at runtime (`set weight`): rebuild what was precomputed from
    /// the weights. Algorithms that read `RuntimeServer.weight` on each pick need nothing.
    func reweigh(_ servers: [RuntimeServer])
}

extension Balancer {
    func reweigh(_ servers: [RuntimeServer]) {}
}

/// A balancer's precomputed table (round robin's schedule, the hashing map or ring), replaced
/// whole when a weight changes at runtime and read with one atomic load on the data path.
final class BalancerTable<Value: Sendable>: AtomicReference, Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A small set of server indexes (retry exclusion covers the first 64 servers of a backend).
struct ServerSet {
    private var bits: UInt64 = 0
    func contains(_ index: Int) -> Bool { index < 64 && bits & (1 << UInt64(index)) != 0 }
    mutating func insert(_ index: Int) { if index < 64 { bits |= 1 << UInt64(index) } }
    var isEmpty: Bool { bits == 0 }
}

/// splitmix64's finaliser: every input bit affects every output bit. Turns a shared counter
/// into cheap, lock-free pseudo-random numbers (`random`'s draws, slowstart's dice).
@inline(__always)
func mix64(_ value: UInt64) -> UInt64 {
    var x = (value ^ (value >> 30)) &* 0xbf58_476d_1ce4_e5b9
    x = (x ^ (x >> 27)) &* 0x94d0_49bb_1331_11eb
    return x ^ (x >> 31)
}
