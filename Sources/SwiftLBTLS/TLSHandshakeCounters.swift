import Synchronization

/// The process's frontend TLS handshakes, full and resumed, for `show info`'s
/// `SslFrontendSessionReuse_pct` (HAProxy: the share of frontend handshakes that reused a
/// session). One relaxed atomic add per completed server-side handshake.
public enum TLSHandshakeCounters {
    static let frontendHandshakes = Atomic<Int>(0)
    static let frontendResumed = Atomic<Int>(0)

    static func frontendHandshakeCompleted(resumed: Bool) {
        frontendHandshakes.add(1, ordering: .relaxed)
        if resumed { frontendResumed.add(1, ordering: .relaxed) }
    }

    /// Percent of the frontend handshakes since start that needed no new key (0 before any),
    /// as HAProxy's `100 * (1 - full / all)` truncated (4 full of 84: 95). HAProxy computes it
    /// over the last second's rates; SwiftLB over every handshake since start.
    public static var frontendSessionReusePercent: Int {
        let all = frontendHandshakes.load(ordering: .relaxed)
        guard all > 0 else { return 0 }
        let full = all - frontendResumed.load(ordering: .relaxed)
        return Int(100.0 * (1.0 - Double(full) / Double(all)))
    }
}
