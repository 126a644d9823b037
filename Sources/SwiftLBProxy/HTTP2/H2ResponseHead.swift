import NIOCore
import NIOHPACK

/// The HTTP/1.1 response head the engine wrote, as an HTTP/2 header block (RFC 9113 §8.3.2):
/// `:status` first, names lowercased, connection-specific fields (and those `Connection`
/// names) dropped. Pure.
enum H2ResponseHead {
    static func headers(of head: MessageHead) -> HPACKHeaders {
        var out = HPACKHeaders()
        out.reserveCapacity(head.fields.count + 1)
        out.add(name: ":status", value: String(head.status))
        appendFields(of: head, to: &out)
        return out
    }

    /// The head's fields as HTTP/2 fields: names lowercased, connection-specific ones and those
    /// `Connection` names dropped; `te` kept only as `te: trailers` when `keepTE` (a request),
    /// and `host` dropped when `dropHost` (a request's Host became `:authority`).
    static func appendFields(of head: MessageHead, to out: inout HPACKHeaders, keepTE: Bool = false, dropHost: Bool = false) {
        var named: [String] = []
        for i in head.fields.indices where head.name(i, is: "connection") { named += head.tokens(i).map { $0.lowercased() } }
        for i in head.fields.indices {
            let name = head.name(i).lowercased()
            switch name {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
                continue
            case "te":
                if keepTE, head.tokens(i).contains(where: { $0.lowercased() == "trailers" }) { out.add(name: "te", value: "trailers") }
            case "host" where dropHost:
                continue
            default:
                if named.contains(name) { continue }
                out.add(name: name, value: head.value(i))
            }
        }
    }
}
