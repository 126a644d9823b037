/// Socket options of the client and server sockets, as HAProxy 2.6 sets them: the
/// keep-alive probes' schedule (`clitcpka-*`, `srvtcpka-*`, with `option clitcpka|srvtcpka|tcpka`),
/// `option tcp-smart-accept|tcp-smart-connect` and the kernel buffers
/// (`tune.rcvbuf.*`, `tune.sndbuf.*`). The data path applies them in SwiftLBProxy/SocketTuning.swift.
extension KeywordRegistry {
    static let socketKeywords: [Keyword] = keepAliveProbeKeywords + [
        flagOption("tcp-smart-accept", SectionKind.frontSide, \.tcpSmartAccept),
        flagOption("nolinger", SectionKind.proxies, \.noLinger),
        flagOption("tcp-smart-connect", SectionKind.backSide, \.tcpSmartConnect),
        // HAProxy 2.6 warns the same: one process, nothing to bind to.
        Keyword("bind-process", SectionKind.proxies, usage: "bind-process SET…") { p, _ in
            p.warn("'bind-process' has no effect, is deprecated, and will be removed in version 2.7.")
        },
    ] + [
        ("tune.rcvbuf.client", \GlobalSettings.clientSocketBuffers.receive), ("tune.rcvbuf.server", \GlobalSettings.serverSocketBuffers.receive),
        ("tune.sndbuf.client", \GlobalSettings.clientSocketBuffers.send), ("tune.sndbuf.server", \GlobalSettings.serverSocketBuffers.send),
    ].map { name, field in
        Keyword(name, [.global], usage: "\(name) BYTES") { p, c in
            // haproxy: a second line is an alert that does not stop the start ("already
            // specified. Continuing."); the first value stays.
            guard p.config.global[keyPath: field] == nil else {
                p.alertAlreadySpecified("'\(name)'")
                return
            }
            guard c.args.count == 1, let n = Int(c.args[0]), n > 0, n <= Int(Int32.max) else {
                throw ParseFailure("'\(name)' expects a size in bytes, from 1 to \(Int32.max)")
            }
            p.config.global[keyPath: field] = n
        }
    }

    /// `clitcpka-cnt N`, `clitcpka-idle TIME`, `clitcpka-intvl TIME` and their `srvtcpka-`
    /// twins. TIME counts in seconds when it has no unit (haproxy's TIME_UNIT_S).
    private static let keepAliveProbeKeywords: [Keyword] = [
        ("cli", SectionKind.frontSide, \ProxyOptions.clientKeepAliveProbes), ("srv", SectionKind.backSide, \ProxyOptions.serverKeepAliveProbes),
    ].flatMap { side, sections, probes in
        [
            Keyword("\(side)tcpka-cnt", sections, usage: "\(side)tcpka-cnt N") { p, c in
                guard let text = c.args.first else { throw ParseFailure("'\(c.written)' expects an integer value") }
                guard c.args.count == 1, let n = Int(text), n >= 0, n <= 127 else {
                    throw ParseFailure("'\(c.written)' expects a number of probes from 0 to 127 (TCP_KEEPCNT), not '\(text)'")
                }
                p.withOptions { $0[keyPath: probes].count = n == 0 ? nil : n }
            },
            Keyword("\(side)tcpka-idle", sections, usage: "\(side)tcpka-idle TIME") { p, c in
                let seconds = try probeSeconds(c)
                p.withOptions { $0[keyPath: probes].idle = seconds }
            },
            Keyword("\(side)tcpka-intvl", sections, usage: "\(side)tcpka-intvl TIME") { p, c in
                let seconds = try probeSeconds(c)
                p.withOptions { $0[keyPath: probes].interval = seconds }
            },
        ]
    }

    /// A keep-alive delay in whole seconds (the kernel's unit, at most 32767); 0 leaves the
    /// kernel's value, as in haproxy.
    private static func probeSeconds(_ c: KeywordCall) throws(ParseFailure) -> Int? {
        guard let text = c.args.first else { throw ParseFailure("'\(c.written)' expects an integer value") }
        guard c.args.count == 1, let d = ConfigDuration(parsing: text, bareNumberUnit: 1_000_000_000), d.nanoseconds >= 0 else {
            throw ParseFailure("'\(c.written)' expects a time, e.g. '30s' (a bare number counts seconds), not '\(text)'")
        }
        let seconds = Int(d.nanoseconds / 1_000_000_000)
        guard seconds <= 32767 else { throw ParseFailure("'\(c.written)': at most 32767 seconds (the kernel's limit)") }
        return seconds == 0 ? nil : seconds
    }
}
