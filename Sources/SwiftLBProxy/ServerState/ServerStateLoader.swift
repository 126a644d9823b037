import FoundationEssentials
import SwiftLBConfig
import SwiftLBHealth

/// Applies the saved server states at start (HAProxy 2.6's apply_server_state): the global
/// `server-state-file` for backends with `load-server-state-from-file global`, a backend's own
/// file for `local`. Whatever cannot be read or applied is a warning, never a failure to start,
/// as in HAProxy. Runs once, on the first runtime: a reload keeps the states it has in memory.
enum ServerStateLoader {
    /// The warnings (and notices of what changed) for the operator.
    static func apply(_ configuration: Configuration, backends: [RuntimeBackend],
                      read: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) }) -> [ConfigError] {
        var messages: [String] = []
        let global = configuration.global
        func path(_ name: String) -> String {
            guard let base = global.serverStateBase, !name.hasPrefix("/") else { return name }
            return base.hasSuffix("/") ? base + name : base + "/" + name
        }
        func load(_ file: String, what: String) -> [ServerStateFile.Line]? {
            guard let text = read(file) else {
                messages.append("Can't open \(what) server state file '\(file)'")
                return nil
            }
            switch ServerStateFile.parse(text) {
            case .success(let lines): return lines
            case .failure(.version): messages.append("Can't get version of the \(what) server state file '\(file)' (SwiftLB reads version 1)")
            case .failure(.corrupted(let line)): messages.append("corrupted \(what) server state file '\(file)' at line \(line): nothing of it applied")
            }
            return nil
        }
        // The global file, keyed by "backend server" (the first line of a pair wins).
        var globalLines: [String: ServerStateFile.Line]?
        if let file = global.serverStateFile, let lines = load(path(file), what: "global") {
            var byKey: [String: ServerStateFile.Line] = [:]
            for line in lines where byKey["\(line.backend) \(line.server)"] == nil { byKey["\(line.backend) \(line.server)"] = line }
            globalLines = byKey
        }
        for backend in backends where !backend.servers.isEmpty {
            let source = backend.config.options.serverState
            var lines: [String: ServerStateFile.Line] = [:]
            switch source.load {
            case .none:
                continue
            case .global:
                guard global.serverStateFile != nil else {
                    messages.append("backend '\(backend.name)' configured to load server state file from global section 'server-state-file' directive. Unfortunately, 'server-state-file' is not set!")
                    continue
                }
                for server in backend.servers { lines[server.name] = globalLines?["\(backend.name) \(server.name)"] }
            case .local:
                let file = path(source.fileName ?? backend.name)
                guard let all = load(file, what: "backend '\(backend.name)'") else { continue }
                let id = configuration.proxyIDs[backend.name]
                for line in all {
                    // A line is this backend's by id or by name; by id alone it is skipped.
                    if line.backend != backend.name {
                        if line.backendID == id { messages.append("Proxy '\(backend.name)': backend name mismatch: from server state file: '\(line.backend)', from running config '\(backend.name)'") }
                        continue
                    }
                    if let id, line.backendID != id {
                        messages.append("Proxy '\(backend.name)': backend ID mismatch: from server state file: '\(line.backendID)', from running config '\(id)'")
                    }
                    if lines[line.server] == nil { lines[line.server] = line }
                }
                for name in Set(lines.keys).subtracting(backend.servers.map(\.name)).sorted() {
                    messages.append("Proxy '\(backend.name)': can't find server '\(name)' in backend '\(backend.name)'")
                }
            }
            var reweighed = false
            for server in backend.servers {
                guard let line = lines[server.name] else { continue }
                let configured = backend.config.servers.first { $0.name == server.name }?.port ?? 0
                switch ServerStateFile.decide(line.fields, server: server.parameters, port: configured) {
                case .failure(let invalid):
                    messages.append("server-state application failed for server '\(backend.name)/\(server.name)', " + invalid.reasons.joined(separator: ", "))
                case .success(let decision):
                    let health = server.health
                    if let operational = decision.operational, operational != health.state {
                        health.set(operational)
                        if operational == .down { messages.append("Server \(backend.name)/\(server.name) is DOWN, changed from server-state after a reload.") }
                    }
                    if decision.admin != health.admin {
                        health.setAdmin(decision.admin)
                        switch decision.admin {
                        case .drain: messages.append("Server \(backend.name)/\(server.name) remains in forced drain mode.")
                        case .maint: messages.append("Server \(backend.name)/\(server.name) remains in forced maintenance, from server-state.")
                        case .ready: messages.append("Server \(backend.name)/\(server.name) is ready again: lb.conf no longer disables it.")
                        }
                    }
                    if let weight = decision.weight, weight != health.weight {
                        health.setWeight(weight)
                        reweighed = true
                    }
                    if decision.ignoredChecksDisabled {
                        messages.append("server '\(backend.name)/\(server.name)': the server state file says its health checks were disabled; SwiftLB runs them as lb.conf says")
                    }
                    if let port = decision.ignoredPort {
                        messages.append("server '\(backend.name)/\(server.name)': the server state file says port \(port); SwiftLB keeps lb.conf's \(configured) (HAProxy 2.6 would use the file's)")
                    }
                }
            }
            if reweighed { backend.balancer.reweigh(backend.servers) }
        }
        let line = global.keywordLines["server-state-file"] ?? 0
        return messages.map { ConfigError(file: configuration.file, line: line, keyword: "server-state-file", message: $0) }
    }
}
