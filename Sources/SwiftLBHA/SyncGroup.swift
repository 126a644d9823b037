import Logging
import SwiftLBConfig

/// A `vrrp_sync_group` at run time, confined to the VIP loop like its members: a member that
/// enters FAULT for a reason of its own (its interface, a tracked script or backend) takes the
/// others into FAULT with it, so the peer takes every VIP of the group together — keepalived's
/// reason for sync groups (a router's outside and inside addresses). Each member still elects
/// on its own otherwise; with the same priorities on both hosts their elections agree.
///
/// The group's notify scripts run when its members agree on a new state (`agreedState`).
final class SyncGroup {
    let settings: VRRPSyncGroup
    private var members: [VRRPInstance] = []
    private let notifier: NotifyScripts
    /// `smtp_alert`'s mails of the group (nil alert: none).
    private var mail: StateMail
    private var agreed: Elector.State?

    init(settings: VRRPSyncGroup, mailer: SMTPAlert? = nil, launcher: ScriptLauncher = .direct, logger: Logger) {
        self.settings = settings
        self.notifier = NotifyScripts(group: settings, launcher: launcher, logger: logger)
        self.mail = StateMail(alert: settings.smtpAlert == true ? mailer : nil, group: true, name: settings.name)
    }

    func join(_ member: VRRPInstance) {
        members.append(member)
        member.syncGroup = self
    }

    /// What `member` inherits from the group: the first other member's own fault.
    func inheritedFault(of member: VRRPInstance) -> String? {
        for other in members where other !== member {
            if let fault = other.ownFault { return "vrrp_sync_group \(settings.name): vrrp \(other.settings.name) is in fault (\(fault))" }
        }
        return nil
    }

    /// `member`'s own fault appeared or cleared: the others take it up or let it go.
    func ownFaultChanged(of member: VRRPInstance) {
        for other in members where other !== member { other.applyFault() }
    }

    /// A member changed state: the group's notify scripts run once all agree on a new one.
    func memberChanged() {
        guard let state = Self.agreedState(members.map(\.state)), state != agreed else { return }
        agreed = state
        notifier.run(state: state, priority: nil)
        mail.entered(state)
    }

    /// SwiftLB stops (every member has resigned): keepalived's group STOP notification, its
    /// `notify_stop` and `notify … GROUP NAME STOP`, once.
    func stopped() {
        guard agreed != .initial else { return }
        agreed = .initial
        notifier.run(state: .initial, priority: nil)
        mail.entered(.initial)
    }

    /// The group's state: FAULT as soon as one member is in FAULT, MASTER or BACKUP once all
    /// are; nil while they are between states (or not started).
    static func agreedState(_ states: [Elector.State]) -> Elector.State? {
        if states.contains(.fault) { return .fault }
        guard let first = states.first, first != .initial, states.allSatisfy({ $0 == first }) else { return nil }
        return first
    }
}
