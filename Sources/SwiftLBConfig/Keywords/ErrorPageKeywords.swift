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
            p.withOptions { $0.errorFiles[code] = file }
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
            p.withOptions { $0.errorFilesSections.append(ErrorFilesReference(section: name, codes: codes, line: c.line.number)) }
            p.errorFilesReferences.append((name, c.line.number, p.file))
        },
    ]

    private static func errorFile(_ c: KeywordCall) throws(ParseFailure) -> (Int, String) {
        guard c.args.count == 2, let code = Int(c.args[0]) else { throw ParseFailure("expects 'errorfile CODE FILE'") }
        guard errorFileCodes.contains(code) else {
            throw ParseFailure("status \(code) has no error page (\(errorFileCodes.sorted().map(String.init).joined(separator: ", ")))")
        }
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
