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
        warnUndeclaredErrorFileCodes()
        for ref in userlistReferences where config.userlists[ref.name] == nil {
            errors.append(ConfigError(file: ref.file, line: ref.line, keyword: ref.keyword,
                                      message: "no userlist named '\(ref.name)'\(didYouMean(ref.name, in: Array(config.userlists.keys)))"))
        }
        validateProxyStateReferences()
        limitCookieCaptures()
        // A `disabled` proxy is not checked further than its own lines (HAProxy's).
        let disabled = Set(config.frontends.filter(\.options.disabled).map(\.name) + config.backends.values.filter(\.options.disabled).map(\.name))
        for ref in backendReferences where config.backends[ref.name] == nil && !disabled.contains(ref.from) {
            let near = didYouMean(ref.name, in: Array(config.backends.keys))
            errors.append(ConfigError(file: ref.file, line: ref.line, keyword: ref.keyword, message: "no backend named '\(ref.name)'\(near)"))
        }
        applyMinconn()
        validateModes()
        validateCheckRuleVerification()
        var seen: [String: String] = [:]
        for frontend in config.frontends where !frontend.options.disabled {
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
            if backend.servers.isEmpty { remark(backend.line, "backend", "backend '\(backend.name)' has no server: every request gets 503") }
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
}

extension Frontend {
    /// The backends this frontend can send traffic to: its default and its static `use_backend`
    /// ones (a dynamic name is known per request only).
    var backendNames: [String] { [defaultBackend].compactMap { $0 } + switchingRules.filter { !$0.isDynamic }.map(\.backend) }
}

extension SectionParser {
    /// `errorfiles NAME CODE…` naming a status the section has no file for: HAProxy's warning
    /// for each proxy, in its own words (no `parsing […]` prefix), counted by zero-warning. A
    /// `listen` is warned once; a line inherited from `defaults` is warned in every proxy.
    func warnUndeclaredErrorFileCodes() {
        var proxies = config.frontends.map { ($0.name, $0.line, $0.options) }
        let frontendNames = Set(proxies.map(\.0))
        proxies += config.backends.values.filter { !frontendNames.contains($0.name) }.map { ($0.name, $0.line, $0.options) }
        for (name, _, options) in proxies.sorted(by: { $0.1 < $1.1 }) {
            for case .section(let reference) in options.errorDirectives {
                guard let section = config.httpErrors[reference.section] else { continue }
                for code in reference.codes where section[code] == nil {
                    warnings.append(ConfigError(file: file, line: 0, keyword: "", message:
                        "config: proxy '\(name)' : status '\(code)' not declared in http-errors section '\(reference.section)' (at \(file):\(reference.line))."))
                }
            }
        }
    }
}
