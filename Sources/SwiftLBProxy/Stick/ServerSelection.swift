import SwiftLBConfig

/// A backend's `force-persist|ignore-persist` and `use-server` rules, compiled (HAProxy's
/// persist rules, checked as soon as the backend is known, then process_server_rules, which
/// runs before the cookie and the stick tables are read). Built only for a backend that has
/// such rules; `option persist` alone is read from the backend's options.
struct ServerSelection: Sendable {
    /// What the first `force-persist|ignore-persist` rule that holds says for a request.
    enum Persistence: Sendable {
        case normal
        /// A cookie, `use-server` or stick entry naming a DOWN server is still followed.
        case force
        /// The cookie is not read (nor inserted in the response); stick tables still are.
        case ignore
    }

    enum Target: Sendable {
        case server(RuntimeServer)
        /// Rendered per request and looked up among the backend's servers by name.
        case named(LogFormat)
    }

    private let persistenceRules: [(condition: Condition, kind: PersistenceRule.Kind)]
    private let rules: [(condition: Condition, target: Target)]
    /// The backend's servers by name, for the dynamic rules (empty without them).
    private let byName: [String: RuntimeServer]
    /// `option persist`.
    private let persist: Bool

    /// Compiles `backend`'s rules against its servers; a name that is no server of it, or a
    /// log-format that does not compile, is an error naming the rule's line (HAProxy: "unable
    /// to find server 'X' referenced in a 'use-server' rule").
    init?(_ backend: Backend, servers: [RuntimeServer], file: String) throws(ConfigErrors) {
        guard !backend.serverSelectionRules.isEmpty || !backend.persistenceRules.isEmpty else { return nil }
        var named: [String: RuntimeServer] = [:]
        for server in servers { named[server.name] = server }
        var rules: [(condition: Condition, target: Target)] = []
        var errors: [ConfigError] = []
        for rule in backend.serverSelectionRules {
            func fail(_ message: String) { errors.append(ConfigError(file: file, line: rule.line, keyword: "use-server", message: message)) }
            guard rule.isDynamic else {
                guard let server = named[rule.server] else {
                    fail("backend '\(backend.name)' has no server '\(rule.server)' referenced in a 'use-server' rule")
                    continue
                }
                rules.append((rule.condition, .server(server)))
                continue
            }
            do {
                let format = try LogFormat(parsing: rule.server)
                if let constant = format.constant {
                    guard let server = named[constant] else {
                        fail("backend '\(backend.name)' has no server '\(constant)' referenced in a 'use-server' rule")
                        continue
                    }
                    rules.append((rule.condition, .server(server)))
                } else {
                    rules.append((rule.condition, .named(format)))
                }
            } catch {
                fail("failed to parse use-server rule '\(rule.server)': \(error.message)")
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        self.rules = rules
        self.persistenceRules = backend.persistenceRules.map { ($0.condition, $0.kind) }
        self.byName = rules.contains { if case .named = $0.target { true } else { false } } ? named : [:]
        self.persist = backend.options.persist
    }

    /// The first persistence rule that holds decides (none: normal persistence).
    func persistence(_ input: SampleInput) -> Persistence {
        for rule in persistenceRules where rule.condition.evaluate(input) {
            return rule.kind == .force ? .force : .ignore
        }
        return .normal
    }

    /// The server of the first `use-server` rule whose condition holds and whose server may
    /// take the request (`follows`); a rule whose server is DOWN lets the next ones be tried, a
    /// dynamic name that is no server ends the search (HAProxy's process_server_rules).
    func assigned(_ input: SampleInput, persistence: Persistence) -> RuntimeServer? {
        for rule in rules where rule.condition.evaluate(input) {
            let server: RuntimeServer
            switch rule.target {
            case .server(let s): server = s
            case .named(let format):
                guard let s = byName[format.render(input)] else { return nil }
                server = s
            }
            if Self.follows(server, persist: persist, persistence: persistence) { return server }
        }
        return nil
    }

    /// Whether a request that names `server` (cookie, `use-server`, stick entry) goes to it:
    /// when it is up, or with `option persist`, or when `force-persist` holds — HAProxy's
    /// `cur_state != SRV_ST_STOPPED || PR_O_PERSIST || SF_FORCE_PRST`.
    static func follows(_ server: RuntimeServer, persist: Bool, persistence: Persistence) -> Bool {
        server.health.acceptsStickyClients || persist || persistence == .force
    }
}
