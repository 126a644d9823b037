/// Cross-section checks that need the whole file, run once every line is read.
extension SectionParser {
    /// Cross-section checks that need the whole file: referenced backends exist, frontends
    /// listen somewhere, no two frontends bind the same address, timeouts are set.
    func finish() {
        finishVRRP()
        finishProcess()
        validateLogForwarding()
        for ref in errorFilesReferences where config.httpErrors[ref.name] == nil {
            errors.append(ConfigError(file: ref.file, line: ref.line, keyword: "errorfiles",
                                      message: "no http-errors section named '\(ref.name)'\(didYouMean(ref.name, in: Array(config.httpErrors.keys)))"))
        }
        for ref in userlistReferences where config.userlists[ref.name] == nil {
            errors.append(ConfigError(file: ref.file, line: ref.line, keyword: ref.keyword,
                                      message: "no userlist named '\(ref.name)'\(didYouMean(ref.name, in: Array(config.userlists.keys)))"))
        }
        for ref in backendReferences where config.backends[ref.name] == nil {
            let near = didYouMean(ref.name, in: Array(config.backends.keys))
            errors.append(ConfigError(file: ref.file, line: ref.line, keyword: ref.keyword, message: "no backend named '\(ref.name)'\(near)"))
        }
        inferUnwrittenBackendModes()
        applyMinconn()
        // HAProxy refuses an HTTP frontend that sends its traffic to a TCP backend; a TCP
        // frontend's session becomes HTTP when it goes to an HTTP backend (an implicit upgrade).
        for frontend in config.frontends {
            for name in Set(frontend.backendNames) {
                guard let backend = config.backends[name], backend.options.mode != frontend.options.mode else { continue }
                if frontend.options.mode == .tcp && !backend.options.modeWritten {
                    // Used by tcp and http frontends (else inferUnwrittenBackendModes made it
                    // tcp): HAProxy would run it as TCP (its default) and refuse the http ones;
                    // upgrading the tcp sessions to HTTP silently would break Redis or Postgres.
                    let httpUsers = config.frontends.filter { $0.options.mode == .http && $0.backendNames.contains(name) }.map { "'\($0.name)'" }
                    errors.append(ConfigError(file: file, line: backend.line, keyword: "backend",
                                              message: "backend '\(name)' has no 'mode' and is used by frontend '\(frontend.name)' (mode tcp) and by \(httpUsers.joined(separator: ", ")) (mode http): SwiftLB's default mode is http, HAProxy's tcp; write 'mode tcp' or 'mode http'"))
                    continue
                }
                guard frontend.options.mode == .http else { continue }
                errors.append(ConfigError(file: file, line: frontend.line, keyword: frontend.options.mode == .tcp ? "mode" : "use_backend",
                                          message: "frontend '\(frontend.name)' (mode \(frontend.options.mode.rawValue)) cannot use backend '\(name)' (mode \(backend.options.mode.rawValue)): unable to use a proxy with the wrong mode"))
            }
        }
        var seen: [String: String] = [:]
        for frontend in config.frontends {
            if frontend.binds.isEmpty && !frontendsWithBindLines.contains(frontend.name) {
                // HAProxy's warning: such a proxy receives no traffic.
                warn(frontend.line, "frontend", "frontend '\(frontend.name)' has no 'bind' directive. Please declare it as a backend if this was intended.")
            }
            for bind in frontend.binds {
                let key = bind.socket.map { "\($0)" } ?? "\(bind.host):\(bind.port)"
                if let other = seen[key] {
                    errors.append(ConfigError(file: file, line: bind.line, keyword: "bind", message: "\(key) is already bound by frontend '\(other)'"))
                }
                seen[key] = frontend.name
            }
            if frontend.options.mode == .tcp, let first = frontend.redirects.first {
                // HAProxy's warning: a redirect needs an HTTP stream.
                warn(first.line, "redirect", "'redirect' rules ignored for frontend '\(frontend.name)' as they require HTTP mode.")
            }
            if !listenNames.contains(frontend.name), frontend.options.timeouts.client == nil {
                warnMissingTimeouts("frontend", frontend.name, line: frontend.line)
            }
        }
        for backend in config.backends.values.sorted(by: { $0.line < $1.line }) {
            if backend.options.httpCheck != nil && backend.options.tcpCheck != nil {
                errors.append(ConfigError(file: file, line: backend.line, keyword: "option",
                                          message: "backend '\(backend.name)' has both 'option httpchk' and 'option tcp-check'; choose one"))
            }
            let t = backend.options.timeouts
            let isListen = listenNames.contains(backend.name)
            if t.connect == nil || t.server == nil || (isListen && t.client == nil) {
                warnMissingTimeouts(isListen ? "proxy" : "backend", backend.name, line: backend.line)
            }
            if backend.servers.isEmpty { warn(backend.line, "backend", "backend '\(backend.name)' has no server: every request gets 503") }
            // HAProxy's init_srv_check: a checked server without a port of its own needs one for
            // its checks — `port N` on the line, or the backend's first check rule `connect port N`.
            var connectPort: Int?
            if case .connect(let connect)? = backend.options.tcpCheck?.first { connectPort = connect.port }
            if backend.options.tcpCheck == nil { connectPort = backend.options.httpCheck?.connect?.port }
            for server in backend.servers where server.parameters.portFromClient && server.parameters.check && server.parameters.checkPort == nil
                && connectPort == nil && server.parameters.initAddr?.first != "none" {
                errors.append(ConfigError(file: file, line: server.line, keyword: "server",
                                          message: "server '\(server.name)' has neither service port nor check port: write 'port N' for its checks (HAProxy refuses it too)"))
            }
            if backend.options.mode == .tcp {
                if case .requestHash = backend.options.balance {
                    // HAProxy's warning (proxy.c): a request hash needs a request.
                    warn(backend.line, "balance", "Layer 7 hash not possible for backend '\(backend.name)' (needs 'mode http'). Falling back to round robin.")
                }
                if let first = backend.redirects.first {
                    // HAProxy's warning (cfgparse.c): a redirect needs an HTTP stream.
                    warn(first.line, "redirect", "'redirect' rules ignored for backend '\(backend.name)' as they require HTTP mode.")
                }
                // HTTP/2 towards a server needs an HTTP stream; HAProxy refuses it in TCP mode.
                for server in backend.servers where server.parameters.http2 {
                    errors.append(ConfigError(file: file, line: server.line, keyword: "server",
                                              message: "MUX protocol 'h2' is not usable for server '\(server.name)' of 'mode tcp' backend '\(backend.name)'"))
                }
            }
            if backend.options.tcpCheck != nil || backend.options.protocolCheck?.speaksOtherThanHTTP == true, backend.options.mode == .http {
                warn(backend.line, "backend", "backend '\(backend.name)' checks its servers with tcp-check (or redis-check) but serves 'mode http': "
                     + "its clients must speak HTTP (a Redis or Postgres client would get 'HTTP/1.1 400'); write 'mode tcp' for such a service")
            }
        }
    }

    /// HAProxy's warning, word for word, so that whoever knows it recognises it.
    func warnMissingTimeouts(_ kind: String, _ name: String, line: Int) {
        warn(line, "timeout", """
            missing timeouts for \(kind) '\(name)'.
            While not properly invalid, you will certainly encounter various problems
            with such a configuration. To fix this, please ensure that all following
            timeouts are set to a non-zero value: 'client', 'connect', 'server'.
            """)
    }

    /// HAProxy's `srv_minmax_conn_apply` and `fullconn` default: a `minconn` above `maxconn`
    /// (or without it) is the static `maxconn`; a backend without `fullconn` gets a tenth of
    /// the `maxconn` of the frontends that can send it traffic (`default_backend`, static
    /// `use_backend`), at least 1.
    func applyMinconn() {
        for name in Array(config.backends.keys) {
            for i in config.backends[name]!.servers.indices {
                var p = config.backends[name]!.servers[i].parameters
                guard let min = p.minconn else { continue }
                if min == 0 {
                    p.minconn = nil  // HAProxy's "not set": the static maxconn
                } else if min > (p.maxconn ?? 0) {
                    if min > 0 { p.maxconn = min }
                    p.minconn = nil
                }
                config.backends[name]!.servers[i].parameters = p
            }
            guard config.backends[name]!.options.fullconn == nil else { continue }
            let total = config.frontends.filter { $0.backendNames.contains(name) }
                .reduce(0) { $0 + ($1.options.maxconn ?? config.global.maxconn) }
            config.backends[name]!.options.fullconn = max(1, (total + 9) / 10)
        }
    }

    /// A backend (or listen) whose `mode` is written nowhere (not in it, not in its defaults)
    /// and that only `mode tcp` frontends use runs in `mode tcp`, as in HAProxy, whose default
    /// mode is tcp; every other unwritten mode keeps SwiftLB's http default.
    func inferUnwrittenBackendModes() {
        var users: [String: Set<ProxyMode>] = [:]
        for frontend in config.frontends {
            for name in frontend.backendNames { users[name, default: []].insert(frontend.options.mode) }
        }
        for (name, modes) in users where modes == [.tcp] {
            guard let backend = config.backends[name], !backend.options.modeWritten else { continue }
            config.backends[name]!.options.mode = .tcp
        }
        // Computed `use_backend` names may reach any backend: when only `mode tcp` frontends
        // compute names, a backend no HTTP frontend names runs in tcp too.
        let computing = Set(config.frontends.filter { $0.switchingRules.contains(where: \.isDynamic) }.map(\.options.mode))
        if computing == [.tcp] {
            for (name, backend) in config.backends where !backend.options.modeWritten && users[name].map({ $0 == [.tcp] }) ?? true {
                config.backends[name]!.options.mode = .tcp
            }
        }
    }
}

extension Frontend {
    /// The backends this frontend can send traffic to: its default and its static `use_backend`
    /// ones (a dynamic name is known per request only).
    var backendNames: [String] { [defaultBackend].compactMap { $0 } + switchingRules.filter { !$0.isDynamic }.map(\.backend) }
}
