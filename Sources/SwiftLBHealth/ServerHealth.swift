import Atomics

/// The health of one server as every event loop sees it: written by the checker, read on the
/// data path with one relaxed atomic load, no lock.
public final class ServerHealth: Sendable {
    public enum State: UInt8, Sendable, CustomStringConvertible {
        case up = 0, down = 1
        /// Maintenance (`disabled`): never chosen, not checked.
        case maint = 2
        public var description: String { ["UP", "DOWN", "MAINT"][Int(rawValue)] }
    }

    public let backend: String
    public let server: String
    private let raw: ManagedAtomic<UInt8>

    public init(backend: String, server: String, initial: State) {
        self.backend = backend
        self.server = server
        self.raw = ManagedAtomic(initial.rawValue)
    }

    public var state: State { State(rawValue: raw.load(ordering: .relaxed)) ?? .down }
    public var isUp: Bool { raw.load(ordering: .relaxed) == State.up.rawValue }

    public func set(_ state: State) { raw.store(state.rawValue, ordering: .relaxed) }
}
