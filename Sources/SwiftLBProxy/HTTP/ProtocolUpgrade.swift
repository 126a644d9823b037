/// An HTTP/1.1 upgrade to a protocol other than WebSocket (RFC 9110 §7.8: `Connection: upgrade`
/// with `Upgrade: name`), forwarded as HAProxy 2.6 forwards it (reg-test
/// http-messaging/protocol_upgrade.vtc): the server sees `Upgrade` and `Connection: upgrade`,
/// and its 101 naming a protocol turns the connection into a tunnel. WebSocket keeps its own
/// stricter handshake (`WebSocketHandshake`). Not forwarded, the request going on as plain
/// HTTP: `h2c` (after the switch a client would speak HTTP/2 to the server past every rule of
/// ours — "h2c smuggling"), and a request with a body (the tunnel opens after a request that
/// has ended).
enum ProtocolUpgrade {
    /// Whether a request whose `Connection` names `upgrade` may be forwarded as an upgrade.
    static func forwardable(_ head: MessageHead, hasBody: Bool) -> Bool {
        guard !hasBody, head.minorVersion == 1, let upgrade = head.firstIndex(of: "upgrade") else { return false }
        return !head.value(upgrade, hasToken: "websocket") && !head.value(upgrade, hasToken: "h2c")
    }

    /// Whether a 101 switches protocols as RFC 9110 §15.2.2 has it: with an `Upgrade` naming
    /// the new one.
    static func accepts(_ response: MessageHead) -> Bool {
        response.status == 101 && response.firstIndex(of: "upgrade").map { !response.value($0).isEmpty } == true
    }
}
