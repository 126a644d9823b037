/// The process keywords of `global`: limits, threads, the pidfile, how a stop ends.
extension KeywordRegistry {
    static let processKeywords: [Keyword] = [
        Keyword("maxconn", [.global], usage: "maxconn N") { p, c in p.config.global.maxconn = try c.positiveInt() },
        Keyword("nbthread", [.global], usage: "nbthread N") { p, c in
            let n = try c.positiveInt()
            guard n <= 64 else { throw ParseFailure("at most 64 threads") }
            p.config.global.nbthread = n
        },
        Keyword("pidfile", [.global], usage: "pidfile FILE") { p, c in p.config.global.pidfile = try c.one("one file name") },
        Keyword("hard-stop-after", [.global], usage: "hard-stop-after TIME") { p, c in p.config.global.hardStopAfter = try c.time() },
        Keyword("daemon", [.global], status: .pending("swiftlb runs in the foreground; use systemd or the demo script to supervise it"), parse: nil),
        Keyword("chroot", [.global], status: .pending("chroot is not supported"), parse: nil),
        Keyword("user", [.global], status: .pending("privilege drop is not supported"), parse: nil),
        Keyword("group", [.global], status: .pending("privilege drop is not supported"), parse: nil),
    ]
}
