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
    /// One `Upgrade` line only: a second one (`Upgrade: foo` then `Upgrade: h2c`) could name
    /// what the first hides from this check, for a server that reads the last or joins them.
    static func forwardable(_ head: MessageHead, hasBody: Bool) -> Bool {
        guard !hasBody, head.minorVersion == 1 else { return false }
        let lines = head.indices(of: "upgrade")
        guard lines.count == 1, let upgrade = lines.first else { return false }
        return !head.value(upgrade, hasToken: "websocket") && !head.value(upgrade, hasToken: "h2c")
    }

    /// Whether a 101 switches protocols as RFC 9110 §15.2.2 has it: with one `Upgrade` naming
    /// the new one — never WebSocket (whose switch needs its own handshake's proof,
    /// `Sec-WebSocket-Accept`) nor h2c, which this path did not ask for.
    static func accepts(_ response: MessageHead) -> Bool {
        let lines = response.indices(of: "upgrade")
        guard response.status == 101, lines.count == 1, let upgrade = lines.first, !response.value(upgrade).isEmpty else { return false }
        return !response.value(upgrade, hasToken: "websocket") && !response.value(upgrade, hasToken: "h2c")
    }
}
