/// One balancing algorithm, shared by every event loop of a backend. (HAProxy's
/// `struct lb_ops`: one file per algorithm behind one interface.) Implementations must be
/// lock-free: they run on the data path of every loop at once.
protocol Balancer: Sendable {
    /// The next server index, skipping `excluded` (servers that already failed this request).
    /// nil when no eligible server is left.
    func pick(excluding excluded: ServerSet) -> Int?
}

/// A small set of server indexes (a backend has at most 64 servers per retry-exclusion set;
/// more servers simply are never excluded beyond 64).
struct ServerSet {
    private var bits: UInt64 = 0
    func contains(_ index: Int) -> Bool { index < 64 && bits & (1 << UInt64(index)) != 0 }
    mutating func insert(_ index: Int) { if index < 64 { bits |= 1 << UInt64(index) } }
    var isEmpty: Bool { bits == 0 }
}
