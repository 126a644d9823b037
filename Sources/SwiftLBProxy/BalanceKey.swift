import NIOCore
import SwiftLBConfig

/// The 32-bit key a hashing `balance` looks a server up with, computed as HAProxy 2.6's
/// backend.c does (`gen_hash`, `get_server_sh|uh|ph|hh`), so that the same client or request
/// gives the same number — and so the same server — behind SwiftLB and HAProxy alike.
extension HashType {
    /// The hash of a request's key: the `hash-type` function, then the avalanche mix if asked.
    func hash<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let h: UInt32
        switch function {
        case .sdbm: h = SampleHash.sdbm(bytes)
        case .djb2: h = SampleHash.djb2(bytes)
        case .wt6: h = SampleHash.wt6(bytes)
        case .crc32: h = CRC32.checksum(Array(bytes))
        }
        return avalanche ? SampleHash.avalanche(h) : h
    }

    /// `balance source`: the address's 32-bit words (big-endian) XORed together — an IPv4
    /// address is its own key, an IPv6 one (a v4-mapped one too) the XOR of its four words.
    /// The hash function is not applied, only the avalanche mix, as HAProxy's
    /// `get_server_sh`. nil without an IP address (a unix socket): balanced round robin.
    func sourceKey(_ address: SocketAddress?) -> UInt32? {
        var key: UInt32
        switch address {
        case .v4(let a)?:
            key = UInt32(bigEndian: a.address.sin_addr.s_addr)
        case .v6(let a)?:
            var storage = a.address.sin6_addr
            let bytes = withUnsafeBytes(of: &storage) { Array($0) }
            key = 0
            for word in stride(from: 0, to: 16, by: 4) {
                key ^= bytes[word..<(word + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            }
        default:
            return nil
        }
        if avalanche { key = SampleHash.avalanche(key) }
        return key
    }
}

extension RequestHashKey {
    /// The bytes of `head` this key hashes, or nil when the request has none (it is then
    /// balanced round robin). `currentTarget` is the target after the `http-request` rules.
    /// `origin`: `scheme://authority` of an HTTP/2 request that carried `:authority`, whose URI
    /// HAProxy's h2 mux makes absolute (`h2_prepare_htx_reqline`): `uri` hashes it whole.
    func bytes(_ head: MessageHead, origin: String? = nil) -> ArraySlice<UInt8>? {
        switch self {
        case .uri(let length, let depth, let whole, let pathOnly):
            let target = head.currentTarget
            let uri = origin.map { $0 + (target == "*" ? "" : target) } ?? target
            // `path-only`: an absolute-form target without its scheme and authority, the query
            // kept for `whole`; nothing of `*` or an authority-form one, as `http_parse_path`.
            let hashed = pathOnly ? TargetRewrite.pathStart(uri).map { uri[$0...] } ?? "" : Substring(uri)
            return Self.uriKey(ArraySlice(hashed.utf8), length: length, depth: depth, whole: whole)
        case .urlParameter(let name):
            return Self.parameter(Array(name.utf8), in: ArraySlice(head.currentTarget.utf8))
        case .header(let name, let domainOnly):
            // The first value of the first line, as HAProxy's `http_find_header` without
            // `full` (of `X-Forwarded-For: 1.2.3.4, 10.0.0.1`, the client's 1.2.3.4); an empty
            // one is no key.
            guard let line = head.values(of: name).first else { return nil }
            let value = ArraySlice(line.prefix { $0 != "," }.trimmingSpaces.utf8)
            guard !value.isEmpty else { return nil }
            return domainOnly ? Self.domain(of: value) : value
        }
    }

    /// `get_server_uh`: the first `length` bytes, up to the slash that starts directory
    /// `depth + 1`, up to the `?` unless `whole`.
    static func uriKey(_ uri: ArraySlice<UInt8>, length: Int?, depth: Int?, whole: Bool) -> ArraySlice<UInt8> {
        let uri = length.map { uri.prefix($0) } ?? uri
        var slashes = 0
        let end = uri.firstIndex { c in
            if c == UInt8(ascii: "/") {
                slashes += 1
                return depth.map { slashes == $0 + 1 } ?? false
            }
            return c == UInt8(ascii: "?") && !whole
        }
        return uri[..<(end ?? uri.endIndex)]
    }

    /// `get_server_ph`: after the `?`, the value of the first `NAME=` that starts a
    /// parameter, up to the next `&` (an empty value is a key too, as in HAProxy).
    static func parameter(_ name: [UInt8], in target: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard let query = target.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        var start = query + 1
        while target.endIndex - start > name.count {
            let afterName = start + name.count
            if target[afterName] == UInt8(ascii: "="), target[start..<afterName].elementsEqual(name) {
                let value = target[(afterName + 1)...]
                return value[..<(value.firstIndex(of: UInt8(ascii: "&")) ?? value.endIndex)]
            }
            guard let amp = target[start...].firstIndex(of: UInt8(ascii: "&")) else { return nil }
            start = amp + 1
        }
        return nil
    }

    /// `use_domain_only` (`get_server_hh`): the label before the last dot (`www.example.com`
    /// → `example`, `example.com:8080` → `example`); the whole value without a dot past its
    /// first byte. HAProxy's backward scan, kept to the byte: it never looks at the first byte
    /// for the last dot, nor at the byte just before that dot for the previous one.
    static func domain(of value: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let dot = UInt8(ascii: ".")
        guard let last = value.dropFirst().lastIndex(of: dot) else { return value }
        var start = last - 1
        while start > value.startIndex, value[start - 1] != dot { start -= 1 }
        return value[start..<last]
    }
}
