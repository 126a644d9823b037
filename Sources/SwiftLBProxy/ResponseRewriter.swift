import SwiftLBConfig
import SwiftLBLog

/// Edits a server's response head into the one the client receives: hop-by-hop headers
/// removed, the proxies' `http-response` rules, the sticky cookie, the framing the client can
/// read (an HTTP/1.0 client cannot read chunks; a body without a length is chunked for an
/// HTTP/1.1 client so its connection can stay open), and `Connection` as the client needs it.
enum ResponseRewriter {
    /// How the body goes to the client, decided with the head.
    struct ClientFraming: Equatable {
        /// Strip chunk framing (HTTP/1.0 client, chunked response): the body ends at close.
        var decodeChunks = false
        /// Chunk a close-delimited body (HTTP/1.1 client that keeps its connection).
        var encodeChunks = false
        /// Close the client connection after this response.
        var closeClient: Bool
        /// The server closes its connection after this response (`Connection: close`, or an
        /// HTTP/1.0 server without keep-alive): it must not go back to the pool.
        var serverCloses = false
        /// What the persistence cookie did to this response (nil: the backend has none).
        var setCookie: CookieState.Response?
    }

    struct Context {
        let clientMinor: Int
        let method: HTTPMethodName
        var closeClient: Bool
        let facts: RequestFacts?
        let frontend: RuntimeFrontend
        let backend: RuntimeBackend
        let server: RuntimeServer?
        let pinnedToThisServer: Bool
        let presented: StickyCookie.Presented?
        /// A `use-server` rule or stick entry chose this server (HAProxy's SF_DIRECT): `insert`
        /// adds no cookie.
        var insertsNoCookie = false
        /// `ignore-persist` held: the response's cookie is left alone in every mode (no insert,
        /// no rewrite, as HAProxy skips its server-side cookie processing).
        var ignoresCookie = false
        /// A checked 101 to a WebSocket upgrade: `Upgrade` stays, `Connection: Upgrade`.
        var upgrade = false
    }

    /// Rewrites `head` in place; returns how the body must be framed towards the client.
    static func rewrite(_ head: inout MessageHead, body: MessageFraming.ResponseBody, context c: Context) -> ClientFraming {
        let serverConnection = RequestRewriter.removeHopByHop(&head, keepUpgrade: c.upgrade)
        var framing = ClientFraming(closeClient: c.closeClient, serverCloses: serverConnection.close)
        if case .framed(let mode) = body {
            switch (mode, c.clientMinor) {
            case (.chunked, 0):
                head.removeAll("transfer-encoding")
                framing.decodeChunks = true
                framing.closeClient = true
            case (.untilClose, 0):
                framing.closeClient = true
            case (.untilClose, _):
                if framing.closeClient {
                    break  // the connection ends anyway: close-delimited is fine
                }
                head.add("Transfer-Encoding", "chunked")
                framing.encodeChunks = true
            default:
                break
            }
        }
        if let cookie = c.backend.cookie {
            if let server = c.server, let value = server.cookie, !c.ignoresCookie, !(c.insertsNoCookie && cookie.mode == .insert) {
                framing.setCookie = StickyCookie.rewriteResponse(&head, settings: cookie, value: value, presented: c.pinnedToThisServer ? c.presented : nil,
                                                                 method: c.method, precomputed: server.insertCookie)
            } else if let server = c.server {
                framing.setCookie = StickyCookie.expireCookie(&head, settings: cookie, method: c.method, precomputed: server.insertCookie)
            } else {
                framing.setCookie = CookieState.Response.none
            }
        }
        if c.upgrade {
            head.add("Connection", "upgrade")
        } else if framing.closeClient {
            head.add("Connection", "close")
        } else if c.clientMinor == 0 {
            head.add("Connection", "keep-alive")
        }
        // The status line speaks the client's version (a server's HTTP/1.2…1.9 becomes ours).
        if head.minorVersion != c.clientMinor || !head.versionIsAsRead {
            // After `set-status`, the override already carries the new status and reason.
            let status = head.currentStatus
            let reason = head.startLineOverride.map { String($0.split(separator: " ", maxSplits: 2).dropFirst(2).first ?? "") } ?? head.string(head.part3)
            head.startLineOverride = "HTTP/1.\(c.clientMinor) \(status)" + (reason.isEmpty ? "" : " \(reason)")
        }
        return framing
    }
}
