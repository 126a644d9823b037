import Logging
#if canImport(Glibc)
import Glibc
#endif

/// HAProxy's runtime API on SwiftLB: the verbs, arguments, answers and access levels of
/// HAProxy's CLI for what SwiftLB has (`show stat`, `show info`, `show servers state`,
/// `set weight`, `set server`, `enable|disable server|health`, `prompt`, `quit`…), plus
/// `show vrrp`, `reload`, `rotate ssl tickets`. Pure of I/O: it turns a line and a session
/// into an answer, acting through `RuntimeAPIActions`; the control socket only moves bytes.
///
/// Every answer is followed by a blank line, or by `> ` in prompt mode, as HAProxy's; state
/// changes are logged (`Server B/S admin state READY -> DRAIN (control socket)`).
public struct RuntimeAPI: Sendable {
    public struct Options: Sendable, Equatable {
        /// `stats hide-version` also hides it from `show info`.
        public var hideVersion = false
        public init() {}
    }

    let actions: any RuntimeAPIActions
    let logger: Logger
    let options: Options

    public init(actions: any RuntimeAPIActions, logger: Logger, options: Options = Options()) {
        self.actions = actions
        self.logger = logger
        self.options = options
    }

    /// Answers one line (one or more `;`-separated commands); the session says afterwards
    /// whether the connection stays open.
    public func run(line: String, payload: String? = nil, session: inout CLISession) async -> String {
        precondition(!session.isClosed, "a line on a closed CLI session")
        session.payload = payload
        defer { session.payload = nil }
        var out = ""
        // A payload (`… <<` then lines up to an empty one, gathered by the connection): the
        // last command gets it as its last argument too (the `ssl cert` commands read it there).
        var commands = CLILine.commands(line)
        if let payload, !commands.isEmpty { commands[commands.count - 1].append(payload) }
        for words in commands {
            let answer = await execute(words, &session)
            out += answer
            if session.isClosed { break }
            out += session.answerSuffix
        }
        if !session.isClosed { session.lineAnswered() }
        return out
    }

    /// Whether an answer reports a refusal, for `swiftlb ctl`'s exit status: HAProxy's CLI
    /// answers in text only, so these are the first words of every refusal this layer gives
    /// (and of a refused reload), plus every `RuntimeAPIError.unsupported` refusal, whichever
    /// command it names.
    public static func answerIsFailure(_ answer: String) -> Bool {
        RuntimeAPIError.isUnsupported(answer) || (failurePrefixes + SSLCAFileCommands.failurePrefixes + sslCertFailurePrefixes).contains { answer.hasPrefix($0) }
    }

    static let failurePrefixes = [
        "Unknown command", "Permission denied", "No such", "Can't find", "Require ", "Success=0", "usage:", "Usage:",
        "'set server", "'set timeout", "'show", "'debug", "'clear", "'reload'", "Absolute weight", "Relative weight", "Trailing garbage",
        "Invalid addr", "problem converting", "Required arguments", "set server <b>/<s>", "Health check was not configured", "could not", "Line too long", "Too many connections",
    ]

    // MARK: the command table

    typealias Handler = @Sendable (RuntimeAPI, [String], inout CLISession) async -> String

    struct Command: Sendable {
        let words: [String]
        let usage: String
        let help: String
        let level: AccessLevel
        let run: Handler
    }

    static let commands: [Command] = [
        Command(words: ["show", "info"], usage: "show info", help: "report information about the running process", level: .user) { api, args, _ in
            guard args.isEmpty else { return "'show info' takes no argument in SwiftLB (HAProxy's desc|json|typed|float are not supported).\n" }
            let snapshot = await api.actions.snapshot()
            return InfoRenderer.render(snapshot.process, hideVersion: api.options.hideVersion)
        },
        Command(words: ["show", "stat"], usage: "show stat [json|no-maint|up]* [{<iid>|<proxy>|-1} <type> <sid>]",
                help: "report counters for each proxy and server", level: .user) { api, args, session in
            await api.showStat(args, session)
        },
        Command(words: ["show", "servers", "state"], usage: "show servers state [<backend>]",
                help: "dump volatile server information (all or for a single backend)", level: .user) { api, args, _ in
            guard args.count <= 1 else { return "'show servers state' takes at most one backend.\n" }
            let snapshot = await api.actions.snapshotWithStoppedServers()
            if let name = args.first {
                let named = { (p: ProxyStats) in (p.name == name || "\(p.iid)" == name) && p.backend != nil }
                guard let proxy = snapshot.proxies.first(where: named) ?? snapshot.stoppedProxies.first(where: named) else {
                    return "Can't find backend.\n"
                }
                return ServersStateRenderer.render(snapshot, backend: proxy.name)
            }
            return ServersStateRenderer.render(snapshot)
        },
        Command(words: ["show", "vrrp"], usage: "show vrrp", help: "VIP state, priority, peer, last transition and why, dropped heartbeats", level: .user) { api, _, _ in
            guard let text = await api.actions.vrrpStatus() else { return "No vrrp section in this configuration.\n" }
            return text.hasSuffix("\n\n") ? String(text.dropLast()) : (text.hasSuffix("\n") ? text : text + "\n")
        },
        Command(words: ["show", "version"], usage: "show version", help: "show version of the current process", level: .user) { api, _, _ in
            api.options.hideVersion ? "\n" : "\(await api.actions.snapshot().process.version)\n"
        },
        Command(words: ["get", "weight"], usage: "get weight <bk>/<srv>", help: "report a server's current weight", level: .user) { api, args, _ in
            guard args.count == 1 else { return "Require 'backend/server'.\n" }
            switch await api.findServer(args[0]) {
            case .failure(let e): return e.message + "\n"
            case .success(let s): return "\(s.userWeight) (initial \(s.initialWeight))\n"
            }
        },
        Command(words: ["set", "weight"], usage: "set weight <bk>/<srv>  (DEPRECATED)", help: "change a server's weight (use 'set server' instead)", level: .admin) { api, args, _ in
            guard args.count == 2 else { return "Require 'backend/server' and 'weight' or 'weight%'.\n" }
            return await api.setWeight(args[0], args[1])
        },
        Command(words: ["set", "maxconn", "server"], usage: "set maxconn server <bk>/<srv>", help: "change a server's maxconn setting", level: .admin) { api, args, _ in
            guard args.count == 2 else { return args.count == 1 ? "Require <maxconn>.\n" : "Require 'backend/server'.\n" }
            return await api.setMaxconn(args[0], args[1])
        },
        Command(words: ["set", "server"], usage: "set server <bk>/<srv> [opts]", help: "change a server's state, weight, address or health checks", level: .admin) { api, args, _ in
            await api.setServer(args)
        },
        Command(words: ["enable", "server"], usage: "enable server  (DEPRECATED)", help: "enable a disabled server (use 'set server' instead)", level: .admin) { api, args, _ in
            guard args.count == 1 else { return "Require 'backend/server'.\n" }
            return await api.setState(args[0], .ready)
        },
        Command(words: ["disable", "server"], usage: "disable server (DEPRECATED)", help: "disable a server for maintenance (use 'set server' instead)", level: .admin) { api, args, _ in
            guard args.count == 1 else { return "Require 'backend/server'.\n" }
            return await api.setState(args[0], .maint)
        },
        Command(words: ["enable", "health"], usage: "enable health <bk>/<srv>", help: "enable health checks", level: .admin) { api, args, _ in
            guard args.count == 1 else { return "Require 'backend/server'.\n" }
            return await api.setHealth(args[0], enabled: true)
        },
        Command(words: ["disable", "health"], usage: "disable health <bk>/<srv>", help: "disable health checks", level: .admin) { api, args, _ in
            guard args.count == 1 else { return "Require 'backend/server'.\n" }
            return await api.setHealth(args[0], enabled: false)
        },
        Command(words: ["clear", "counters"], usage: "clear counters [all]", help: "clear max statistics counters (or all counters)", level: .operator_) { api, args, session in
            let all = args == ["all"]
            guard args.isEmpty || all else { return "'clear counters' takes 'all' or nothing.\n" }
            if all && session.level < .admin { return "Permission denied\n" }
            do throws(RuntimeAPIError) {
                try await api.actions.clearCounters(all: all)
                api.logger.notice("control socket: counters cleared\(all ? " (all)" : " (maxima)")")
                return ""
            } catch {
                return error.message + "\n"
            }
        },
        Command(words: ["show", "table"], usage: "show table [<table>]", help: "report table usage stats or dump this table's contents", level: .user) { api, args, _ in
            guard args.count <= 1 else {
                return "'show table' takes at most a table name in SwiftLB (HAProxy's data./key filters are not supported).\n"
            }
            return await api.actions.showTable(args.first)
        },
        Command(words: ["clear", "table"], usage: "clear table <table>", help: "remove every entry from a table", level: .operator_) { api, args, _ in
            guard args.count == 1 else {
                return args.isEmpty ? "Required arguments: <table> (SwiftLB clears a whole table; HAProxy's key/data filters are not supported)\n"
                                    : "'clear table' takes only a table name in SwiftLB (HAProxy's key/data filters are not supported).\n"
            }
            return await api.actions.clearTable(args[0]) ? "" : "No such table\n"
        },
        Command(words: ["reload"], usage: "reload", help: "reload lb.conf: parse, validate, swap in (or keep the current one)", level: .admin) { api, args, _ in
            guard args.isEmpty else { return "'reload' takes no argument.\n" }
            api.logger.notice("control socket: reload requested")
            let outcome = await api.actions.reload()
            var out = "Success=\(outcome.success ? 1 : 0)\n--\n"
            for m in outcome.messages { out += m.hasSuffix("\n") ? m : m + "\n" }
            return out
        },
        Command(words: ["rotate", "ssl", "tickets"], usage: "rotate ssl tickets", help: "new session-ticket keys now (they also rotate hourly)", level: .admin) { api, _, _ in
            let n = await api.actions.rotateTicketKeys()
            api.logger.info("session-ticket keys rotated on \(n) TLS listeners (control socket)")
            return "Rotated the ticket keys of \(n) TLS listeners.\n"
        },
        SSLCAFileCommands.command(.show, .ca),
        SSLCAFileCommands.command(.new, .ca),
        SSLCAFileCommands.command(.set, .ca),
        SSLCAFileCommands.command(.commit, .ca),
        SSLCAFileCommands.command(.abort, .ca),
        SSLCAFileCommands.command(.del, .ca),
        SSLCAFileCommands.command(.show, .crl),
        SSLCAFileCommands.command(.new, .crl),
        SSLCAFileCommands.command(.set, .crl),
        SSLCAFileCommands.command(.commit, .crl),
        SSLCAFileCommands.command(.abort, .crl),
        SSLCAFileCommands.command(.del, .crl),
        Command(words: ["debug", "dev", "loop"], usage: "debug dev loop <ms>", help: "block one proxy event loop for <ms> ms (tests the VIP's liveness probe)", level: .admin) { api, args, _ in
            guard args.count == 1, let ms = Int(args[0]), (1...10_000).contains(ms) else { return "'debug dev loop' expects 1 to 10000 milliseconds.\n" }
            api.logger.warning("control socket: blocking a proxy event loop for \(ms) ms on request")
            do throws(RuntimeAPIError) {
                try await api.actions.blockEventLoop(milliseconds: ms)
                return "Blocked one proxy event loop for \(ms) ms.\n"
            } catch {
                return error.message + "\n"
            }
        },
        Command(words: ["set", "timeout", "cli"], usage: "set timeout cli <delay>", help: "change the idle timeout of this CLI session", level: .user) { _, args, session in
            switch args.count == 1 ? parseDelay(args[0]) : .invalid {
            case .nanoseconds(let ns):
                session.setTimeout(nanoseconds: ns)
                return ""
            case .overflow:
                // HAProxy's words for a timer past its range.
                return "timer overflow in argument '\(args[0])' to 'set timeout cli' (maximum value is 2147483647 ms or ~24.8 days)\n"
            case .invalid:
                return "'set timeout cli' expects an integer value (in seconds, or with a unit: ms, s, m, h).\n"
            }
        },
        Command(words: ["show", "ssl", "cert"], usage: "show ssl cert [<certfile>]", help: "display the SSL certificates used in memory, or the details of a file", level: .operator_) { api, a, _ in await api.showSSLCert(a) },
        Command(words: ["new", "ssl", "cert"], usage: "new ssl cert <certfile>", help: "create a new certificate file to be used in a crt-list or a directory", level: .admin) { api, a, _ in await api.newSSLCert(a) },
        Command(words: ["set", "ssl", "cert"], usage: "set ssl cert <certfile> <payload>", help: "replace a certificate file", level: .admin) { api, a, _ in await api.setSSLCert(a) },
        Command(words: ["commit", "ssl", "cert"], usage: "commit ssl cert <certfile>", help: "commit a certificate file", level: .admin) { api, a, _ in await api.commitSSLCert(a) },
        Command(words: ["abort", "ssl", "cert"], usage: "abort ssl cert <certfile>", help: "abort a transaction for a certificate file", level: .admin) { api, a, _ in await api.abortSSLCert(a) },
        Command(words: ["del", "ssl", "cert"], usage: "del ssl cert <certfile>", help: "delete an unused certificate file", level: .admin) { api, a, _ in await api.delSSLCert(a) },
        Command(words: ["show", "ssl", "crt-list"], usage: "show ssl crt-list [-n] [<list>]", help: "show the list of crt-lists or the content of a crt-list file", level: .admin) { api, a, _ in await api.showCrtList(a) },
        Command(words: ["add", "ssl", "crt-list"], usage: "add ssl crt-list <list> <cert> [opts]*", help: "add to crt-list file a line <cert> or a payload", level: .admin) { api, a, _ in await api.addCrtList(a) },
        Command(words: ["del", "ssl", "crt-list"], usage: "del ssl crt-list <list> <cert[:line]>", help: "delete a line <cert> from crt-list file", level: .admin) { api, a, _ in await api.delCrtList(a) },
        Command(words: ["show", "ssl", "ocsp-response"], usage: "show ssl ocsp-response [id]", help: "display the IDs of the OCSP responses used in memory, or the details of a single OCSP response", level: .admin) { api, a, _ in await api.showOCSPResponse(a) },
        Command(words: ["set", "ssl", "ocsp-response"], usage: "set ssl ocsp-response <resp|payload>", help: "update a certificate's OCSP Response from a base64-encode DER", level: .admin) { api, a, _ in await api.setOCSPResponse(a) },
        Command(words: ["operator"], usage: "operator", help: "lower the level of the current CLI session to operator", level: .user) { _, _, session in
            session.lower(to: .operator_) ? "" : "Permission denied!\n"
        },
        Command(words: ["user"], usage: "user", help: "lower the level of the current CLI session to user", level: .user) { _, _, session in
            session.lower(to: .user) ? "" : "Permission denied!\n"
        },
    ]

    /// Always listed last, as HAProxy does.
    static let builtins: [(String, String)] = [
        ("help [<command>]", "list matching or all commands"),
        ("prompt", "toggle interactive mode with prompt"),
        ("quit", "disconnect"),
    ]

    func execute(_ words: [String], _ session: inout CLISession) async -> String {
        switch words.first {
        case "help": return usage(session.level, header: "The following commands are valid at this level:", matching: [])
        case "prompt": session.togglePrompt(); return ""
        case "quit": session.close(); return ""
        default: break
        }
        let match = Self.commands
            .filter { words.count >= $0.words.count && Array(words.prefix($0.words.count)) == $0.words }
            .max { $0.words.count < $1.words.count }
        guard let command = match else { return unknown(words, session.level) }
        guard session.level >= command.level else { return "Permission denied\n" }
        return await command.run(self, Array(words.dropFirst(command.words.count)), &session)
    }

    /// HAProxy's answer to an unknown command: the commands that share its first words, or
    /// every command valid at this level.
    func unknown(_ words: [String], _ level: AccessLevel) -> String {
        for k in stride(from: min(words.count, 3), through: 1, by: -1) {
            let prefix = Array(words.prefix(k))
            let related = Self.commands.filter { $0.level <= level && $0.words.count >= k && Array($0.words.prefix(k)) == prefix }
            if !related.isEmpty {
                return usage(level, header: "Unknown command, but maybe one of the following ones is a better match:", matching: related)
            }
        }
        return usage(level, header: "Unknown command. Please enter one of the following commands only:", matching: [])
    }

    func usage(_ level: AccessLevel, header: String, matching: [Command]) -> String {
        func line(_ usage: String, _ help: String) -> String {
            "  " + usage + String(repeating: " ", count: max(0, 40 - usage.count)) + ": " + help + "\n"
        }
        let listed = matching.isEmpty ? Self.commands.filter { $0.level <= level } : matching
        var out = header + "\n"
        for c in listed.sorted(by: { $0.usage < $1.usage }) { out += line(c.usage, c.help) }
        if matching.isEmpty { for (u, h) in Self.builtins { out += line(u, h) } }
        return out
    }

    // MARK: commands with more to say

    func showStat(_ args: [String], _ session: CLISession) async -> String {
        var filter = CSVRenderer.Filter()
        var json = false
        var selector: [String] = []
        for a in args {
            switch a {
            case "json": json = true
            case "up": filter.onlyUp = true
            case "no-maint": filter.hideMaint = true
            case "typed", "desc": return RuntimeAPIError.unsupported("show stat \(a)", "use the CSV or 'json'").message + "\n"
            default: selector.append(a)
            }
        }
        let snapshot = await actions.snapshot()
        if !selector.isEmpty {
            guard selector.count == 3, let types = Int(selector[1]), let sid = Int(selector[2]) else {
                return "Usage: show stat [json|no-maint|up] [{<iid>|<proxy>|-1} <type> <sid>]\n"
            }
            if selector[0] != "-1" {
                guard let proxy = snapshot.proxies.first(where: { $0.name == selector[0] || "\($0.iid)" == selector[0] }) else {
                    return "No such proxy.\n"
                }
                filter.proxy = proxy.name
            }
            filter.types = types == -1 ? 7 : types
            filter.serverID = sid == -1 ? nil : sid
        }
        // HAProxy shows addresses, cookies and algorithms from the operator level up.
        let legends = session.level >= .operator_
        return json ? JSONRenderer.render(snapshot, hideVersion: options.hideVersion, legends: legends) : CSVRenderer.render(snapshot, filter: filter, legends: legends)
    }

    /// `backend/server` → the server as the snapshot has it, or HAProxy's error text. A stopped
    /// (`disabled`) backend's servers can be read but not changed: HAProxy answers "Proxy is
    /// disabled." to a change.
    func findServer(_ target: String, toChange: Bool = false) async -> Result<ServerStats, RuntimeAPIError> {
        let parts = target.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return .failure(RuntimeAPIError("Require 'backend/server'.")) }
        let snapshot = await actions.snapshotWithStoppedServers()
        let named = { (p: ProxyStats) in (p.name == parts[0] || "#\(p.iid)" == parts[0]) && p.backend != nil }
        let running = snapshot.proxies.first(where: named)
        guard let proxy = running ?? snapshot.stoppedProxies.first(where: named),
              let backend = proxy.backend else { return .failure(RuntimeAPIError("No such backend.")) }
        guard let server = backend.servers.first(where: { $0.name == parts[1] || "#\($0.sid)" == parts[1] }) else {
            return .failure(RuntimeAPIError("No such server."))
        }
        if toChange && running == nil { return .failure(RuntimeAPIError("Proxy is disabled.")) }
        return .success(server)
    }

    func backendName(_ target: String) -> String { String(target.split(separator: "/", maxSplits: 1).first ?? "") }

    /// What a change answers, and what it logs (nil: nothing).
    typealias Change = (answer: String, log: String?)

    /// Finds `backend/server`, runs `change` on it (which checks its own arguments and calls
    /// the action), logs what changed, and turns a refusal into HAProxy's one-line answer.
    func onServer(_ target: String, _ change: (_ backend: String, _ server: ServerStats) async throws(RuntimeAPIError) -> Change) async -> String {
        let server: ServerStats
        switch await findServer(target, toChange: true) {
        case .failure(let e): return e.message + "\n"
        case .success(let s): server = s
        }
        do throws(RuntimeAPIError) {
            let done = try await change(backendName(target), server)
            if let line = done.log { logger.warning("Server \(backendName(target))/\(server.name) \(line)") }
            return done.answer
        } catch {
            return error.message + "\n"
        }
    }

    func setState(_ target: String, _ state: ServerStats.AdminState, origin: String = "control socket") async -> String {
        await onServer(target) { backend, server throws(RuntimeAPIError) in
            try await actions.setAdminState(backend: backend, server: server.name, to: state)
            return ("", "admin state \(server.admin.rawValue.uppercased()) -> \(state.rawValue.uppercased()) (\(origin))")
        }
    }

    func setWeight(_ target: String, _ text: String) async -> String {
        await onServer(target) { backend, server throws(RuntimeAPIError) in
            let weight = try Self.parseWeight(text, initial: server.initialWeight).get()
            try await actions.setWeight(backend: backend, server: server.name, weight: weight)
            return ("", "weight \(server.userWeight) -> \(weight) (control socket)")
        }
    }

    /// HAProxy's `server_parse_maxconn_change_request`: a number (0: no limit), its messages.
    func setMaxconn(_ target: String, _ text: String) async -> String {
        await onServer(target) { backend, server throws(RuntimeAPIError) in
            let digits = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
            guard let first = digits.first, first.isASCII, first.isNumber else { throw RuntimeAPIError("maxconn string empty or preceded by garbage") }
            guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let maxconn = Int(text) else { throw RuntimeAPIError("Trailing garbage in maxconn string") }
            try await actions.setMaxconn(backend: backend, server: server.name, maxconn: max(0, maxconn))
            return ("", nil)
        }
    }

    func setHealth(_ target: String, enabled: Bool, origin: String = "control socket") async -> String {
        await onServer(target) { backend, server throws(RuntimeAPIError) in
            guard server.check != nil else {
                if enabled { throw RuntimeAPIError("Health check was not configured on this server, cannot enable.") }
                return ("", nil)
            }
            try await actions.setHealthChecks(backend: backend, server: server.name, enabled: enabled)
            return ("", "health checks \(enabled ? "enabled" : "disabled") (\(origin))")
        }
    }

    func setServer(_ args: [String]) async -> String {
        let usage = "usage: set server <backend>/<server> addr | health | state | weight\n"
        guard args.count >= 2 else {
            if args.count == 1, case .failure(let e) = await findServer(args[0]) { return e.message + "\n" }
            return usage
        }
        let target = args[0]
        switch args[1] {
        case "state":
            guard args.count == 3, let state = ServerStats.AdminState(rawValue: args[2]) else {
                return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
            }
            return await setState(target, state)
        case "weight":
            guard args.count == 3 else { return "Require <weight> or <weight%>.\n" }
            return await setWeight(target, args[2])
        case "health":
            // HAProxy forces the operational state here; SwiftLB turns the checks on or off.
            guard args.count == 3, args[2] == "up" || args[2] == "down" else {
                return "'set server <srv> health' expects 'up' or 'down' in SwiftLB (checks on or off).\n"
            }
            return await setHealth(target, enabled: args[2] == "up")
        case "addr":
            guard args.count == 3 || (args.count == 5 && args[3] == "port") else {
                return "set server <b>/<s> addr requires an address and optionally a port.\n"
            }
            return await setAddress(target, args[2], port: args.count == 5 ? args[4] : nil)
        default:
            return usage
        }
    }

    func setAddress(_ target: String, _ address: String, port portText: String?) async -> String {
        await onServer(target) { backend, server throws(RuntimeAPIError) in
            guard Self.isIPAddress(address) else { throw RuntimeAPIError("Invalid addr '\(address)'") }
            var port: Int?
            if let portText {
                guard let p = Int(portText), (1...65_535).contains(p) else { throw RuntimeAPIError("problem converting port '\(portText)' to an int") }
                port = p
            }
            try await actions.setAddress(backend: backend, server: server.name, address: address, port: port)
            var message = address == server.address ? "no need to change the addr" : "IP changed from '\(server.address)' to '\(address)'"
            if let port {
                message += port == server.port ? ", no need to change the port" : ", port changed from '\(server.port)' to '\(port)'"
            }
            message += " by 'stats socket command'"
            return (message + "\n", message)
        }
    }

    // MARK: argument parsing

    /// HAProxy's `set weight` argument: 0…256, or a percentage of the initial weight.
    static func parseWeight(_ text: String, initial: Int) -> Result<Int, RuntimeAPIError> {
        guard !text.isEmpty else { return .failure(RuntimeAPIError("Require <weight> or <weight%>.")) }
        if text.hasSuffix("%") {
            guard let pct = Int(text.dropLast()) else { return .failure(RuntimeAPIError("Trailing garbage in weight string")) }
            guard pct >= 0 else { return .failure(RuntimeAPIError("Relative weight must be positive.")) }
            return .success(min(256, initial * pct / 100))
        }
        guard let w = Int(text) else { return .failure(RuntimeAPIError("Trailing garbage in weight string")) }
        guard (0...256).contains(w) else { return .failure(RuntimeAPIError("Absolute weight can only be between 0 and 256 inclusive.")) }
        return .success(w)
    }

    static func isIPAddress(_ s: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }

    /// `10`, `10s`, `500ms`, `2m`, `1h` → nanoseconds (HAProxy's time format, seconds by default).
    /// `.overflow` past HAProxy's longest timer, 2147483647 ms.
    static func parseDelay(_ s: String) -> DelayParse {
        let units: [(String, Int64)] = [("ms", 1_000_000), ("us", 1_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("d", 86_400_000_000_000)]
        let (digits, scale) = units.first { s.hasSuffix($0.0) }.map { (s.dropLast($0.0.count), $0.1) } ?? (s[...], 1_000_000_000)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return .invalid }
        guard let n = Int64(digits) else { return .overflow }  // all digits, too many of them
        guard n > 0 else { return .invalid }
        let (nanoseconds, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow || nanoseconds > Self.longestDelay ? .overflow : .nanoseconds(nanoseconds)
    }

    enum DelayParse: Equatable {
        case nanoseconds(Int64)
        case invalid
        case overflow
    }

    static let longestDelay: Int64 = 2_147_483_647 * 1_000_000
}
