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
        var named: [String] = []
        for i in head.fields.indices where head.name(i, is: "connection") { named += head.tokens(i).map { $0.lowercased() } }
        for i in head.fields.indices {
            let name = head.name(i).lowercased()
            switch name {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te":
                continue
            default:
                if named.contains(name) { continue }
                out.add(name: name, value: head.value(i))
            }
        }
        return out
    }
}
