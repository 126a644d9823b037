import NIOConcurrencyHelpers
import SwiftLBAdmin

/// How the data path reaches the runtime API (for the stats page and /metrics served on a
/// frontend with `stats enable`): set once by the process after start, read when a stats
/// request comes in.
public final class AdminLink: Sendable {
    private let box = NIOLockedValueBox<RuntimeAPI?>(nil)
    public init() {}
    public var api: RuntimeAPI? { box.withLockedValue { $0 } }
    public func connect(_ api: RuntimeAPI) { box.withLockedValue { $0 = api } }
}
