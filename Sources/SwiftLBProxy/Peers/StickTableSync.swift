import NIOConcurrencyHelpers

/// The local changes of one shared stick table, numbered as HAProxy numbers its updates, for
/// the peer sessions to send: every local store or track appends the key (the entry's current
/// value is read when it is sent); each session keeps the number it has sent up to. Bounded: a
/// session that falls more than `capacity` changes behind is told to send the whole table.
/// The data path pays one lock and an append per change, and a wake-up of the peers' event
/// loop only when none is pending.
final class StickTableSync: Sendable {
    /// The table's name on the wire: its backend's, or `/NAME` for a table of a peers section.
    let wireName: String
    /// The peers section sharing it.
    let peers: String
    /// `len` was written on the table (HAProxy's key size depends on it).
    let lengthWritten: Bool
    static let capacity = 65536

    private struct Log {
        var keys: [[UInt8]] = []
        /// The number of `keys[0]`.
        var first: UInt32 = 1
        var wake: (@Sendable () -> Void)?
        var wakePending = false
        var next: UInt32 { first &+ UInt32(keys.count) }
    }

    private let log = NIOLockedValueBox(Log())

    init(wireName: String, peers: String, lengthWritten: Bool) {
        self.wireName = wireName
        self.peers = peers
        self.lengthWritten = lengthWritten
    }

    /// The last number given out (0: none yet).
    var lastNumber: UInt32 { log.withLockedValue { $0.next &- 1 } }

    func changed(_ key: [UInt8]) {
        let wake: (@Sendable () -> Void)? = log.withLockedValue { l in
            if l.keys.count >= Self.capacity {
                l.keys.removeFirst(Self.capacity / 2)
                l.first &+= UInt32(Self.capacity / 2)
            }
            l.keys.append(key)
            guard !l.wakePending, let wake = l.wake else { return nil }
            l.wakePending = true
            return wake
        }
        wake?()
    }

    /// Called (on any thread) after changes when none is pending; nil stops the calls.
    func setWake(_ wake: (@Sendable () -> Void)?) {
        log.withLockedValue { $0.wake = wake; $0.wakePending = false }
    }

    /// The wake-up was handled: the next change calls it again (whether or not a session took
    /// the changes: one established later starts from what its peer acknowledged).
    func rearm() {
        log.withLockedValue { $0.wakePending = false }
    }

    /// The changes after `number`, each with its number; nil when they are no longer all
    /// there (send the whole table). Clears the pending wake-up.
    func changes(after number: UInt32) -> [(number: UInt32, key: [UInt8])]? {
        log.withLockedValue { l in
            l.wakePending = false
            let behind = Int(l.next &- 1 &- number)
            guard behind >= 0 else { return nil }
            guard behind <= l.keys.count else { return nil }
            return (l.keys.count - behind..<l.keys.count).map { (l.first &+ UInt32($0), l.keys[$0]) }
        }
    }
}
