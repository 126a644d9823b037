import FoundationEssentials
import Glibc
import SwiftLBConfig

/// Conditions of rules, evaluated on a `SampleInput`: everything `RequestFacts` evaluates plus
/// what only a rule's context has — variables (`var()`), the client address against networks
/// (`src 10.0.0.0/8`, `LOCALHOST`), `src_conn_cur gt N`, `ssl_fc_sni`, and the request as the
/// rules before edited it.
extension Condition {
    func evaluate(_ input: SampleInput) -> Bool {
        let result = alternatives.contains { terms in
            terms.allSatisfy { term in term.acl.criteria.contains { $0.matches(input) } != term.negated }
        }
        return result != inverted
    }
}

extension ACLCriterion {
    func matches(_ input: SampleInput) -> Bool {
        if let constant { return constant }
        if let networkSet { return input.facts.source?.ipAddress.flatMap(IPNetwork.bytes).map(networkSet.contains) ?? false }
        if let networks { return IPNetwork.address(input.facts.source?.ipAddress, isIn: networks) }
        if fetch.readsPayload && !fetch.isInteger && method != .regex {
            // Payload bytes are compared as bytes (not all of them are text).
            guard var bytes = input.payloadBytes(fetch) else { return false }
            if method == .found { return true }
            // `-i`: patterns were lowered when parsed; ASCII letters of the sample are lowered here.
            if caseInsensitive { bytes = bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 } }
            return patterns.contains { pattern in
                switch method {
                case .prefix: bytes.starts(with: pattern)
                case .suffix: bytes.count >= pattern.count && bytes.suffix(pattern.count).elementsEqual(pattern)
                case .substring: pattern.isEmpty || bytes.firstRange(of: pattern) != nil
                default: bytes == pattern
                }
            }
        }
        let values: [String]
        if let sample {
            // An ACL on a sample expression: its one value (none when the fetch or a converter
            // finds nothing, which `-m found` tests).
            values = ACLSamples.expression(sample).evaluate(input).map { [$0.text] } ?? []
        } else {
            values = input.samples(fetch)
        }
        if let op = integerOperator {
            let bounds = patterns.compactMap { Int(String(decoding: $0, as: UTF8.self)) }
            return values.contains { v in
                guard let n = Int(v) else { return false }
                return bounds.contains { b in
                    switch op {
                    case "gt": n > b
                    case "ge": n >= b
                    case "lt": n < b
                    case "le": n <= b
                    default: n == b
                    }
                }
            }
        }
        return matches(values: values)
    }

    /// The pattern match of one criterion on sample values: any value matching any pattern.
    func matches(values: [String]) -> Bool {
        if method == .found { return !values.isEmpty }
        for raw in values {
            let value = caseInsensitive ? raw.lowercased() : raw
            if method == .regex {
                if regexes.contains(where: { $0.matches(value) }) { return true }
                continue
            }
            let bytes = Array(value.utf8)
            for pattern in patterns {
                switch method {
                case .exact: if bytes == pattern { return true }
                case .prefix: if bytes.starts(with: pattern) { return true }
                case .suffix: if bytes.count >= pattern.count && bytes.suffix(pattern.count).elementsEqual(pattern) { return true }
                case .substring: if pattern.isEmpty || bytes.firstRange(of: pattern) != nil { return true }
                case .domain: if Self.domainMatch(bytes, pattern) { return true }
                case .regex, .found, .binary, .integer: break
                }
            }
        }
        return false
    }
}

extension ACLCriterion {
    /// HAProxy's `pat_match_dom`: `pattern` occurs in `value` with a delimiter (`.`, `/`, `?`
    /// or the value's end) on each side.
    static func domainMatch(_ value: [UInt8], _ pattern: [UInt8]) -> Bool {
        guard !pattern.isEmpty, pattern.count <= value.count else { return pattern.isEmpty }
        func delimiter(_ b: UInt8) -> Bool { b == UInt8(ascii: ".") || b == UInt8(ascii: "/") || b == UInt8(ascii: "?") }
        var start = 0
        while start + pattern.count <= value.count {
            if (start == 0 || delimiter(value[start - 1]))
                && (start + pattern.count == value.count || delimiter(value[start + pattern.count]))
                && value[start..<(start + pattern.count)].elementsEqual(pattern) {
                return true
            }
            start += 1
        }
        return false
    }
}

/// The sample compiler of ACLs (`ACLSampleCompiler`): the executable passes `compiler` to the
/// configuration parser in its `BuildFacts`, and conditions evaluate what it compiled.
public enum ACLSamples {
    public static let compiler: ACLSampleCompiler = { text in try SampleExpression(parsing: text) }

    static func expression(_ compiled: any Sendable) -> SampleExpression {
        // Only `compiler` fills `ACLCriterion.sample`.
        compiled as! SampleExpression
    }
}

extension IPNetwork {
    /// Whether `address` lies in any of `networks` (written as in lb.conf).
    static func address(_ address: String?, isIn networks: [String]) -> Bool {
        guard let address, let bytes = bytes(address) else { return false }
        return networks.contains { IPNetwork($0)?.contains(bytes) ?? false }
    }
}
