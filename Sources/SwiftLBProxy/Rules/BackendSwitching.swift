import SwiftLBConfig

/// A frontend's `use_backend` rules, compiled: each condition with its backend, or with the
/// log-format that names the backend per request (HAProxy's dynamic rules,
/// `use_backend %[req.hdr(host),lower,map_dom(hosts.map,be_default)]`). Kept apart from the
/// stream code so the HTTP and the TCP paths choose alike; a frontend without dynamic rules
/// builds no name table and renders nothing.
struct BackendSwitching {
    enum Target {
        case backend(RuntimeBackend)
        /// Rendered per request and looked up among the backends (and listens) by name.
        case named(LogFormat)
    }

    let rules: [(condition: Condition, target: Target)]
    /// Every backend by name, for the dynamic rules (empty without them).
    private let byName: [String: RuntimeBackend]

    var isEmpty: Bool { rules.isEmpty }

    init(rules: [(condition: Condition, target: Target)] = [], byName: [String: RuntimeBackend] = [:]) {
        self.rules = rules
        self.byName = rules.contains { if case .named = $0.target { true } else { false } } ? byName : [:]
    }

    /// Compiles `frontend`'s rules against the runtime's backends; a log-format that does not
    /// compile is an error naming the rule's line and `use_backend`.
    static func compile(_ frontend: Frontend, backends: [String: RuntimeBackend], file: String) throws(ConfigErrors) -> BackendSwitching {
        var rules: [(condition: Condition, target: Target)] = []
        var errors: [ConfigError] = []
        for rule in frontend.switchingRules {
            guard rule.isDynamic else {
                rules.append((rule.condition, .backend(backends[rule.backend]!)))  // checked by the parser
                continue
            }
            do {
                let format = try LogFormat(parsing: rule.backend)
                if let constant = format.constant {
                    // Only text (`a%%b`): one backend, resolved now as HAProxy does.
                    guard let backend = backends[constant] else {
                        errors.append(ConfigError(file: file, line: rule.line, keyword: "use_backend", message: "no backend named '\(constant)'"))
                        continue
                    }
                    rules.append((rule.condition, .backend(backend)))
                } else {
                    rules.append((rule.condition, .named(format)))
                }
            } catch {
                errors.append(ConfigError(file: file, line: rule.line, keyword: "use_backend",
                                          message: "failed to parse use_backend rule '\(rule.backend)': \(error.message)"))
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return BackendSwitching(rules: rules, byName: backends)
    }

    /// The backend of the first rule whose condition `holds`, else `fallback` (the frontend's
    /// `default_backend`). A dynamic rule whose name is no backend ends the search with the
    /// fallback, as HAProxy's process_switching_rules does; `input` is asked for only then.
    func choose(fallback: RuntimeBackend?, holds: (Condition) -> Bool, input: () -> SampleInput) -> RuntimeBackend? {
        for rule in rules where holds(rule.condition) {
            switch rule.target {
            case .backend(let backend): return backend
            case .named(let format): return byName[format.render(input())] ?? fallback
            }
        }
        return fallback
    }

    /// Whether a rule may send traffic to a server (the stats listener's /metrics belongs to
    /// it only when nothing is proxied): a dynamic rule may.
    var mayProxy: Bool {
        rules.contains { rule in
            if case .backend(let backend) = rule.target { !backend.servers.isEmpty } else { true }
        }
    }
}
