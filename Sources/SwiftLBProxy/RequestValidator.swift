import NIOHTTP1

/// The checks llhttp leaves to us, each a "MUST respond with 400" of RFC 9112 §3.2 or a
/// request a reverse proxy has no business forwarding. llhttp (strict, as NIO builds it)
/// already refuses invalid bytes in names and values, Content-Length together with
/// Transfer-Encoding, repeated Content-Length and unknown transfer codings.
enum RequestValidator {
    static func problem(in head: HTTPRequestHead) -> String? {
        guard head.version.major == 1 else { return "unsupported HTTP version" }
        let hosts = head.headers["host"]
        if hosts.count > 1 { return "repeated Host header" }
        if head.version.minor >= 1 && hosts.isEmpty { return "missing Host header" }
        if let host = hosts.first, !isValidHost(host) { return "invalid Host header" }
        if head.method == .CONNECT { return "CONNECT is not proxied" }
        let uri = head.uri.utf8
        guard let first = uri.first else { return "empty request target" }
        if first == UInt8(ascii: "/") { return nil }
        if head.uri == "*" && head.method == .OPTIONS { return nil }
        if head.uri.hasPrefix("http://") || head.uri.hasPrefix("https://") { return nil }
        return "invalid request target"
    }

    /// RFC 3986 host [":" port]: reg-name, IPv4 or a bracketed IP literal; no userinfo, path
    /// or whitespace.
    static func isValidHost(_ host: String) -> Bool {
        for byte in host.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            default:
                if !"-._~!$&'()*+,;=:[]%".utf8.contains(byte) { return false }
            }
        }
        return true
    }
}
