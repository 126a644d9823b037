import CPCRE2

/// A compiled PCRE2 pattern (system libpcre2-8), matched against raw bytes.
///
/// Why PCRE2 and not Swift Regex: lb.conf rules come from haproxy.cfg, whose `path_reg`/`hdr_reg`
/// are PCRE; PCRE2 with JIT is also what HAProxy links against on Debian, so the same pattern means
/// the same thing and costs about the same. The compiled code is immutable and safe to share between
/// event loops; match data is per call (a small allocation) so no state is shared while matching.
public final class PCRE2Regex: @unchecked Sendable {
    /// The pattern as written in the configuration, for messages and `swiftlb check` output.
    public let pattern: String
    let code: OpaquePointer

    /// Why a pattern was refused: PCRE2's own message and the byte offset it points at.
    public struct CompileError: Error, CustomStringConvertible {
        public let message: String
        public let offset: Int
        public var description: String { "\(message) at offset \(offset)" }
    }

    public init(_ pattern: String, caseInsensitive: Bool = false) throws {
        self.pattern = pattern
        var errorCode: Int32 = 0
        var errorOffset: Int = 0
        let options: UInt32 = caseInsensitive ? UInt32(PCRE2_CASELESS) : 0
        let bytes = Array(pattern.utf8)
        let compiled = bytes.withUnsafeBufferPointer { buf in
            pcre2_compile_8(buf.baseAddress, buf.count, options, &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            var message = [UInt8](repeating: 0, count: 256)
            let n = pcre2_get_error_message_8(errorCode, &message, message.count)
            let text = n > 0 ? String(decoding: message.prefix(Int(n)), as: UTF8.self) : "error \(errorCode)"
            throw CompileError(message: text, offset: errorOffset)
        }
        // JIT makes matching several times faster; a failure (e.g. no JIT on this CPU) is not fatal,
        // the interpreter still matches correctly.
        _ = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE))
        self.code = compiled
    }

    deinit { pcre2_code_free_8(code) }

    /// True when the pattern matches anywhere in `bytes` (unanchored, like HAProxy's `-m reg`).
    public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let matchData = pcre2_match_data_create_from_pattern_8(code, nil) else { return false }
        defer { pcre2_match_data_free_8(matchData) }
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        // An empty subject still needs a valid pointer.
        var empty: UInt8 = 0
        let rc = withUnsafePointer(to: &empty) { emptyPtr in
            pcre2_match_8(code, base ?? emptyPtr, bytes.count, 0, 0, matchData, nil)
        }
        return rc >= 0
    }

    public func matches(_ string: String) -> Bool {
        var s = string
        return s.withUTF8 { matches(UnsafeRawBufferPointer($0)) }
    }
}
