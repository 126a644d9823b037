import CLibSSL

/// What went wrong in OpenSSL, as one readable line (OpenSSL's own error strings).
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }

    /// The error queue of this thread, drained into a message, or `fallback` when empty.
    static func drain(_ fallback: String) -> TLSError {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return TLSError(messages.isEmpty ? fallback : "\(fallback): \(messages.joined(separator: "; "))")
    }
}
