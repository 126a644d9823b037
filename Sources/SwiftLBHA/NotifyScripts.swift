import Foundation
import Logging
import SwiftLBConfig

/// Runs keepalived's notify scripts on a transition: `notify_master|backup|fault` as written,
/// and `notify` with `INSTANCE NAME STATE PRIORITY` appended. Through /bin/sh so a quoted
/// command line with arguments works; never waited for (a slow script must not delay the
/// election), its failure logged.
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
        if let script = specific { launch(["-c", script], script: script) }
        if let script = settings.notify {
            launch(["-c", script + " \"$@\"", "notify", "INSTANCE", settings.name, stateName, String(priority)], script: script)
        }
    }

    private func launch(_ arguments: [String], script: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = arguments
        let logger = self.logger
        process.terminationHandler = { p in
            if p.terminationStatus != 0 { logger.warning("notify script '\(script)' exited with status \(p.terminationStatus)") }
        }
        do { try process.run() } catch { logger.error("cannot run notify script '\(script)': \(error)") }
    }
}
