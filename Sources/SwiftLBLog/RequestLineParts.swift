/// Where `%HM %HU %HP %HPO %HQ %HV` find their part of the request line: the scans of HAProxy
/// 2.6's `sess_build_logline` and `http_parse_path`, byte for byte, including their answers for
/// odd lines (no space: `<BADREQ>`; no version: `HTTP/0.9`; an absolute URI: `%HPO` is its path).
enum RequestLineParts {
    enum Part {
        case range(Range<Int>)
        case http09
    }

    /// nil: the part cannot be found and HAProxy prints `<BADREQ>`.
    static func part(_ v: LogVariable, _ b: UnsafeRawBufferPointer) -> Part? {
        let end = b.count
        @inline(__always) func isSP(_ i: Int) -> Bool { b[i] == 0x20 || b[i] == 0x09 }
        // method, spaces, target, spaces, version
        var i = 0
        while i < end && !isSP(i) { i += 1 }
        let methodEnd = i
        var spaces = 0
        while i < end && isSP(i) { i += 1; spaces += 1 }
        let targetStart = i
        var targetEnd = i
        while targetEnd < end && !isSP(targetEnd) { targetEnd += 1 }

        switch v {
        case .request:
            return .range(0..<end)
        case .method:
            return methodEnd == end ? nil : .range(0..<methodEnd)
        case .uri:
            return spaces == 0 ? nil : .range(targetStart..<targetEnd)
        case .path:
            guard spaces > 0 else { return nil }
            var stop = targetStart
            while stop < end && b[stop] != UInt8(ascii: "?") && !isSP(stop) { stop += 1 }
            return .range(targetStart..<stop)
        case .pathOnly:
            guard spaces > 0 else { return nil }
            var path = pathOf(b, targetStart..<targetEnd)
            if let q = path.firstIndex(where: { b[$0] == UInt8(ascii: "?") }) { path = path.lowerBound..<q }
            return .range(path)
        case .query:
            var q = 0
            while q < end && b[q] != UInt8(ascii: "?") { q += 1 }
            var stop = q
            while stop < end && !isSP(stop) { stop += 1 }
            return .range(q..<stop)
        case .version:
            guard spaces > 0 else { return nil }
            var j = targetEnd
            while j < end && isSP(j) { j += 1 }
            return j == end ? .http09 : .range(j..<end)
        default:
            return nil
        }
    }

    /// HAProxy's `http_parse_path`: the whole target in origin form; after `scheme://authority`
    /// in absolute form; nothing for `*`, an authority, or an empty target.
    static func pathOf(_ b: UnsafeRawBufferPointer, _ target: Range<Int>) -> Range<Int> {
        guard let first = target.first else { return target }
        if b[first] == UInt8(ascii: "*") { return first..<first }
        if b[first] == UInt8(ascii: "/") { return target }
        func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a }
        guard isAlpha(b[first]) else { return first..<first }
        var p = first + 1
        while p < target.upperBound,
              isAlpha(b[p]) || (b[p] >= 0x30 && b[p] <= 0x39) || b[p] == UInt8(ascii: "+") || b[p] == UInt8(ascii: "-") || b[p] == UInt8(ascii: ".") {
            p += 1
        }
        for expected in [UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "/")] {
            guard p < target.upperBound, b[p] == expected else { return first..<first }
            p += 1
        }
        while p < target.upperBound && b[p] != UInt8(ascii: "/") { p += 1 }
        return p..<target.upperBound
    }
}
