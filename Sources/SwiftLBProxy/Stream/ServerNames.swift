import SwiftLBConfig

/// `server … ssl sni EXPRESSION` of a backend's servers: the distinct expressions, and which one
/// each server (by index) sends. A stream evaluates them once, before its dispatch (HAProxy
/// evaluates the server's `sni` when it connects, after the request's rules); the dispatcher
/// then dials with the chosen server's name and reuses only a connection made with the same
/// one (HAProxy 2.6 hashes the SNI into the connection). A backend whose servers send a
/// constant name, or none, has no expressions: nothing is evaluated and the pool is shared.
struct ServerNameExpressions {
    let expressions: [SampleExpression]
    /// Per server index: its expression's position, or -1 (a constant `sni`, or none). Empty
    /// without expressions.
    private let slots: [Int]

    var isEmpty: Bool { expressions.isEmpty }

    init(_ servers: [RuntimeServer]) {
        var expressions: [SampleExpression] = []
        var slots: [Int] = []
        for server in servers {
            guard let expression = server.sniExpression else { slots.append(-1); continue }
            if let at = expressions.firstIndex(where: { $0.text == expression.text }) {
                slots.append(at)
            } else {
                slots.append(expressions.count)
                expressions.append(expression)
            }
        }
        self.expressions = expressions
        self.slots = expressions.isEmpty ? [] : slots
    }

    /// Each expression's name for this request (nil: no value or an empty one; the connection
    /// then sends no SNI, as HAProxy's).
    func evaluate(_ input: SampleInput) -> [String?] {
        expressions.map { expression in
            guard let name = expression.evaluate(input)?.text, !name.isEmpty else { return nil }
            return name
        }
    }

    /// The position in `evaluate`'s answer of `server`'s name, or nil when its name is constant.
    func slot(of server: RuntimeServer) -> Int? {
        server.index < slots.count && slots[server.index] >= 0 ? slots[server.index] : nil
    }
}

/// The SNI a connection to a server carries: its constant `sni`, or what its expression gave
/// for the request that dialled it. `keyed`: connections differ by name, and one is reused only
/// for the same name.
struct ServerName: Equatable {
    var name: String?
    var keyed: Bool

    /// May a connection made with `self` carry a request that needs `wanted`?
    func serves(_ wanted: ServerName) -> Bool { !wanted.keyed || name == wanted.name }
}
