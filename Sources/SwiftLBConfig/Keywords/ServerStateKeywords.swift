/// `server-state-file`, `server-state-base` (global), `load-server-state-from-file` and
/// `server-state-file-name` (defaults, backend, listen): the server states saved by `show
/// servers state`, applied at start as HAProxy 2.6's apply_server_state does.
extension KeywordRegistry {
    static let serverStateStatus = KeywordStatus.active

    static let serverStateKeywords: [Keyword] = [
        Keyword("server-state-file", [.global], usage: "server-state-file FILE", status: serverStateStatus) { p, c in
            // haproxy: a second line is an alert that lets the start go on; the first stays.
            guard p.config.global.serverStateFile == nil else { p.alertAlreadySpecified("'server-state-file'"); return }
            p.config.global.serverStateFile = try c.one("a file path")
        },
        Keyword("server-state-base", [.global], usage: "server-state-base DIR", status: serverStateStatus) { p, c in
            guard p.config.global.serverStateBase == nil else { p.alertAlreadySpecified("'server-state-base'"); return }
            p.config.global.serverStateBase = try c.one("a directory path")
        },
        Keyword("load-server-state-from-file", SectionKind.backSide, usage: "load-server-state-from-file global|local|none",
                status: serverStateStatus) { p, c in
            guard let load = ServerStateSource.Load(rawValue: try c.one("'global', 'local' or 'none'")) else {
                throw ParseFailure("expects 'global', 'local' or 'none'")
            }
            p.withOptions { $0.serverState.load = load }
        },
        Keyword("server-state-file-name", SectionKind.backSide, usage: "server-state-file-name [NAME|use-backend-name]",
                status: serverStateStatus) { p, c in
            guard c.args.count <= 1 else { throw ParseFailure("expects at most a file name") }
            let name = c.args.first.flatMap { $0 == "use-backend-name" ? nil : $0 }
            p.withOptions { $0.serverState.fileName = name }
        },
    ]
}
