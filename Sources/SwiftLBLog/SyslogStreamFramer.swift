/// Cuts a TCP syslog stream into messages as HAProxy 2.6's `syslog_io_handler` does (RFC 6587):
/// a message starting with `<` ends at LF (a CR before it dropped: non-transparent framing);
/// one starting with a digit 1-9 is `LENGTH SP MESSAGE` (octet counting). Anything else, or a
/// message longer than `limit`, is an error: the connection is closed. Pure: bytes in,
/// messages out.
public struct SyslogStreamFramer: Sendable {
    public enum Failure: Error, Equatable { case badFraming, tooLong }

    /// HAProxy's buffer size (tune.bufsize): the longest message taken.
    public let limit: Int
    public init(limit: Int = 16384) { self.limit = limit }

    /// The next whole message at the start of `bytes` and how many bytes it used; nil when
    /// more bytes are needed.
    public func next(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> (message: UnsafeRawBufferPointer, consumed: Int)? {
        guard let first = bytes.first else { return nil }
        if first == UInt8(ascii: "<") {
            guard let lf = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
                if bytes.count > limit { throw .tooLong }
                return nil
            }
            guard lf <= limit else { throw .tooLong }
            var end = lf
            if end > 0, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            return (UnsafeRawBufferPointer(rebasing: bytes[0..<end]), lf + 1)
        }
        guard (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(first) else { throw .badFraming }
        var length = 0, p = 0
        while p < bytes.count, bytes[p] != 0x20 {
            guard (0x30...0x39).contains(bytes[p]) else { throw .badFraming }
            length = length * 10 + Int(bytes[p] - 0x30)
            guard length <= limit else { throw .tooLong }
            p += 1
        }
        guard p < bytes.count else { return nil }
        let start = p + 1
        guard bytes.count - start >= length else { return nil }
        return (UnsafeRawBufferPointer(rebasing: bytes[start..<start + length]), start + length)
    }

    /// `message` framed for a ring's server: `LENGTH SP MESSAGE` (octet counting) or the
    /// message and a LF (`log-proto legacy`, HAProxy's default).
    public static func frame(_ message: [UInt8], octetCounting: Bool) -> [UInt8] {
        octetCounting ? Array("\(message.count) ".utf8) + message : message + [UInt8(ascii: "\n")]
    }
}
