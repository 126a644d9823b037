import NIOHPACK

extension H2RequestHead {
    /// Whether an HTTP/2 request's header block passes HAProxy 2.6's bounds (`limits`, the
    /// listener's; see `HeadParser.Limits`), as its h2 mux applies them, measured against
    /// haproxy on loopback: at most 2 × `tune.http.maxhdr` − 1 fields, pseudo-headers included
    /// (its decoding list), and the request as it stores it (HTX) within `maxStored`. That is
    /// the start line's 40 bytes with the method, the target — absolute (`scheme://authority`
    /// then the path) when there is an authority — and `HTTP/2.0`; 8 bytes per field with its
    /// name and value, the authority as `host`, split cookies joined by "; " into one; 8 for
    /// the end. Past them HAProxy resets the stream (PROTOCOL_ERROR) rather than answer.
    static func fitsHAProxy(_ headers: HPACKHeaders, limits: HeadParser.Limits) -> Bool {
        if headers.count > 2 * (limits.maxFields + 1) - 1 { return false }
        guard let maxStored = limits.maxStored else { return true }
        var method = 0, target = 0, scheme = 0, authority: Int?
        var stored = 8 + 32 + "HTTP/2.0".utf8.count + 8
        var cookies = 0, cookieBytes = 0, host: Int?
        for (name, value, _) in headers {
            let length = value.utf8.count
            switch name {
            case ":method": method = length
            case ":path": target = length
            case ":scheme": scheme = length
            case ":authority": authority = length
            case "cookie":
                cookies += 1
                cookieBytes += length
            case "host": host = length
            default:
                if !name.hasPrefix(":") { stored += 8 + name.utf8.count + length }
            }
        }
        stored += method + target
        if let authority { stored += scheme + 3 + authority }
        if let hostLength = authority ?? host { stored += 8 + 4 + hostLength }
        if cookies > 0 { stored += 8 + 6 + cookieBytes + 2 * (cookies - 1) }
        return stored <= maxStored
    }
}
