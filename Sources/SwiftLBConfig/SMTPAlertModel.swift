/// keepalived's mail on each VRRP state change: `global_defs { notification_email { … }
/// notification_email_from … smtp_server ADDR [PORT] smtp_helo_name … smtp_connect_timeout …
/// smtp_alert … smtp_alert_vrrp … no_email_faults }` and `smtp_alert` in a `vrrp_instance` or a
/// `vrrp_sync_group`. SwiftLBHA's SMTPAlert sends it, as keepalived 2.2's smtp.c does.
public struct SMTPAlertSettings: Sendable, Equatable {
    /// `notification_email { ADDR… }`: the RCPT TO list and the To: header, in order.
    public var recipients: [String] = []
    /// `notification_email_from ADDR`; nil: keepalived's default, USER@HOSTNAME.
    public var from: String?
    /// `smtp_server ADDR|NAME [PORT]`; nil: no mail is sent (keepalived's rule too).
    public var server: String?
    public var port: Int = 25
    /// `smtp_helo_name NAME`; nil: the host name (keepalived's default once a server is set).
    public var heloName: String?
    /// `smtp_connect_timeout SECONDS`: bounds the connect and each reply (keepalived: 30 s).
    public var connectTimeout: ConfigDuration = .seconds(30)
    /// global `smtp_alert [BOOL]` and `smtp_alert_vrrp [BOOL]`: the default of the instances
    /// and groups that write no `smtp_alert` (the second wins, as in keepalived).
    public var alert: Bool?
    public var alertVRRP: Bool?
    /// `no_email_faults`: no mail on entering FAULT.
    public var noFaultMails = false
    public init() {}

    /// Mail can go out: a server and at least one recipient (keepalived's smtp_alert returns
    /// at once otherwise).
    public var canSend: Bool { server != nil && !recipients.isEmpty }

    /// What an instance or a group mails when it writes `smtp_alert` as `written`
    /// (keepalived's vrrp.c: the object's own, else smtp_alert_vrrp, else smtp_alert, else no).
    public func mails(_ written: Bool?) -> Bool { written ?? alertVRRP ?? alert ?? false }
}

/// keepalived's check_true_false: `smtp_alert` alone is true.
func keepalivedBool(_ args: [String]) throws(ParseFailure) -> Bool {
    switch args {
    case []: return true
    case ["true"], ["on"], ["yes"]: return true
    case ["false"], ["off"], ["no"]: return false
    default: throw ParseFailure("expects nothing or one of yes|no|true|false|on|off")
    }
}
