/// `compression algo|type|offload` and `filter compression`: HAProxy's HTTP compression
/// filter, as written in one proxy (a `defaults` section's algorithms and types are inherited
/// by the proxies after it; its `offload` is not, as in HAProxy 2.6).
public struct HTTPCompression: Sendable, Equatable {
    /// HAProxy 2.6's algorithms (`compression algo NAME…`).
    public enum Algorithm: String, Sendable, CaseIterable {
        case identity
        case deflate
        case rawDeflate = "raw-deflate"
        case gzip

        /// The name a client writes in Accept-Encoding and the response's Content-Encoding
        /// carries (`raw-deflate` is announced as `deflate`, as HAProxy does).
        public var token: String {
            switch self {
            case .identity: "identity"
            case .deflate, .rawDeflate: "deflate"
            case .gzip: "gzip"
            }
        }
    }

    /// HAProxy's list order: each name written goes in front (it prepends), so a client's
    /// `Accept-Encoding: *` gets the last one written.
    public var algorithms: [Algorithm] = []
    /// `compression type`: Content-Type prefixes, compared case-insensitively (empty: any
    /// type but multipart).
    public var types: [String] = []
    /// `compression offload`: Accept-Encoding is removed before the request goes to the
    /// server, so the server never compresses itself.
    public var offload = false
    /// The line of `filter compression` (nil: declared implicitly, HAProxy's default when a
    /// proxy has no other filter).
    public var filterLine: Int?

    public init() {}
}
