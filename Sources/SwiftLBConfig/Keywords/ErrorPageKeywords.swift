import FoundationEssentials
import Glibc

/// Custom error pages: `errorfile CODE FILE`, `errorfiles NAME [CODE…]`, and `http-errors NAME`
/// sections of `errorfile` lines. The files must exist (checked here, as HAProxy does); they are
/// read and checked when the configuration is loaded (SwiftLBProxy's ErrorPages) and the data
/// path answers with them in place of its own error pages.
extension KeywordRegistry {
    static let errorPageStatus = KeywordStatus.active
    /// The statuses HAProxy lets an errorfile replace.
    static let errorFileCodes: Set<Int> = [200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504]

    static let errorPageKeywords: [Keyword] = [
        Keyword("errorfile", SectionKind.proxies, usage: "errorfile CODE FILE", status: errorPageStatus) { p, c in
            let (code, file) = try errorFile(c)
            p.withOptions { $0.errorDirectives.append(.status(code, .file(path: file, line: c.line.number))) }
        },
        // HAProxy 2.6 (`http_parse_errorloc`): a 302 or 303 to URL, with no body.
        Keyword("errorloc", SectionKind.proxies, usage: "errorloc CODE URL") { p, c in try errorLocation(p, c, code: 302) },
        Keyword("errorloc302", SectionKind.proxies, usage: "errorloc302 CODE URL") { p, c in try errorLocation(p, c, code: 302) },
        Keyword("errorloc303", SectionKind.proxies, usage: "errorloc303 CODE URL") { p, c in try errorLocation(p, c, code: 303) },
        // `http-error status CODE` and the arguments of `http-request return` (HAProxy 2.2+).
        Keyword("http-error", SectionKind.proxies,
                usage: "http-error status CODE [content-type TYPE] [string TEXT|lf-string FMT|file F|lf-file F|errorfile F|errorfiles NAME|default-errorfiles] [hdr NAME VALUE]…") { p, c in
            guard c.args.first == "status", c.args.count >= 2 else { throw ParseFailure("expects 'status CODE' first") }
            let reply = try httpReturn(c.args, defaultStatus: 0, statusWords: ["status"])
            guard errorFileCodes.contains(reply.status) else { throw unhandledStatus(reply.status) }
            p.withOptions { $0.errorDirectives.append(.status(reply.status, .reply(reply, line: c.line.number))) }
        },
        Keyword("errorfile", [.httpErrors], usage: "errorfile CODE FILE") { p, c in
            let (code, file) = try errorFile(c)
            guard case .httpErrors(let name) = p.section else { return }
            p.config.httpErrors[name, default: [:]][code] = file
        },
        Keyword("errorfiles", SectionKind.proxies, usage: "errorfiles NAME [CODE…]", status: errorPageStatus) { p, c in
            guard let name = c.args.first else { throw ParseFailure("expects the name of an http-errors section") }
            var codes: [Int] = []
            for word in c.args.dropFirst() {
                guard let code = Int(word), errorFileCodes.contains(code) else { throw ParseFailure("'\(word)' is not a status an error file replaces") }
                codes.append(code)
            }
            p.withOptions { $0.errorDirectives.append(.section(ErrorFilesReference(section: name, codes: codes, line: c.line.number))) }
            p.errorFilesReferences.append((name, c.line.number, p.file))
        },
    ]

    private static func unhandledStatus(_ code: Int) -> ParseFailure {
        ParseFailure("status \(code) has no error page (\(errorFileCodes.sorted().map(String.init).joined(separator: ", ")))")
    }

    private static func errorLocation(_ p: SectionParser, _ c: KeywordCall, code: Int) throws(ParseFailure) {
        guard c.args.count == 2, let status = Int(c.args[0]) else { throw ParseFailure("expects '\(c.words[0]) CODE URL'") }
        guard errorFileCodes.contains(status) else { throw unhandledStatus(status) }
        let url = c.args[1]
        guard !url.isEmpty, !url.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }) else { throw ParseFailure("'\(url)' is not a URL (no spaces or control characters)") }
        p.withOptions { $0.errorDirectives.append(.status(status, .location(code: code, url: url, line: c.line.number))) }
    }

    private static func errorFile(_ c: KeywordCall) throws(ParseFailure) -> (Int, String) {
        guard c.args.count == 2, let code = Int(c.args[0]) else { throw ParseFailure("expects 'errorfile CODE FILE'") }
        guard errorFileCodes.contains(code) else { throw unhandledStatus(code) }
        let path = c.args[1]
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ParseFailure("cannot read error file '\(path)'")
        }
        return (code, path)
    }
}

extension SectionParser {
    /// `http-errors NAME`: returns the name, or nil after reporting.
    func startHTTPErrors(_ line: ConfigLine) -> String? {
        guard line.words.count == 2 else { fail(line, "expects 'http-errors NAME'"); return nil }
        do {
            try gate(KeywordRegistry.errorPageStatus, "section 'http-errors'")
        } catch {
            fail(line, error.message)
        }
        config.httpErrors[line.words[1]] = config.httpErrors[line.words[1]] ?? [:]
        return line.words[1]
    }
}
