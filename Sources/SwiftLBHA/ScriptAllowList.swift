import SwiftLBConfig

/// What the script runner agrees to start: exactly the commands lb.conf gives swiftlb to run,
/// with the arguments swiftlb passes them. The runner lives outside the chroot while swiftlb
/// serves the network inside it; if swiftlb were taken over, the runner must not become a
/// way to run any command outside the jail. So the runner reads lb.conf itself and checks
/// every request against this list, never trusting what the request says.
///
/// Each `vrrp_script` command and each `notify_master|backup|fault|stop` and
/// `notify_master_rx_lower_pri` runs as written with no argument; a `notify` runs as
/// `SCRIPT "$@"` with `INSTANCE NAME STATE [PRIORITY]` (a `vrrp_sync_group`'s:
/// `GROUP NAME STATE`) after `$0` = `notify` — `NotifyScripts` builds them the same way.
/// Commands are compared byte for byte (Swift's `==` would equate canonically equivalent
/// Unicode spellings, which name different files).
public struct ScriptAllowList: Sendable, Equatable {
    /// The arguments a command may be given.
    enum Arguments: Hashable, Sendable {
        case none
        /// `notify KIND NAME STATE [PRIORITY]`; `priority`: an instance's (a group's has none).
        case notify(kind: String, name: String, priority: Bool)
    }

    private(set) var entries: [[UInt8]: Set<Arguments>] = [:]

    init() {}

    /// Every command `configuration` can make swiftlb run.
    public init(configuration: Configuration) {
        for script in configuration.vrrpScripts.values { add(script.script, .none) }
        for v in configuration.vrrpInstances {
            for script in [v.notifyMaster, v.notifyBackup, v.notifyFault, v.notifyStop, v.notifyMasterRxLowerPriority] {
                if let script { add(script, .none) }
            }
            if let notify = v.notify { add(NotifyScripts.notifyCommand(notify), .notify(kind: NotifyScripts.instanceKind, name: v.name, priority: true)) }
        }
        for g in configuration.vrrpSyncGroups {
            for script in [g.notifyMaster, g.notifyBackup, g.notifyFault, g.notifyStop] {
                if let script { add(script, .none) }
            }
            if let notify = g.notify { add(NotifyScripts.notifyCommand(notify), .notify(kind: NotifyScripts.groupKind, name: g.name, priority: false)) }
        }
    }

    private mutating func add(_ command: String, _ arguments: Arguments) {
        entries[Array(command.utf8), default: []].insert(arguments)
    }

    /// Nothing to run: no runner is needed.
    public var isEmpty: Bool { entries.isEmpty }

    /// The commands, sorted (for the log and tests).
    public var commands: [String] { entries.keys.map { String(decoding: $0, as: UTF8.self) }.sorted() }

    /// Whether `/bin/sh -c command arguments…` is something lb.conf asks for.
    public func permits(command: String, arguments: [String]) -> Bool {
        guard let shapes = entries[Array(command.utf8)] else { return false }
        return shapes.contains { shape in
            switch shape {
            case .none:
                return arguments.isEmpty
            case .notify(let kind, let name, let priority):
                guard arguments.count == 4 || (priority && arguments.count == 5),
                      arguments[0] == NotifyScripts.notifyArgumentZero, arguments[1] == kind, arguments[2] == name,
                      NotifyScripts.stateNames.contains(arguments[3]) else { return false }
                if arguments.count == 5 {
                    guard let value = UInt8(arguments[4]), String(value) == arguments[4] else { return false }
                }
                return true
            }
        }
    }
}
