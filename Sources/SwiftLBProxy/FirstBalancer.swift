import NIOCore

/// `balance first`: the first candidate in declaration order. A server at its `maxconn` is
/// not a candidate, so traffic fills one server before spilling to the next; without
/// `maxconn` everything goes to the first UP server (an active/standby pair of nodes).
final class FirstBalancer: Balancer {
    private let serverCount: Int
    init(serverCount: Int) { self.serverCount = serverCount }

    func pick(client: SocketAddress?, key: UInt32?, isCandidate: (Int) -> Bool) -> Int? {
        (0..<serverCount).first(where: isCandidate)
    }
}
