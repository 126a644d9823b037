import FoundationEssentials
import Glibc
import Logging
import SwiftLBConfig

/// Runs keepalived's notify scripts on a transition: `notify_master|backup|fault` as written,
/// and `notify` with `INSTANCE NAME STATE PRIORITY` appended. Through /bin/sh so a quoted
/// command line with arguments works; never waited for (a slow script must not delay the
/// election), its failure logged. Spawned as `vrrp_script` commands are (ScriptProcess: its
/// own process group, stdio on /dev/null, none of our descriptors).
struct NotifyScripts: Sendable {
    let settings: VRRPSettings
    let logger: Logger

    func run(state: Elector.State, priority: UInt8) {
        let specific: String? = switch state {
        case .master: settings.notifyMaster
        case .backup: settings.notifyBackup
        case .fault: settings.notifyFault
        case .initial: nil
        }
        let stateName = state == .initial ? "STOP" : state.rawValue.uppercased()
        if let script = specific { launch(script, script: script) }
        if let script = settings.notify {
            launch(script + " \"$@\"", arguments: ["notify", "INSTANCE", settings.name, stateName, String(priority)], script: script)
        }
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
