import NIOCore

/// The HTTP/2 connection preface (RFC 9113 §3.4) as the first bytes of a connection an HTTP/1
/// listener accepted: HAProxy's implicit H1→H2 upgrade (mux_h1.c `h1_process`, `H1C_F_UPG_H2C`)
/// switches such a connection to its h2 multiplexer, so `curl --http2-prior-knowledge` works
/// on a plain `bind` without `proto h2`. Pure: it only tells whether the received bytes are the
/// preface, could still become it, or are something else (then they are an HTTP/1 request).
enum H2Preface {
    /// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".
    static let bytes: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum Match: Equatable {
        /// The buffer starts with the whole preface: the connection is HTTP/2.
        case complete
        /// Every byte so far is the preface's, and it is not whole yet: wait for more. (HAProxy
        /// parses such a prefix as HTTP/1 meanwhile, so a client whose first segment ends right
        /// after "PRI * HTTP/2.0\r\n\r\n" gets a 400 there; SwiftLB waits for the rest.)
        case partial
        /// Another byte: an HTTP/1 request (or garbage) for the HTTP/1 parser.
        case mismatch
    }

    /// How `buffer`'s readable bytes compare with the preface, from its first byte.
    static func match(_ buffer: ByteBuffer) -> Match {
        buffer.withUnsafeReadableBytes { raw in
            let n = min(raw.count, bytes.count)
            for i in 0..<n where raw[i] != bytes[i] { return .mismatch }
            return n == bytes.count ? .complete : .partial
        }
    }
}
