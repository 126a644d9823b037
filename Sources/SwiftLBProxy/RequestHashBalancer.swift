import Atomics
import NIOCore
import SwiftLBConfig

/// `balance uri|url_param|hdr(NAME)`: a consistent hash of a part of the request (its path, a
/// query parameter, a header), so that the same URL or the same host lands on the same server
/// — a cache's hit rate — on every SwiftLB instance alike (`ConsistentHashRing`). A request
/// without that part (no such parameter or header) is balanced round robin, as HAProxy does.
/// The key itself is taken from the request head by `RequestHashKey.hash(_:)`.
final class RequestHashBalancer: Balancer {
    private let table: ManagedAtomic<BalancerTable<ConsistentHashRing>>
    private let fallback: RoundRobinBalancer

    init(servers: [RuntimeServer]) {
        table = ManagedAtomic(BalancerTable(ConsistentHashRing(servers)))
        fallback = RoundRobinBalancer(weights: servers.map(\.weight))
    }

    func reweigh(_ servers: [RuntimeServer]) {
        table.store(BalancerTable(ConsistentHashRing(servers)), ordering: .releasing)
        fallback.reweigh(servers)
    }

    func pick(client: SocketAddress?, key: UInt64?, isCandidate: (Int) -> Bool) -> Int? {
        guard let key else { return fallback.pick(client: client, key: nil, isCandidate: isCandidate) }
        return table.load(ordering: .acquiring).value.server(for: key, isCandidate: isCandidate)
    }
}

extension RequestHashKey {
    /// The hash of the part of `head` this key names, or nil when the request has none.
    func hash(_ head: MessageHead) -> UInt64? {
        switch self {
        case .uri(let length, let depth, let includesQuery, let pathOnly):
            let whole = head.currentTarget
            var target = Substring(whole)
            if pathOnly, let start = TargetRewrite.pathStart(whole) { target = whole[start...] }
            if !includesQuery, let query = target.firstIndex(of: "?") { target = target[..<query] }
            if let depth {
                var slashes = 0
                if let cut = target.firstIndex(where: { c in
                    guard c == "/" else { return false }
                    slashes += 1
                    return slashes > depth
                }) { target = target[..<cut] }
            }
            if let length { target = target.prefix(length) }
            return stableHash(target.utf8)
        case .urlParameter(let name):
            let target = head.currentTarget
            guard let query = target.firstIndex(of: "?") else { return nil }
            for pair in target[target.index(after: query)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if parts[0] == name, parts.count == 2, !parts[1].isEmpty { return stableHash(parts[1].utf8) }
            }
            return nil
        case .header(let name, let domainOnly):
            // The first value of the first line, as HAProxy's `http_find_header` without
            // `full` (of `X-Forwarded-For: 1.2.3.4, 10.0.0.1`, the client's 1.2.3.4).
            guard let line = head.values(of: name).first else { return nil }
            let value = line.prefix { $0 != "," }.trimmingSpaces
            guard !value.isEmpty else { return nil }
            guard domainOnly else { return stableHash(value.utf8) }
            return stableHash(Self.domain(of: String(value)).utf8)
        }
    }

    /// `use_domain_only`: of `www.example.com:8080`, `example` — the label before the
    /// top-level domain (the whole name when it has a single label).
    static func domain(of host: String) -> Substring {
        var name = Substring(host)
        if name.first != "[", let colon = name.lastIndex(of: ":") { name = name[..<colon] }
        let labels = name.split(separator: ".")
        return labels.count >= 2 ? labels[labels.count - 2] : name
    }
}
