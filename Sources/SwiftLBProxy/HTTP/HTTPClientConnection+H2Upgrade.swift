import NIOCore

/// HAProxy's implicit H1→H2 upgrade: a connection of an HTTP/1 listener whose first bytes are
/// the h2 preface (`H2Preface`) is served as HTTP/2 from then on — `curl --http2-prior-knowledge`
/// on a plain `bind`, or over `bind … ssl` when the client sent the preface without choosing
/// `h2` by ALPN. Only the connection's first request may be it: after one, a preface is an
/// HTTP/1 request (`PRI * HTTP/2.0`), refused with 400 as HAProxy does. `bind … proto h1` and
/// `option disable-h2-upgrade` turn it off (`h2Upgrade` nil).
///
/// The connection was accepted, counted and ruled (`tcp-request connection|session`) here, and
/// its handshakes (PROXY header, TLS) are done: `H2Connection` takes its place with a
/// `Handover` and runs none of that again.
extension HTTPClientConnection {
    /// Installs HTTP/2 after this handler, gives it the bytes received (the preface and what
    /// followed), the client's FIN if it came, and leaves the pipeline.
    func upgradeToH2() {
        guard let context, let settings = h2Upgrade else { return }
        awaitsPreface = false
        state = .upgraded
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        let bytes = inbound
        inbound = Self.empty
        // What the rules and handshakes made of the session here is what its streams start from.
        let session = H2SessionContext(variables: variables.sessionScope)
        (session.source, session.destination, session.connection) = (source, destination, frontConnection)
        (session.proxyTLVs, session.tls, session.stick) = (proxyTLVs, tls, stickSession)
        do {
            try H2Connection.configure(context.channel, frontend: frontend, loop: loop, isTLS: isTLS, limits: limits, listenerName: listenerName,
                                       settings: settings, handover: H2Connection.Handover(session: session, generation: generation))
        } catch {
            stickSession?.close()
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(NIOAny(bytes))
        context.fireChannelReadComplete()
        if clientFinished { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
