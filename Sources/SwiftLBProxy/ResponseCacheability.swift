/// Whether a response is cacheable as HAProxy 2.6.12 decides it for `cookie … nocache`
/// (http_ana.c: the request's method, the status, then http_check_response_for_cacheability
/// with 2.6's backport of "cache response even if request has no-cache"): only then does an
/// inserted cookie come with `Cache-Control: private`.
///
/// A safe method (GET, HEAD, OPTIONS, TRACE) or `Cache-Control: public` makes it cacheable; a
/// status outside 200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501, a `Pragma: no-cache`,
/// or a `private`, `no-cache`, `no-store`, `max-age=0`, `s-maxage=0` value makes it not; and it
/// needs a freshness (a `max-age`/`s-maxage` value, an Expires header) or a validator (ETag,
/// Last-Modified). Values are compared whole and without case, in order, as HAProxy's
/// `isteqi`; a later `public` undoes an earlier `private`.
enum ResponseCacheability {
    static let cacheableStatuses: Set<Int> = [200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501]

    /// Runs on every response that sets the cookie: nothing is allocated unless the response
    /// has a `Cache-Control` or `Pragma` line to read (the benchmark's responses have neither).
    static func isCacheable(method: HTTPMethodName, status: Int, head: MessageHead) -> Bool {
        guard cacheableStatuses.contains(status) else { return false }
        var cacheable: Bool
        switch method {
        case .get, .head, .options, .trace: cacheable = true
        default: cacheable = false
        }
        if let i = head.firstIndex(of: "pragma"), head.value(i, equals: "no-cache") { return false }
        var fresh = false
        if head.contains("cache-control") {
            for line in head.values(of: "cache-control") {
                for value in SampleInput.commaSplit(line).map({ $0.lowercased() }) {
                    switch value {
                    case "public": cacheable = true
                    case "private", "no-cache", "no-store", "max-age=0", "s-maxage=0": cacheable = false
                    default: if value.hasPrefix("s-maxage") || value.hasPrefix("max-age") { fresh = true }
                    }
                }
            }
        }
        let validated = head.contains("expires") || head.contains("etag") || head.contains("last-modified")
        return cacheable && (fresh || validated)
    }

    /// `option checkcache`: the server sets a cookie (`Set-Cookie`, `Set-Cookie2`) on a response
    /// a shared cache would keep, and no `Cache-Control: no-cache="set-cookie"` keeps the cookie
    /// out of it (HAProxy's TX_CACHEABLE, TX_CACHE_COOK and TX_SCK_PRESENT all set).
    static func cachesCookie(method: HTTPMethodName, status: Int, head: MessageHead) -> Bool {
        guard head.contains("set-cookie") || head.contains("set-cookie2"), isCacheable(method: method, status: status, head: head) else { return false }
        return !head.values(of: "cache-control").contains { line in
            SampleInput.commaSplit(line).contains { $0.lowercased().hasPrefix("no-cache=\"set-cookie") }
        }
    }
}
