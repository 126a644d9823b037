import NIOCore
import SwiftLBConfig

/// The configuration turned into what the data path needs: servers with resolved socket
/// addresses, backends referenced directly instead of by name. Immutable and shared by every
/// event loop; a reload would build a new one while connections keep the old one.
public final class ProxyRuntime: Sendable {
    public let configuration: Configuration
    let frontends: [RuntimeFrontend]
    let backends: [RuntimeBackend]

    /// Resolves every server address once (like HAProxy without `resolvers`); a name that does
    /// not resolve is an error naming the server's line.
    public init(configuration: Configuration) throws(ConfigErrors) {
        self.configuration = configuration
        var errors: [ConfigError] = []
        var backends: [RuntimeBackend] = []
        var byName: [String: RuntimeBackend] = [:]
        var nextServerID = 0
        for (index, backend) in configuration.backends.values.sorted(by: { $0.line < $1.line }).enumerated() {
            var servers: [RuntimeServer] = []
            for server in backend.servers {
                do {
                    let address = try SocketAddress.makeAddressResolvingHost(server.host, port: server.port)
                    servers.append(RuntimeServer(id: nextServerID, index: servers.count, name: server.name, address: address, weight: server.weight))
                    nextServerID += 1
                } catch {
                    errors.append(ConfigError(file: configuration.file, line: server.line, keyword: "server",
                                              message: "cannot resolve '\(server.host)': \(error)"))
                }
            }
            let runtime = RuntimeBackend(index: index, config: backend, servers: servers)
            backends.append(runtime)
            byName[backend.name] = runtime
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        self.backends = backends
        self.frontends = configuration.frontends.map { frontend in
            RuntimeFrontend(
                config: frontend,
                defaultBackend: frontend.defaultBackend.flatMap { byName[$0] },
                rules: frontend.switchingRules.map { ($0.condition, byName[$0.backend]!) }
            )
        }
    }
}

final class RuntimeFrontend: Sendable {
    let config: Frontend
    let defaultBackend: RuntimeBackend?
    let rules: [(Condition, RuntimeBackend)]
    var name: String { config.name }

    init(config: Frontend, defaultBackend: RuntimeBackend?, rules: [(Condition, RuntimeBackend)]) {
        self.config = config
        self.defaultBackend = defaultBackend
        self.rules = rules
    }
}

final class RuntimeBackend: Sendable {
    /// Position in `ProxyRuntime.backends`.
    let index: Int
    let config: Backend
    let servers: [RuntimeServer]
    let balancer: any Balancer
    var name: String { config.name }

    init(index: Int, config: Backend, servers: [RuntimeServer]) {
        self.index = index
        self.config = config
        self.servers = servers
        self.balancer = RoundRobinBalancer(weights: servers.map(\.weight))
    }

    func pickServer(excluding excluded: ServerSet) -> RuntimeServer? {
        balancer.pick(excluding: excluded).map { servers[$0] }
    }
}

final class RuntimeServer: Sendable {
    /// Unique across the runtime: keys the per-loop idle connection pool.
    let id: Int
    let name: String
    let address: SocketAddress
    let weight: Int
    /// Position in its backend's server list: what balancers and retry exclusion use.
    let index: Int

    init(id: Int, index: Int, name: String, address: SocketAddress, weight: Int) {
        self.id = id
        self.index = index
        self.name = name
        self.address = address
        self.weight = weight
    }
}
