/// When a client connection becomes a session, so that its `tcp-request session` rules run:
/// once every handshake of the connection is done — the PROXY header (`bind … accept-proxy`)
/// and the TLS handshake (`bind … ssl`) — as HAProxy's `conn_complete_session` runs them
/// ("once a session is validated, i.e. after all handshakes have been completed"). The rules
/// then see the address the PROXY header carries as `src`, and the TLS facts (`ssl_fc_sni`…).
///
/// A pure value the client connection feeds with the handshakes as they finish; it answers
/// true exactly once, for the step that completes the session.
struct SessionGate: Equatable {
    /// A handshake a connection may wait for before its session starts.
    enum Step: Equatable { case proxyHeader, tlsHandshake }

    private enum State: Equatable {
        /// Accepted; the handshakes still awaited.
        case awaiting(proxyHeader: Bool, tls: Bool)
        /// Every handshake done: the session rules have run (or are running now).
        case complete
    }

    private var state: State

    init(awaitsProxyHeader: Bool, awaitsTLS: Bool) {
        state = awaitsProxyHeader || awaitsTLS ? .awaiting(proxyHeader: awaitsProxyHeader, tls: awaitsTLS) : .complete
    }

    /// Whether the session has started (nothing was awaited, or everything came).
    var isComplete: Bool {
        if case .complete = state { return true }
        return false
    }

    /// Records a finished handshake: true when it was the last one awaited — the session
    /// starts now. A step not awaited changes nothing (a TLS listener's handshake reported
    /// once more, a PROXY header on a connection that completed).
    mutating func finished(_ step: Step) -> Bool {
        guard case .awaiting(var proxyHeader, var tls) = state else { return false }
        switch step {
        case .proxyHeader: proxyHeader = false
        case .tlsHandshake: tls = false
        }
        state = proxyHeader || tls ? .awaiting(proxyHeader: proxyHeader, tls: tls) : .complete
        return state == .complete
    }
}
