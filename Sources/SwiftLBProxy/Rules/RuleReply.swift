import FoundationEssentials
import Glibc
import NIOCore
import SwiftLBConfig

/// What a `deny`, `return`, `redirect` or `auth` rule answers, prepared when the rules are
/// compiled (files read, formats parsed) and turned into a `LocalResponse` per request.
enum RuleReply: Sendable {
    /// The proxy's error page for the status (an `errorfile`), else HAProxy's built-in page:
    /// `deny` without a payload.
    case errorPage(Int)
    /// A whole response from a file (`errorfile FILE` in the rule), or the page of an
    /// `http-errors` section (`errorfiles NAME`, falling back to the error page).
    case errorFile(ErrorPages.Page)
    case section(ErrorPages, status: Int)
    /// A response built from its parts, as `http_reply_to_htx` builds it: `hdr` lines (those
    /// that render empty are left out), `content-length`, then `content-type` when there is a
    /// body.
    case built(status: Int, contentType: String?, body: Body, headers: [(String, LogFormat)])
    /// 401 with `WWW-Authenticate: Basic realm="…"` on the 401 error page.
    case auth(realm: String)

    enum Body: Sendable {
        case none
        case constant(String)
        case format(LogFormat)
    }

    /// Compiles the model's `HTTPReturn`. `deny` without payload is the error page; `return`
    /// without one is an empty body.
    static func compile(_ r: HTTPReturn, isDeny: Bool, httpErrors: [String: [Int: String]],
                        cache: inout [String: ErrorPages.Page]) throws(SampleExpression.Failure) -> RuleReply {
        func read(_ path: String) throws(SampleExpression.Failure) -> String {
            guard let data = readFile(path) else { throw SampleExpression.Failure(message: "cannot read file '\(path)'") }
            return String(decoding: data, as: UTF8.self)
        }
        var headers: [(String, LogFormat)] = []
        for h in r.headers { headers.append((h.name, try LogFormat(parsing: h.value))) }
        switch r.body {
        case .none:
            if isDeny && r.contentType == nil && r.headers.isEmpty { return .errorPage(r.status) }
            return .built(status: r.status, contentType: r.contentType, body: .none, headers: headers)
        case .string(let s): return .built(status: r.status, contentType: r.contentType, body: .constant(s), headers: headers)
        case .logFormat(let f): return .built(status: r.status, contentType: r.contentType, body: .format(try LogFormat(parsing: f)), headers: headers)
        case .file(let path): return .built(status: r.status, contentType: r.contentType, body: .constant(try read(path)), headers: headers)
        case .logFormatFile(let path):
            return .built(status: r.status, contentType: r.contentType, body: .format(try LogFormat(parsing: try read(path))), headers: headers)
        case .errorfile(let path):
            do { return .errorFile(try ErrorPages.load(path, cache: &cache)) } catch { throw SampleExpression.Failure(message: error.description) }
        case .defaultErrorFiles:
            return .errorPage(r.status)
        case .errorfiles(let name):
            guard httpErrors[name] != nil else { throw SampleExpression.Failure(message: "no http-errors section named '\(name)'") }
            do { return .section(try ErrorPages.section(name, httpErrors: httpErrors, cache: &cache), status: r.status) } catch {
                throw SampleExpression.Failure(message: error.description)
            }
        }
    }

    /// The response for this request.
    func response(_ input: SampleInput, pages: ErrorPageChain) -> LocalResponse {
        switch self {
        case .errorPage(let status):
            return pages.page(for: status, input: input)
        case .errorFile(let page):
            return ErrorPages.response(page.raw)
        case .section(let section, let status):
            return section.page(for: status, input: input) ?? pages.page(for: status, input: input)
        case .built(let status, let contentType, let body, let headers):
            let text: String
            switch body {
            case .none: text = ""
            case .constant(let s): text = s
            case .format(let f): text = f.render(input)
            }
            var lines: [(String, String)] = []
            for (name, format) in headers {
                let value = format.render(input)
                if !value.isEmpty { lines.append((name, value)) }
            }
            // HAProxy's H1 mux leaves a 204's content-length out (it never has a body).
            if status != 204 { lines.append(("content-length", String(text.utf8.count))) }
            if !text.isEmpty, let contentType { lines.append(("content-type", contentType)) }
            return .make(status: status, headers: lines, body: text)
        case .auth(let realm):
            var page = pages.page(for: 401, input: input)
            page.head.removeAll("www-authenticate")
            page.head.add("www-authenticate", "Basic realm=\"\(realm)\"")
            return page
        }
    }
}

/// Where an error page comes from, in HAProxy's order (`http_error_message`): the backend's
/// pages, then the frontend's, then HAProxy's built-in page. Before a backend is chosen, the
/// frontend's alone.
struct ErrorPageChain: Sendable {
    var first: ErrorPages
    var second: ErrorPages?

    init(_ first: ErrorPages = .none, then second: ErrorPages? = nil) {
        self.first = first
        self.second = second
    }

    func page(for status: Int, input: SampleInput) -> LocalResponse { first.pageOrDefault(for: status, input: input, fallback: second) }
}
