import FoundationEssentials

/// HAProxy 2.6's header-name case map for peers that read names case-sensitively (mux_h1.c):
/// `h1-case-adjust FROM TO` and `h1-case-adjust-file FILE` fill one global map; `option
/// h1-case-adjust-bogus-client` (frontend side) applies it to the responses a proxy sends its
/// clients, `option h1-case-adjust-bogus-server` (backend side) to the requests it sends its
/// servers. HAProxy writes every name in lower case and the map's `TO` for a name equal to
/// `FROM`; SwiftLB forwards names as they came, and writes `TO` for a name whose lower case
/// is `FROM`.
extension KeywordRegistry {
    static let headerCaseKeywords: [Keyword] = [
        Keyword("h1-case-adjust", [.global], usage: "h1-case-adjust FROM TO") { p, c in
            guard c.args.count <= 2 else { throw ParseFailure("'h1-case-adjust' cannot handle unexpected argument '\(c.args[2])'") }
            guard c.args.count == 2, !c.args[0].isEmpty, !c.args[1].isEmpty else { throw ParseFailure("'h1-case-adjust' expects <from> and <to> as argument.") }
            try addHeaderCase(&p.config.global.headerNameCase, from: c.args[0], to: c.args[1])
        },
        Keyword("h1-case-adjust-file", [.global], usage: "h1-case-adjust-file FILE") { p, c in
            let path = try c.one("one file name")
            try readHeaderCaseFile(path, into: &p.config.global.headerNameCase)
        },
        flagOption("h1-case-adjust-bogus-client", SectionKind.frontSide, \.h1CaseAdjustBogusClient),
        flagOption("h1-case-adjust-bogus-server", SectionKind.backSide, \.h1CaseAdjustBogusServer),
    ]

    /// add_hdr_case_adjust: `to` only differs from `from` in case, and `from` is new.
    private static func addHeaderCase(_ map: inout [String: String], from: String, to: String) throws(ParseFailure) {
        guard from.lowercased() == to.lowercased(), from.utf8.count == to.utf8.count else {
            throw ParseFailure("<from> and <to> must not differ except the case")
        }
        guard map[from] == nil else { throw ParseFailure("duplicate entry '\(from)'") }
        map[from] = to
    }

    /// The file's `FROM TO` lines (blanks around and between; `#` lines and empty lines
    /// skipped), read when lb.conf is, as HAProxy reads it after parsing; a path without a
    /// leading `/` is from the working directory, as HAProxy's.
    private static func readHeaderCaseFile(_ path: String, into map: inout [String: String]) throws(ParseFailure) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ParseFailure("h1-headers-case-adjust-file '\(path)': failed to open file.")
        }
        // By "\n" or "\r\n" (one Character in Swift, which a split on "\n" alone would miss).
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.first == "#" || trimmed.first == "\r" { continue }
            let from = trimmed.prefix { $0 != " " && $0 != "\t" && $0 != "\r" }
            var to = trimmed.dropFirst(from.count).drop { $0 == " " || $0 == "\t" }.prefix { $0 != "\r" }
            while let last = to.last, last == " " || last == "\t" { to = to.dropLast() }
            guard !to.isEmpty else { throw ParseFailure("h1-headers-case-adjust-file '\(path)' : expect <to> at line \(index + 1).") }
            do {
                try addHeaderCase(&map, from: String(from), to: String(to))
            } catch {
                throw ParseFailure("h1-headers-case-adjust-file '\(path)' : \(error.message) at line \(index + 1).")
            }
        }
    }
}
