import SwiftLBConfig
import SwiftLBTLS

/// The two checks of a WebSocket opening handshake (RFC 6455 §4) that decide whether a
/// connection may become a tunnel: the client's request names a usable key, and the server's
/// 101 answers that very key. Anything else stays HTTP.
enum WebSocketHandshake {
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The `Sec-WebSocket-Key` of a GET/1.1 request whose `Upgrade` names `websocket`, if it is
    /// one key of 16 bytes in base64 (24 characters); nil otherwise.
    static func key(of head: MessageHead) -> String? {
        guard head.method == .get, head.minorVersion == 1,
              let upgrade = head.firstIndex(of: "upgrade"), head.value(upgrade, hasToken: "websocket") else { return nil }
        let keys = head.indices(of: "sec-websocket-key")
        guard keys.count == 1 else { return nil }
        let key = head.value(keys[0])
        guard key.utf8.count == 24, key.hasSuffix("=="),
              key.utf8.allSatisfy({ isBase64($0) || $0 == UInt8(ascii: "=") }) else { return nil }
        return key
    }

    /// Whether a request asks for a WebSocket (`Connection: upgrade`, `Upgrade: websocket`)
    /// and has no `Sec-WebSocket-Key` at all: HAProxy's H1 parser refuses that with 400 (a
    /// malformed key only keeps the request from becoming a tunnel).
    static func lacksKey(_ head: MessageHead) -> Bool {
        guard let upgrade = head.firstIndex(of: "upgrade"), head.value(upgrade, hasToken: "websocket"),
              head.indices(of: "connection").contains(where: { head.value($0, hasToken: "upgrade") }) else { return false }
        return head.indices(of: "sec-websocket-key").isEmpty
    }

    /// Whether a 101 is the server's yes to `key`: `Upgrade: websocket`, `Connection: upgrade`,
    /// and `Sec-WebSocket-Accept` = base64(SHA-1(key + GUID)).
    static func accepts(_ head: MessageHead, key: String) -> Bool {
        guard head.status == 101,
              let upgrade = head.firstIndex(of: "upgrade"), head.value(upgrade, hasToken: "websocket"),
              head.indices(of: "connection").contains(where: { head.value($0, hasToken: "upgrade") }) else { return false }
        let accepts = head.indices(of: "sec-websocket-accept")
        guard accepts.count == 1 else { return false }
        return head.value(accepts[0]) == Digest.sha1Base64(key + guid)
    }

    private static func isBase64(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2B || b == 0x2F
    }
}
