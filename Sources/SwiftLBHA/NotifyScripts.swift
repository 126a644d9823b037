import FoundationEssentials
import Glibc
import Logging
import SwiftLBConfig

/// Runs keepalived's notify scripts on a transition: `notify_master|backup|fault|stop` as written,
/// and `notify` with `INSTANCE NAME STATE PRIORITY` appended. Through /bin/sh so a quoted
/// command line with arguments works; never waited for (a slow script must not delay the
/// election), its failure logged. Spawned as `vrrp_script` commands are (ScriptProcess: its
/// own process group, stdio on /dev/null, none of our descriptors), through `launcher` (the
/// script runner under `chroot`). `ScriptAllowList` lists the same command forms: change both.
struct NotifyScripts: Sendable {
    static let instanceKind = "INSTANCE"
    static let groupKind = "GROUP"
    /// `$0` of a `notify` script's shell.
    static let notifyArgumentZero = "notify"
    /// The STATE argument of `notify`.
    static let stateNames: Set<String> = ["MASTER", "BACKUP", "FAULT", "STOP"]

    /// How `notify SCRIPT` is run: its words, then the arguments the shell is given.
    static func notifyCommand(_ script: String) -> String { script + " \"$@\"" }

    /// `INSTANCE` or `GROUP`: the first argument of `notify`.
    private let kind: String
    private let name: String
    private let master: String?
    private let backup: String?
    private let fault: String?
    /// `notify_stop`: the instance or the group stops (keepalived runs it at shutdown).
    private let stop: String?
    private let notify: String?
    /// `notify_master_rx_lower_pri`: an instance's master heard a lower priority (`heardLowerPriority`).
    private var masterRxLowerPriority: String?
    let logger: Logger
    private let launcher: ScriptLauncher

    init(settings: VRRPSettings, launcher: ScriptLauncher = .direct, logger: Logger) {
        (kind, name, master, backup, fault, stop, notify) = (Self.instanceKind, settings.name, settings.notifyMaster, settings.notifyBackup, settings.notifyFault,
                                                             settings.notifyStop, settings.notify)
        masterRxLowerPriority = settings.notifyMasterRxLowerPriority
        self.launcher = launcher
        self.logger = logger
    }

    /// A `vrrp_sync_group`'s: its `notify` gets `GROUP NAME STATE` (no priority, as keepalived).
    init(group: VRRPSyncGroup, launcher: ScriptLauncher = .direct, logger: Logger) {
        (kind, name, master, backup, fault, stop, notify) = (Self.groupKind, group.name, group.notifyMaster, group.notifyBackup, group.notifyFault, group.notifyStop, group.notify)
        self.launcher = launcher
        self.logger = logger
    }

    func run(state: Elector.State, priority: UInt8?) {
        let specific: String? = switch state {
        case .master: master
        case .backup: backup
        case .fault: fault
        case .initial: stop
        }
        let stateName = state == .initial ? "STOP" : state.rawValue.uppercased()
        if let script = specific { launch(script, script: script) }
        if let script = notify {
            launch(Self.notifyCommand(script), arguments: [Self.notifyArgumentZero, kind, name, stateName] + (priority.map { [String($0)] } ?? []), script: script)
        }
    }

    /// keepalived's VRRP_EVENT_MASTER_RX_LOWER_PRI: the master heard a lower priority (a peer
    /// that thinks it is master, e.g. after a partition). The script runs as written, not waited for.
    func heardLowerPriority() {
        if let script = masterRxLowerPriority { launch(script, script: script) }
    }

    private func launch(_ command: String, arguments: [String] = [], script: String) {
        let logger = self.logger
        _ = launcher.start(command, arguments: arguments, detached: true, on: nil) { outcome in
            switch outcome {
            case .couldNotStart(let why): logger.error("cannot run notify script '\(script)': \(why)")
            case _ where outcome.succeeded: break
            default: logger.warning("notify script '\(script)' \(outcome)")
            }
        }
    }
}
