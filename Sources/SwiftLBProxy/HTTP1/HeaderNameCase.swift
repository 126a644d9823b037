import NIOCore

/// The global `h1-case-adjust` map as one proxy side applies it (HAProxy's
/// h1_adjust_case_outgoing_hdr): in a serialised head, each field name whose lower case is a
/// map's FROM is overwritten with its TO — the same bytes in another case, so the head keeps
/// its length and is edited in place. Built only for a proxy whose option asks for it: a head
/// going anywhere else is not looked at.
struct HeaderNameCase: Sendable {
    /// By name length: each FROM (lower case) with its TO.
    private let byLength: [Int: [(from: [UInt8], to: [UInt8])]]

    /// nil when the option is off or the map is empty: nothing to do.
    init?(_ map: [String: String], enabled: Bool) {
        guard enabled, !map.isEmpty else { return nil }
        var byLength: [Int: [(from: [UInt8], to: [UInt8])]] = [:]
        for (from, to) in map.sorted(by: { $0.key < $1.key }) {
            byLength[from.utf8.count, default: []].append((Array(from.utf8), Array(to.utf8)))
        }
        self.byLength = byLength
    }

    /// Rewrites the names of `head` (a whole head: start line, fields, empty line).
    func apply(to head: inout ByteBuffer) {
        head.withUnsafeMutableReadableBytes { raw in
            guard var p = findLF(UnsafeRawBufferPointer(raw), from: 0).map({ $0 + 1 }) else { return }
            while p < raw.count, raw[p] != 0x0D {
                guard let end = findLF(UnsafeRawBufferPointer(raw), from: p) else { return }
                var colon = p
                while colon < end && raw[colon] != 0x3A { colon += 1 }
                if colon < end, let candidates = byLength[colon - p] {
                    for (from, to) in candidates where (0..<from.count).allSatisfy({ asciiLower(raw[p + $0]) == from[$0] }) {
                        for k in 0..<to.count { raw[p + k] = to[k] }
                        break
                    }
                }
                p = end + 1
            }
        }
    }
}
