/// Custom error pages: `errorfile CODE FILE`, `errorfiles NAME`, `http-errors NAME` sections.
extension KeywordRegistry {
    static let errorPageKeywords: [Keyword] = [
        Keyword("errorfile", SectionKind.proxies, status: .pending("custom error files are not supported"), parse: nil),
    ]
}

extension SectionParser {
    /// `http-errors NAME`: returns the name, or nil after reporting.
    func startHTTPErrors(_ line: ConfigLine) -> String? {
        do {
            try gate(.pending(SectionRegistry.pending["http-errors"]!), "section 'http-errors'")
        } catch {
            fail(line, error.message)
            return nil
        }
        return line.words.count == 2 ? line.words[1] : nil
    }
}
