/// `fcgi-app NAME` sections. SwiftLB does not speak FastCGI, so a section is read, its keywords
/// checked by name (a typo is still an error with its line), and ignored with a warning; what
/// would use it, `use-fcgi-app` in a backend, is refused. A configuration shared with HAProxy
/// that declares an application no backend of SwiftLB's uses therefore still loads.
extension SectionParser {
    /// HAProxy 2.6's `fcgi-app` keywords.
    static let fastCGIKeywords: Set<String> = ["acl", "docroot", "index", "log-stderr", "no", "option", "pass-header", "path-info", "set-param"]

    func startFastCGIApp(_ line: ConfigLine) -> Bool {
        guard line.words.count == 2 else {
            fail(line, "'fcgi-app' expects a name")
            return false
        }
        remark(line.number, "fcgi-app", "fcgi-app '\(line.words[1])' is read and ignored: SwiftLB does not speak FastCGI ('use-fcgi-app' is refused)")
        return true
    }

    func checkFastCGIKeyword(_ line: ConfigLine) {
        let keyword = line.words[0]
        guard Self.fastCGIKeywords.contains(keyword) else {
            fail(line, "unknown keyword '\(keyword)' in an 'fcgi-app' section\(didYouMean(keyword, in: Array(Self.fastCGIKeywords)))")
            return
        }
        guard line.words.count >= 2 else { fail(line, "'\(keyword)' expects an argument"); return }
    }
}
