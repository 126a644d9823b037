/// HAProxy's checks of each proxy's `mode` once the file is read (cfgparse.c
/// `check_config_validity`, proxy.c `proxy_cfg_ensure_no_http`), with its words: a proxy is
/// `mode tcp` unless a `mode http` line (its own or its defaults') says otherwise, so a copied
/// haproxy.cfg's mode-less Redis or Postgres section stays TCP. An HTTP frontend cannot send
/// its traffic to a TCP backend (a TCP one may use an HTTP backend: the session is upgraded);
/// HTTP-only settings of a TCP proxy are ignored with HAProxy's warnings.
extension SectionParser {
    func validateModes() {
        for frontend in config.frontends { checkBackendModes(of: frontend) }
        let listens = config.frontends.filter { listenNames.contains($0.name) }
        for frontend in config.frontends where frontend.options.mode == .tcp {
            warnHTTPOnlySettings(TCPProxyView(frontend: frontend, backend: listenNames.contains(frontend.name) ? config.backends[frontend.name] : nil))
        }
        for backend in config.backends.values.sorted(by: { $0.line < $1.line })
        where backend.options.mode == .tcp && !listens.contains(where: { $0.name == backend.name }) {
            warnHTTPOnlySettings(TCPProxyView(frontend: nil, backend: backend))
        }
    }

    /// "http frontend 'fe' (lb.conf:5) tries to use incompatible tcp backend 'be' (lb.conf:9)
    /// as its default backend (see 'mode')", at the frontend's line (`default_backend`) or
    /// the rule's (`use_backend`).
    private func checkBackendModes(of frontend: Frontend) {
        guard frontend.options.mode == .http else { return }
        func check(_ name: String, line: Int, keyword: String, usage: String) {
            guard name != frontend.name, let backend = config.backends[name], backend.options.mode == .tcp else { return }
            let front = listenNames.contains(frontend.name) ? "proxy" : "frontend", back = listenNames.contains(name) ? "proxy" : "backend"
            errors.append(ConfigError(file: file, line: line, keyword: keyword, message:
                "http \(front) '\(frontend.name)' (\(file):\(frontend.line)) tries to use incompatible tcp \(back) '\(name)' (\(file):\(backend.line)) \(usage) (see 'mode')"))
        }
        if let name = frontend.defaultBackend { check(name, line: frontend.line, keyword: "default_backend", usage: "as its default backend") }
        for rule in frontend.switchingRules where !rule.isDynamic {
            check(rule.backend, line: rule.line, keyword: "use_backend", usage: "in a 'use_backend' rule")
        }
    }

    /// HAProxy's warnings, word for word, for a `mode tcp` proxy's HTTP-only settings (which
    /// SwiftLB's TCP path does not apply either).
    private func warnHTTPOnlySettings(_ proxy: TCPProxyView) {
        let kind = proxy.kind, name = proxy.name, line = proxy.line
        let options = proxy.options
        // proxy_cfg_ensure_no_http
        if proxy.backend != nil, options.cookie != nil { warn(line, "cookie", "cookie will be ignored for \(kind) '\(name)' (needs 'mode http').") }
        if proxy.frontend != nil, options.monitorURI != nil { warn(line, "monitor-uri", "monitor-uri will be ignored for \(kind) '\(name)' (needs 'mode http').") }
        if proxy.backend != nil, case .requestHash = options.balance {
            warn(line, "balance", "Layer 7 hash not possible for \(kind) '\(name)' (needs 'mode http'). Falling back to round robin.")
        }
        // HTTP/2 on a listener needs an HTTP stream too.
        for bind in proxy.frontend?.binds ?? [] where bind.proto == "h2" {
            let address = bind.socket.map { "\($0)" } ?? (bind.host == "0.0.0.0" ? ":\(bind.port)" : bind.host.contains(":") ? "[\(bind.host)]:\(bind.port)" : "\(bind.host):\(bind.port)")
            errors.append(ConfigError(file: file, line: bind.line, keyword: "bind",
                                      message: "\(kind) '\(name)' : MUX protocol 'h2' is not usable for 'bind \(address)' at [\(file):\(bind.line)]."))
        }
        if proxy.frontend != nil, options.httpLog, options.logFormat == nil {
            let option = options.httpLogLayout == .httpslog ? "httpslog" : "httplog"
            warn(options.logFormatLine, "option", "'option \(option)' not usable with \(kind) '\(name)' (needs 'mode http'). Falling back to 'option tcplog'.")
        }
        // check_config_validity, for a proxy not in HTTP mode (nor switching to it with
        // `tcp-request content switch-mode http`)
        if !(proxy.frontend?.tcpRequestRules.contains { $0.action == .switchMode } ?? false) {
            warnIgnoredHTTPRules(proxy)
        }
        for server in proxy.backend?.servers ?? [] where server.parameters.cookie != nil {
            warn(server.line, "server", "\(kind) '\(name)' : ignoring cookie for server '\(server.name)' as HTTP mode is disabled.")
        }
        // HTTP/2 towards a server needs an HTTP stream; HAProxy refuses it in TCP mode.
        for server in proxy.backend?.servers ?? [] where server.parameters.http2 {
            errors.append(ConfigError(file: file, line: server.line, keyword: "server",
                                      message: "MUX protocol 'h2' is not usable for server '\(server.name)' of 'mode tcp' backend '\(name)'"))
        }
    }
}

extension SectionParser {
    /// The second half of HAProxy's warnings: rules and options a TCP proxy does not run.
    private func warnIgnoredHTTPRules(_ proxy: TCPProxyView) {
        let options = proxy.options
        func ignored(_ what: String, _ keyword: String, at: Int? = nil, plural: Bool = false) {
            warn(at ?? proxy.line, keyword, "\(what) ignored for \(proxy.kind) '\(proxy.name)' as \(plural ? "they require" : "it requires") HTTP mode.")
        }
        if options.stats != nil { ignored("'stats' statement", "stats") }
        // ('capture' statement: HAProxy's is `capture cookie`, which SwiftLB does not know.)
        if proxy.has(\.httpRequestRules) { ignored("'http-request' rules", "http-request", plural: true) }
        if proxy.has(\.httpResponseRules) { ignored("'http-response' rules", "http-response", plural: true) }
        if proxy.has(\.httpAfterResponseRules) { ignored("'http-after-response' rules", "http-after-response", plural: true) }
        let redirects = (proxy.frontend?.redirects ?? []) + (proxy.backend?.redirects ?? [])
        if let first = redirects.first { ignored("'redirect' rules", "redirect", at: first.line, plural: true) }
        if options.forwardFor != nil { ignored("'option forwardfor'", "option") }
        if options.originalTo != nil { ignored("'option originalto'", "option") }
        if options.httpBufferRequest { ignored("'option http-buffer-request'", "option") }
        if proxy.frontend != nil, options.acceptInvalidRequest { ignored("'option accept-invalid-http-request'", "option") }
        if proxy.backend != nil, options.acceptInvalidResponse { ignored("'option accept-invalid-http-response'", "option") }
        if proxy.backend != nil, options.pretendKeepAlive { ignored("'option http-pretend-keepalive'", "option") }
    }
}

/// One `mode tcp` proxy as HAProxy sees it: a frontend, a backend, or both halves of a
/// `listen` (one proxy, one warning, called a "proxy" in HAProxy's messages).
private struct TCPProxyView {
    var frontend: Frontend?
    var backend: Backend?

    var kind: String { frontend != nil && backend != nil ? "proxy" : frontend != nil ? "frontend" : "backend" }
    var name: String { frontend?.name ?? backend!.name }
    var line: Int { frontend?.line ?? backend!.line }
    /// A `listen`'s options are written into both halves; the backend's hold the back side.
    var options: ProxyOptions { backend?.options ?? frontend!.options }

    /// Either half holds rules of this list.
    func has(_ list: KeyPath<any HTTPRuleHolder, [HTTPRule]>) -> Bool {
        !(frontend?[keyPath: list].isEmpty ?? true) || !(backend?[keyPath: list].isEmpty ?? true)
    }
}
