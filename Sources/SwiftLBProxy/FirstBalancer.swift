import NIOCore

/// `balance first`: the first candidate in declaration order. Without per-server maxconn
/// (not implemented yet) this sends everything to the first UP server, which is what an
/// active/standby pair of nodes wants.
final class FirstBalancer: Balancer {
    private let serverCount: Int
    init(serverCount: Int) { self.serverCount = serverCount }

    func pick(client: SocketAddress?, isCandidate: (Int) -> Bool) -> Int? {
        (0..<serverCount).first(where: isCandidate)
    }
}
