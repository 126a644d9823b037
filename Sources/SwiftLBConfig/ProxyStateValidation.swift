/// The proxies and servers that `nbsrv(NAME)`, `fe_conn(NAME)`, `srv_is_up(NAME/SERVER)`…
/// name exist, with the capability the fetch needs, checked once the whole file is read (as
/// HAProxy's smp_resolve_args, with its messages).
extension SectionParser {
    func validateProxyStateReferences() {
        for ref in proxyStateReferences {
            let from: (name: String, frontend: Bool, backend: Bool)
            switch ref.from {
            case .frontend(let i): from = (config.frontends[i].name, true, false)
            case .listen(let i, _): from = (config.frontends[i].name, true, true)
            case .backend(let name): from = (name, false, true)
            // A `defaults` section's rule reads the proxy that runs it (HAProxy's PR_CAP_DEF).
            default: continue
            }
            let fetch = ref.fetch
            let keyword = fetch.kind.rawValue
            let tail = ref.expression.map { "referenced in arg 1 of sample fetch keyword '\(keyword)' in \($0) in proxy '\(from.name)'." }
                ?? "referenced in arg 1 of ACL keyword '\(keyword)' in proxy '\(from.name)'."
            func fail(_ message: String) {
                errors.append(ConfigError(file: ref.file, line: ref.line, keyword: ref.keyword, message: message))
            }
            // Without argument, the rule's own proxy, which must be of the fetch's side.
            if fetch.proxy == nil, !(fetch.kind.readsFrontend ? from.frontend : from.backend) {
                fail("proxy '\(from.name)', \(tail.dropLast()), has not \(fetch.kind.readsFrontend ? "frontend" : "backend") capability.")
                continue
            }
            if fetch.kind.readsFrontend {
                let name = fetch.proxy ?? from.name
                if !config.frontends.contains(where: { $0.name == name }) { fail("unable to find frontend '\(name)' \(tail)") }
                continue
            }
            let name = fetch.proxy ?? from.name
            guard let backend = config.backends[name] else {
                fail("unable to find backend '\(name)' \(tail)")
                continue
            }
            if let server = fetch.server, !backend.servers.contains(where: { $0.name == server }) {
                fail("unable to find server '\(server)' in proxy '\(name)', \(tail)")
            }
        }
    }
}
