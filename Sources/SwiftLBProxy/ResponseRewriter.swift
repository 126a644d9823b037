import SwiftLBConfig
import SwiftLBLog

/// Edits a server's response head into the one the client receives: hop-by-hop headers
/// removed, the proxies' `http-response` rules, the sticky cookie, and `Connection` as HAProxy
/// 2.6 writes it (mux_h1's h1_update_res_conn_value, checked against haproxy on loopback): the
/// status line keeps the server's version (HTTP/1.2…1.9 become 1.1), the body keeps the
/// server's framing (a body that ends at the close ends the client's connection too; chunks go
/// to an HTTP/1.0 client as they came), `Connection: keep-alive` is written when the connection
/// stays and the response or the request is HTTP/1.0, `Connection: close` when it ends and the
/// response is HTTP/1.1.
enum ResponseRewriter {
    /// How the body goes to the client, decided with the head.
    struct ClientFraming: Equatable {
        /// Strip chunk framing: the body is read as data (compression sets it).
        var decodeChunks = false
        /// Send the body in chunks of our own (compression sets it).
        var encodeChunks = false
        /// Close the client connection after this response.
        var closeClient: Bool
        /// The server closes its connection after this response (`Connection: close`, or an
        /// HTTP/1.0 server without keep-alive): it must not go back to the pool.
        var serverCloses = false
        /// What the persistence cookie did to this response (nil: the backend has none).
        var setCookie: CookieState.Response?
        /// The status the client gets (after `set-status`) carries no body, 1xx, 204 or 304,
        /// but the server sent one: it is read from the server and dropped, never forwarded,
        /// or the client would read it as the next response (HAProxy sends the head alone).
        var dropsBody = false
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
        if case .framed(.untilClose) = body {
            framing.closeClient = true
        }
        if let cookie = c.backend.cookie {
            if let server = c.server, !c.ignoresCookie, !(c.insertsNoCookie && cookie.mode == .insert) {
                if let value = server.cookie {
                    framing.setCookie = StickyCookie.rewriteResponse(&head, settings: cookie, value: value, presented: c.pinnedToThisServer ? c.presented : nil,
                                                                     method: c.method, precomputed: server.insertCookie)
                } else {
                    framing.setCookie = StickyCookie.expireCookie(&head, settings: cookie, method: c.method, precomputed: server.insertCookie)
                }
            } else {
                // No server, `ignore-persist`, or a server a rule chose (HAProxy's SF_DIRECT):
                // the response's cookie is left alone.
                framing.setCookie = CookieState.Response.none
            }
        }
        let status = head.currentStatus
        // (A 101 has its own paths: a tunnel, or a refused handshake that closes anyway.)
        let interim = (100..<200).contains(status) && status != 101
        if status == 204 || interim { dropFraming(&head) }
        if case .framed = body, status == 204 || status == 304 || (100..<200).contains(status) {
            framing.dropsBody = true
        }
        if interim {
            // A 1xx made the final status: the client would wait for the response that follows
            // it. HAProxy sends the head as it is, no `Connection` field, and closes (checked on
            // loopback with set-status 103).
            framing.closeClient = true
        }
        if c.upgrade {
            head.add("Connection", "upgrade")
        } else if framing.closeClient {
            if head.minorVersion == 1, !interim { head.add("Connection", "close") }
        } else if head.minorVersion == 0 || c.clientMinor == 0 {
            head.add("Connection", "keep-alive")
        }
        // The status line keeps the server's version; HTTP/1.2…1.9 are written as ours, 1.1.
        if !head.versionIsAsRead {
            // After `set-status`, the override already carries the new status and reason.
            let status = head.currentStatus
            let reason = head.startLineOverride.map { String($0.split(separator: " ", maxSplits: 2).dropFirst(2).first ?? "") } ?? head.string(head.part3)
            head.startLineOverride = "HTTP/1.1 \(status)" + (reason.isEmpty ? "" : " \(reason)")
        }
        return framing
    }

    /// An `http-after-response set-status` that made the status one without a body (1xx,
    /// 204, 304) after `rewrite` framed the response: the same rules as there — no framing
    /// fields on a 1xx or 204, the server's body read and dropped, a 1xx (or a 101 that no
    /// upgrade asked for) made final closes the client without a `Connection` field.
    static func restatus(_ head: inout MessageHead, body: MessageFraming.ResponseBody, framing: inout ClientFraming) {
        let status = head.currentStatus
        guard status == 204 || status == 304 || (100..<200).contains(status) else { return }
        if status != 304 { dropFraming(&head) }
        if case .framed = body {
            framing.dropsBody = true
            framing.encodeChunks = false
        }
        if (100..<200).contains(status) {
            framing.closeClient = true
            head.removeAll("connection")
        }
    }

    /// HAProxy's H1 output writes no `Content-Length` nor `Transfer-Encoding` on an interim
    /// (1xx) response or a 204 (mux_h1: they have no body to frame, and a client could take
    /// one for the next response's); a 304 keeps them, as they describe the representation.
    static func dropFraming(_ head: inout MessageHead) {
        head.removeAll("content-length")
        head.removeAll("transfer-encoding")
    }
}
