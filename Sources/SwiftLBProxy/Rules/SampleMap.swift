import FoundationEssentials
import SwiftLBConfig
import SwiftLBRegex

/// A map file as HAProxy's `map_<match>[_<output>](FILE[,DEFAULT])` converters read it: one
/// `KEY VALUE` pair a line, looked up with the sample as the key. Read and compiled once when
/// the rules are (a missing file or a bad key is a configuration error), then shared read-only
/// by every event loop: a class so the converter stays one word.
///
/// Which entry answers, as HAProxy 2.6's pattern indexes decide: `str` the first exact key,
/// `beg` the longest key the sample starts with, `ip` the longest network holding the address,
/// the others (`end`, `sub`, `dir`, `dom`, `reg`, `regm`, `int`) the first line that matches.
/// `regm` expands `\1`… in the value with the key's groups.
final class SampleMap: Sendable {
    enum Match: String, Sendable, CaseIterable { case str, beg, end, sub, dir, dom, reg, regm, ip, int }
    enum Output: String, Sendable { case str, int, ip }

    private enum Key: Sendable {
        case text([UInt8])
        case regex(PCRE2Regex)
        case network(IPNetwork)
        case range(ClosedRange<Int>)
    }

    private struct Entry: Sendable {
        let key: Key
        let value: SampleValue
        /// The value as written: `regm` expands it per match.
        let template: String
    }

    let match: Match
    let output: Output
    let path: String
    let defaultValue: SampleValue?
    private let entries: [Entry]
    /// `str`: the first entry of each key.
    private let exact: [[UInt8]: Int]

    /// `map_beg_int` → (.beg, .int); `map` → (.str, .str); nil for another name.
    static func kind(_ converter: String) -> (Match, Output)? {
        if converter == "map" { return (.str, .str) }
        guard converter.hasPrefix("map_") else { return nil }
        let parts = converter.dropFirst(4).split(separator: "_", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let match = Match(rawValue: String(parts[0])) else { return nil }
        // HAProxy's names: an `_int` or `_ip` output suffix, none for `regm`.
        guard let output = parts.count == 2 ? Output(rawValue: String(parts[1])) : .str, parts.count == 1 || output != .str && match != .regm else { return nil }
        return (match, output)
    }

    init(match: Match, output: Output, path: String, defaultValue: String?) throws(SampleExpression.Failure) {
        self.match = match
        self.output = output
        self.path = path
        let name = "map_\(match.rawValue)"
        func value(_ text: String, _ what: String) throws(SampleExpression.Failure) -> SampleValue {
            switch output {
            case .str: return .string(text)
            case .int:
                guard let n = Int(text) else { throw SampleExpression.Failure(message: "'\(name)': \(what) '\(text)' is not an integer") }
                return .integer(n)
            case .ip:
                guard IPNetwork.bytes(text) != nil else { throw SampleExpression.Failure(message: "'\(name)': \(what) '\(text)' is not an IP address") }
                return .string(text)
            }
        }
        self.defaultValue = try defaultValue.map { d throws(SampleExpression.Failure) in try value(d, "the default value") }
        guard let data = readFile(path) else { throw SampleExpression.Failure(message: "'\(name)': cannot read map file '\(path)'") }
        var entries: [Entry] = []
        var exact: [[UInt8]: Int] = [:]
        for (number, (keyText, valueText)) in Self.lines(Array(data)) {
            let key: Key
            switch match {
            case .reg, .regm:
                do { key = .regex(try PCRE2Regex(keyText)) } catch {
                    throw SampleExpression.Failure(message: "'\(name)': \(path):\(number): invalid regular expression '\(keyText)': \(error)")
                }
            case .ip:
                guard let network = IPNetwork(keyText) else { throw SampleExpression.Failure(message: "'\(name)': \(path):\(number): '\(keyText)' is not an address or network") }
                key = .network(network)
            case .int:
                guard let range = Self.integerRange(keyText) else { throw SampleExpression.Failure(message: "'\(name)': \(path):\(number): '\(keyText)' is not an integer or range") }
                key = .range(range)
            default:
                key = .text(Array(keyText.utf8))
                if match == .str, exact[Array(keyText.utf8)] == nil { exact[Array(keyText.utf8)] = entries.count }
            }
            let parsed = match == .regm && output == .str ? .string(valueText) : try value(valueText, "\(path):\(number): the value")
            entries.append(Entry(key: key, value: parsed, template: valueText))
        }
        self.entries = entries
        self.exact = exact
    }

    /// HAProxy's map file lines: `#` in the first column comments, blank lines skipped, the key
    /// up to the first blank, the value the rest of the line without its outer blanks.
    static func lines(_ bytes: [UInt8]) -> [(Int, (String, String))] {
        var out: [(Int, (String, String))] = []
        func blank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        for (index, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var l = line[...]
            if l.last == 0x0D { l = l.dropLast() }
            if l.first == UInt8(ascii: "#") { continue }
            l = l.drop(while: blank)
            guard !l.isEmpty else { continue }
            let key = l.prefix { !blank($0) && $0 != 0x0D }
            var rest = l[key.endIndex...].drop(while: blank)
            if let cr = rest.firstIndex(of: 0x0D) { rest = rest[..<cr] }
            while let last = rest.last, blank(last) { rest = rest.dropLast() }
            out.append((index + 1, (String(decoding: key, as: UTF8.self), String(decoding: rest, as: UTF8.self))))
        }
        return out
    }

    /// `N` or `LOW:HIGH` (either side may be empty: no bound).
    static func integerRange(_ text: String) -> ClosedRange<Int>? {
        guard let colon = text.firstIndex(of: ":") else { return Int(text).map { $0...$0 } }
        let low = text[..<colon].isEmpty ? Int.min : Int(text[..<colon])
        let high = text[text.index(after: colon)...].isEmpty ? Int.max : Int(text[text.index(after: colon)...])
        guard let low, let high, low <= high else { return nil }
        return low...high
    }

    /// The value of the entry `sample` finds, else the default, else nil (the converter fails).
    /// A sample that is no integer (`map_int`) or no address (`map_ip`) fails the expression
    /// as HAProxy's failed cast does, default or not.
    func lookup(_ sample: SampleValue) -> SampleValue? {
        switch match {
        case .int: guard Self.castInteger(sample) != nil else { return nil }
        case .ip: guard IPNetwork.bytes(sample.text) != nil else { return nil }
        default: break
        }
        return found(sample) ?? defaultValue
    }

    private func found(_ sample: SampleValue) -> SampleValue? {
        switch match {
        case .str:
            return exact[sample.bytes].map { entries[$0].value }
        case .int:
            guard let n = Self.castInteger(sample) else { return nil }
            return entries.first { if case .range(let r) = $0.key { r.contains(n) } else { false } }?.value
        case .ip:
            guard let address = IPNetwork.bytes(sample.text) else { return nil }
            var best: (Int, SampleValue)?
            for entry in entries {
                guard case .network(let n) = entry.key, n.contains(address), n.prefix > best?.0 ?? -1 else { continue }
                best = (n.prefix, entry.value)
            }
            return best?.1
        case .beg:
            let s = sample.bytes
            var best: (Int, SampleValue)?
            for entry in entries {
                guard case .text(let k) = entry.key, k.count <= s.count, k.count > best?.0 ?? -1, s.starts(with: k) else { continue }
                best = (k.count, entry.value)
            }
            return best?.1
        case .end, .sub, .dir, .dom:
            let s = sample.bytes
            return entries.first { entry in
                guard case .text(let k) = entry.key else { return false }
                switch match {
                case .end: return k.count <= s.count && s.suffix(k.count).elementsEqual(k)
                case .sub: return k.isEmpty || s.count >= k.count && (0...(s.count - k.count)).contains { s[$0..<($0 + k.count)].elementsEqual(k) }
                case .dir: return Self.matchWord(s, k, delimiters: [UInt8(ascii: "/")])
                default: return Self.matchWord(s, k, delimiters: [UInt8(ascii: ".")])
                }
            }?.value
        case .reg:
            let s = sample.bytes
            return entries.first { if case .regex(let r) = $0.key { r.firstMatch(in: s) != nil } else { false } }?.value
        case .regm:
            let s = sample.bytes
            for entry in entries {
                guard case .regex(let r) = entry.key, let groups = r.firstMatch(in: s) else { continue }
                guard let expanded = PCRE2Regex.expand(entry.template, subject: s, match: groups) else { return nil }
                return .string(String(decoding: expanded, as: UTF8.self))
            }
            return nil
        }
    }

    /// HAProxy's string-to-integer cast (`c_str2int`): an optional `-` and the leading digits,
    /// 0 when there are none; only an empty string fails.
    static func castInteger(_ value: SampleValue) -> Int? {
        if let n = value.integer { return n }
        let bytes = value.bytes
        guard !bytes.isEmpty else { return nil }
        let negative = bytes.first == UInt8(ascii: "-")
        var n = 0
        for b in bytes.dropFirst(negative ? 1 : 0) {
            guard b >= 0x30 && b <= 0x39 else { break }
            n = n &* 10 &+ Int(b - 0x30)
        }
        return negative ? -n : n
    }

    /// HAProxy's `match_word` (`-m dir`, `-m dom`): the key, without its outer delimiters,
    /// appears in the sample between delimiters or the sample's ends.
    static func matchWord(_ sample: [UInt8], _ key: [UInt8], delimiters: Set<UInt8>) -> Bool {
        var k = key[...]
        while let f = k.first, delimiters.contains(f) { k = k.dropFirst() }
        while let l = k.last, delimiters.contains(l) { k = k.dropLast() }
        guard k.count <= sample.count else { return false }
        let end = sample.count - k.count
        var mayMatch = true
        var c = 0
        while c <= end {
            defer { c += 1 }
            if delimiters.contains(sample[c]) { mayMatch = true; continue }
            guard mayMatch else { continue }
            if sample[c..<(c + k.count)].elementsEqual(k) && (c == end || delimiters.contains(sample[c + k.count])) { return true }
            mayMatch = false
        }
        return false
    }
}
