#if canImport(Glibc)
import Glibc
#endif

/// HAProxy's `option ssl-hello-chk` (src/tcpcheck.c): an SSLv3 ClientHello offering the 39
/// common ciphers of that era is sent, and the server's first record must be a handshake (0x16)
/// or an alert (0x15) — any TLS server answers one or the other, so this tells a TLS port from
/// a plain one without a handshake. Layer 6: passed is "Layer6 check passed", anything else
/// "Layer6 invalid response", silence until the check timeout "Layer6 timeout".
struct SSLHelloCheck: CheckConversation {
    /// The time the hello carries (HAProxy's `date()`), injected for tests.
    var now: () -> UInt32 = { UInt32(truncatingIfNeeded: time(nil)) }

    var timeoutKind: CheckKind { .l6timeout }

    mutating func opening() -> [UInt8] { Self.clientHello(time: now()) }

    mutating func received(_ bytes: [UInt8], closed: Bool) -> ConversationStep {
        Self.evaluate(bytes, closed: closed).map(ConversationStep.finished) ?? .waitForMore
    }

    /// HAProxy's `sslv3_client_hello`, byte for byte.
    static func clientHello(time: UInt32) -> [UInt8] {
        var hello: [UInt8] = [0x16, 0x03, 0x00, 0x00, 0x79, 0x01, 0x00, 0x00, 0x75, 0x03, 0x00]
        hello += withUnsafeBytes(of: time.bigEndian) { Array($0) }
        hello += Array("HAPROXYSSLCHK\nHAPROXYSSLCHK\n".utf8)
        hello += [0x00, 0x00, 0x4e]
        let ciphers: [UInt8] = Array(0x01...0x1b) + Array(0x2f...0x3a)
        for c in ciphers { hello += [0x00, c] }
        hello += [0x01, 0x00]
        return hello
    }

    /// `expect rbinary "^1[56]" min-recv 5` with HAProxy's layer-6 statuses; nil to wait.
    static func evaluate(_ bytes: [UInt8], closed: Bool) -> CheckOutcome? {
        guard bytes.count >= 5 || closed else { return nil }
        if bytes.isEmpty { return .failed("TCPCHK got an empty response at step 2", .l6response) }
        guard bytes[0] == 0x15 || bytes[0] == 0x16 else { return .failed("", .l6response) }
        return .passed(bytes[0] == 0x16 ? "TLS handshake record" : "TLS alert record", .l6ok)
    }
}
