import NIOCore
import SwiftLBTLS

/// What the streams of one HTTP/2 client connection share with it, as HAProxy's streams share
/// their session: the session's ends (the socket's, then the PROXY header's, then what
/// `tcp-request connection|session` `set-src`/`set-dst` made them), the connection's own ends
/// (`fc_*`), the PROXY header's TLVs (`fc_pp_*`), the TLS side (`ssl_fc_*`, `ssl_c_*`), the
/// stick-table entries the connection tracks — its streams count their requests on them and
/// read `sc*` from them, so an h2 client is no way around a `track-sc0 src` rate limit — and
/// the `sess.` variables. `H2Connection` fills it before the session begins (no stream opens
/// earlier); each stream reads it as it starts. All on the connection's event loop.
final class H2SessionContext {
    var source: SocketAddress?
    var destination: SocketAddress?
    var connection: (source: SocketAddress?, destination: SocketAddress?)?
    var proxyTLVs: [ProxyHeader.TLV] = []
    var tls: TLSHandler?
    /// The connection's tracking (`tcp-request connection|session track-scN`).
    var stick: StickSession?
    let variables: SessionVariables

    init(variables: SessionVariables = SessionVariables()) {
        self.variables = variables
    }
}
