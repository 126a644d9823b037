import FoundationEssentials
import Glibc
import Logging
import SwiftLBConfig

/// Runs keepalived's notify scripts on a transition: `notify_master|backup|fault|stop` as written,
/// and `notify` with `INSTANCE NAME STATE PRIORITY` appended. Through /bin/sh so a quoted
/// command line with arguments works; never waited for (a slow script must not delay the
/// election), its failure logged. Spawned as `vrrp_script` commands are (ScriptProcess: its
/// own process group, stdio on /dev/null, none of our descriptors).
struct NotifyScripts: Sendable {
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

    init(settings: VRRPSettings, logger: Logger) {
        (kind, name, master, backup, fault, stop, notify) = ("INSTANCE", settings.name, settings.notifyMaster, settings.notifyBackup, settings.notifyFault,
                                                             settings.notifyStop, settings.notify)
        masterRxLowerPriority = settings.notifyMasterRxLowerPriority
        self.logger = logger
    }

    /// A `vrrp_sync_group`'s: its `notify` gets `GROUP NAME STATE` (no priority, as keepalived).
    init(group: VRRPSyncGroup, logger: Logger) {
        (kind, name, master, backup, fault, stop, notify) = ("GROUP", group.name, group.notifyMaster, group.notifyBackup, group.notifyFault, group.notifyStop, group.notify)
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
            launch(script + " \"$@\"", arguments: ["notify", kind, name, stateName] + (priority.map { [String($0)] } ?? []), script: script)
        }
    }

    /// keepalived's VRRP_EVENT_MASTER_RX_LOWER_PRI: the master heard a lower priority (a peer
    /// that thinks it is master, e.g. after a partition). The script runs as written, not waited for.
    func heardLowerPriority() {
        if let script = masterRxLowerPriority { launch(script, script: script) }
    }

    private func launch(_ command: String, arguments: [String] = [], script: String) {
        switch ScriptProcess.spawn(command, arguments: arguments) {
        case .failure(let why):
            logger.error("cannot run notify script '\(script)': \(why)")
        case .success(let pid):
            let logger = self.logger
            ScriptProcess.whenExited(pid) {
                guard let outcome = ScriptProcess.reap(pid, blocking: true), !outcome.succeeded else { return }
                logger.warning("notify script '\(script)' \(outcome)")
            }
        }
    }
}
