/// `compression algo|type|offload` and `filter compression`: HTTP response compression, read
/// as HAProxy 2.6's parse_compression_options and parse_http_comp_flt read them.
extension KeywordRegistry {
    static let compressionStatus = KeywordStatus.active

    static let compressionKeywords: [Keyword] = [
        Keyword("compression algo", SectionKind.proxies, usage: "compression algo identity|deflate|raw-deflate|gzip…",
                status: compressionStatus) { p, c in
            guard !c.args.isEmpty else { throw ParseFailure("'compression algo' expects <algorithm>") }
            var written: [HTTPCompression.Algorithm] = []
            for name in c.args {
                guard let algorithm = HTTPCompression.Algorithm(rawValue: name) else {
                    let known = HTTPCompression.Algorithm.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ParseFailure("'\(name)' is not a supported algorithm (\(known))")
                }
                written.append(algorithm)
            }
            // HAProxy prepends each one, to the list inherited from `defaults` too.
            p.withOptions { $0.compression = $0.compression ?? HTTPCompression(); $0.compression!.algorithms.insert(contentsOf: written.reversed(), at: 0) }
        },
        Keyword("compression type", SectionKind.proxies, usage: "compression type MIME…", status: compressionStatus) { p, c in
            guard !c.args.isEmpty else { throw ParseFailure("'compression type' expects <type>") }
            p.withOptions { $0.compression = $0.compression ?? HTTPCompression(); $0.compression!.types.insert(contentsOf: c.args.reversed(), at: 0) }
        },
        Keyword("compression offload", SectionKind.proxies, usage: "compression offload", status: compressionStatus) { p, c in
            try c.noArguments()
            if c.section == .defaults {
                // HAProxy 2.6: "'compression' : 'offload' ignored in 'defaults' section."
                p.warn("'compression offload' is ignored in a 'defaults' section (HAProxy ignores it there too); write it in the frontend or backend")
                return
            }
            p.withOptions { $0.compression = $0.compression ?? HTTPCompression(); $0.compression!.offload = true }
        },
        Keyword("filter compression", [.frontend, .backend, .listen], usage: "filter compression", status: compressionStatus) { p, c in
            try c.noArguments()
            if let earlier = p.options.compression?.filterLine {
                throw ParseFailure("a proxy supports only one compression filter (declared at line \(earlier))")
            }
            let line = c.line.number
            p.withOptions { $0.compression = $0.compression ?? HTTPCompression(); $0.compression!.filterLine = line }
        },
    ] + ["trace", "cache", "spoe", "fcgi-app", "bwlim-in", "bwlim-out"].map {
        Keyword.unsupported("filter \($0)", [.frontend, .backend, .listen], "SwiftLB's only filter is 'filter compression'")
    }
}
