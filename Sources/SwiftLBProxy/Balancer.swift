/// One balancing algorithm. Each event loop owns its own instance per backend, so picking a
/// server takes no lock; the spread is exact per loop and therefore over the whole process.
/// (HAProxy's `struct lb_ops`: one file per algorithm behind one interface.)
protocol Balancer {
    /// The next server, skipping the indexes in `excluded` (servers that already failed this
    /// request). nil when no eligible server is left.
    mutating func pick(excluding excluded: ServerSet) -> Int?
}

/// A small set of server indexes (a backend has at most 64 servers per retry-exclusion set;
/// more servers simply are never excluded beyond 64).
struct ServerSet {
    private var bits: UInt64 = 0
    func contains(_ index: Int) -> Bool { index < 64 && bits & (1 << UInt64(index)) != 0 }
    mutating func insert(_ index: Int) { if index < 64 { bits |= 1 << UInt64(index) } }
    var isEmpty: Bool { bits == 0 }
}
