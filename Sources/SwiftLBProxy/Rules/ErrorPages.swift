import FoundationEssentials
import Glibc
import NIOCore
import SwiftLBConfig

/// A proxy's custom error pages: `errorfile CODE FILE`, and `errorfiles NAME [CODE…]` naming an
/// `http-errors NAME` section of `errorfile` lines. As in HAProxy, a file IS the whole response —
/// status line, headers, empty line, body — sent as it is (the status line of the file, not
/// the code of the `errorfile` line), its header names lower-cased and its `Connection` line
/// replaced by the connection's own. Files are read and checked once, when the configuration
/// is loaded: one that does not parse as a response is refused with the file and the line.
///
/// HAProxy's checks (`http_str_to_htx`): a head that parses (bare-LF lines are accepted, as
/// HAProxy's parser does), HTTP/1.x, no 1xx status except 101, no chunked body, a
/// Content-Length equal to the body's size, no body after `Content-Length: 0` or a 204/304.
/// An empty file is allowed and means "answer nothing and close".
struct ErrorPages: Sendable {
    /// Status of the `errorfile` line → the response.
    private let pages: [Int: Page]
    /// `http-error` answers that are built per request (`RuleReply`): status → reply.
    private let replies: [Int: RuleReply]

    /// A loaded page: the raw response, checked (a `LocalResponse` is rebuilt from it per use,
    /// as after-response rules edit their copy).
    struct Page: Sendable {
        let path: String
        let raw: ByteBuffer
    }

    static let none = ErrorPages(pages: [:])

    var isEmpty: Bool { pages.isEmpty && replies.isEmpty }

    private init(pages: [Int: Page], replies: [Int: RuleReply] = [:]) {
        self.pages = pages
        self.replies = replies
    }

    /// The pages of one proxy: its error lines applied in the order written (`defaults` first),
    /// so a status gets the answer of the last line that names it, whatever its kind, as
    /// HAProxy's `proxy_check_errors` does. `cache` shares one load of a file between proxies.
    init(options: ProxyOptions, httpErrors: [String: [Int: String]], configFile: String, cache: inout [String: Page]) throws(ConfigErrors) {
        var pages: [Int: Page] = [:]
        var replies: [Int: RuleReply] = [:]
        var errors: [ConfigError] = []
        func load(_ path: String, as status: Int, cache: inout [String: Page]) {
            replies[status] = nil
            do { pages[status] = try Self.load(path, cache: &cache) } catch { errors.append(error) }
        }
        for directive in options.errorDirectives {
            switch directive {
            case .section(let reference):
                guard let section = httpErrors[reference.section] else {
                    errors.append(ConfigError(file: configFile, line: reference.line, keyword: "errorfiles",
                                              message: "no http-errors section named '\(reference.section)'"))
                    continue
                }
                for (code, path) in section where reference.codes.isEmpty || reference.codes.contains(code) {
                    load(path, as: code, cache: &cache)
                }
            case .status(let status, .file(let path, _)):
                load(path, as: status, cache: &cache)
            case .status(let status, .location(let code, let url, _)):
                // HAProxy's `errorloc` message, as its H1 output writes it.
                let head = "HTTP/1.1 \(code) \(code == 303 ? "See Other" : "Found")\r\ncache-control: no-cache\r\ncontent-length: 0\r\nlocation: \(url)\r\n\r\n"
                replies[status] = nil
                pages[status] = Page(path: "errorloc \(status)", raw: ByteBuffer(string: head))
            case .status(let status, .reply(let r, let line)):
                switch r.body {
                case .defaultErrorFiles:
                    // HAProxy keeps no answer of this proxy for the status: the next proxy's
                    // page (the frontend's), else the built-in one.
                    replies[status] = nil
                    pages[status] = nil
                case .errorfile(let path):
                    // A page as `errorfile`'s (an empty one is silent, even for the H1 layer).
                    load(path, as: status, cache: &cache)
                default:
                    pages[status] = nil
                    do {
                        replies[status] = try RuleReply.compile(r, isDeny: false, httpErrors: httpErrors, cache: &cache)
                    } catch {
                        errors.append(ConfigError(file: configFile, line: line, keyword: "http-error", message: error.message))
                    }
                }
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        self.pages = pages
        self.replies = replies
    }

    /// The section's page for `status` (`http-request return … errorfiles NAME`).
    static func section(_ name: String, httpErrors: [String: [Int: String]], cache: inout [String: Page]) throws(ConfigErrors) -> ErrorPages {
        var pages: [Int: Page] = [:]
        for (code, path) in httpErrors[name] ?? [:] {
            do { pages[code] = try load(path, cache: &cache) } catch { throw ConfigErrors([error]) }
        }
        return ErrorPages(pages: pages)
    }

    /// The page for `status` as a response the after-response rules can edit, or nil when this
    /// proxy has none (then HAProxy's built-in page applies). `input`: the request an
    /// `http-error` reply's formats read.
    func page(for status: Int, input: SampleInput) -> LocalResponse? {
        if let reply = replies[status] { return reply.response(input, pages: ErrorPageChain()) }
        guard let page = pages[status] else { return nil }
        return Self.response(page.raw)
    }

    /// What HAProxy's H1 mux makes of this proxy's pages for a request it could not read (a head
    /// that does not parse, or that did not come in time): it sends its own built-in message
    /// whatever `errorfile`, `errorloc` or `http-error` say, except that an empty error file
    /// still means "answer nothing and close" (`h1_send_error`). True for that empty page.
    func isSilent(for status: Int) -> Bool {
        replies[status] == nil && pages[status]?.raw.readableBytes == 0
    }

    /// The bytes of the page for `status`, written for a connection that closes after it (how
    /// SwiftLB ends every error it answers), or nil when this proxy has no page for it.
    func response(for status: Int, input: SampleInput, clientMinor: Int = 1, headRequest: Bool = false) -> ByteBuffer? {
        page(for: status, input: input)?.bytes(close: true, clientMinor: clientMinor, headRequest: headRequest)
    }

    /// This proxy's page for `status`, else `fallback`'s (HAProxy looks in the backend first,
    /// then the frontend), else HAProxy's built-in page.
    func pageOrDefault(for status: Int, input: SampleInput, fallback: ErrorPages? = nil) -> LocalResponse {
        page(for: status, input: input) ?? fallback?.page(for: status, input: input) ?? .haproxyPage(status)
    }

    static func response(_ raw: ByteBuffer) -> LocalResponse {
        if raw.readableBytes == 0 {
            var empty = LocalResponse.haproxyPage(500)
            empty.silent = true
            return empty
        }
        var bytes = raw
        guard let response = LocalResponse.parse(&bytes) else { preconditionFailure("an error page checked at load no longer parses") }
        return response
    }

    // MARK: loading

    /// Reads and checks one file (HAProxy reads at most tune.bufsize, 16 KiB by default; a
    /// larger file is refused here rather than cut).
    static func load(_ path: String, cache: inout [String: Page]) throws(ConfigError) -> Page {
        if let page = cache[path] { return page }
        guard let data = readFile(path) else {
            throw ConfigError(file: path, line: 0, keyword: "errorfile", message: "cannot read error file '\(path)'")
        }
        guard data.count <= 65536 else {
            throw ConfigError(file: path, line: 0, keyword: "errorfile", message: "error file '\(path)' is larger than 64 KiB")
        }
        let page = Page(path: path, raw: try check(Array(data), path: path))
        cache[path] = page
        return page
    }

    /// The response in `bytes`, checked as HAProxy checks an error file; the head's bare-LF line
    /// ends become CRLF. Errors name the file and the line in it.
    static func check(_ bytes: [UInt8], path: String) throws(ConfigError) -> ByteBuffer {
        func fail(_ line: Int, _ message: String) -> ConfigError {
            ConfigError(file: path, line: line, keyword: "errorfile", message: message)
        }
        if bytes.isEmpty { return ByteBuffer() }
        // Split head / body at the first empty line (CRLF CRLF or LF LF, or a mix).
        var lines: [[UInt8]] = []
        var p = 0
        var bodyStart: Int?
        while p < bytes.count {
            guard let lf = bytes[p...].firstIndex(of: 0x0A) else { break }
            var line = Array(bytes[p..<lf])
            if line.last == 0x0D { line.removeLast() }
            p = lf + 1
            if line.isEmpty {
                bodyStart = p
                break
            }
            lines.append(line)
        }
        guard let bodyStart, !lines.isEmpty else { throw fail(max(1, lines.count), "the response head does not end with an empty line") }
        var head = ByteBuffer()
        for line in lines {
            head.writeBytes(line)
            head.writeStaticString("\r\n")
        }
        head.writeStaticString("\r\n")
        var parser = HeadParser(kind: .response, limits: .init(maxHead: 65536, maxStored: nil, maxFields: 128))
        var copy = head
        guard case .head(let parsed) = parser.parse(&copy) else {
            // Find the first line that makes the head fail: the start line, or a header line.
            for n in 1...lines.count {
                var prefix = ByteBuffer()
                for line in lines[0..<n] { prefix.writeBytes(line); prefix.writeStaticString("\r\n") }
                prefix.writeStaticString("\r\n")
                var parser = HeadParser(kind: .response, limits: .init(maxHead: 65536, maxStored: nil, maxFields: 128))
                if case .failure(let failure) = parser.parse(&prefix) {
                    throw fail(n, n == 1 ? "invalid status line '\(String(decoding: lines[0], as: UTF8.self))' (\(failure))"
                                        : "invalid header line '\(String(decoding: lines[n - 1], as: UTF8.self))' (\(failure))")
                }
            }
            throw fail(1, "the response head does not parse")
        }
        let body = bytes.count - bodyStart
        let status = parsed.status
        if status < 200 && status != 101 {
            throw fail(1, "invalid http status code for an error message (\(status))")
        }
        if let i = parsed.firstIndex(of: "transfer-encoding"), parsed.value(i, hasToken: "chunked") {
            throw fail(i + 2, "chunk-encoded payload not supported")
        }
        let lengths = parsed.indices(of: "content-length")
        if status == 204 || status == 304 {
            if body > 0 { throw fail(lines.count + 1, "message payload not expected (status \(status) has no body)") }
        } else if let i = lengths.first {
            guard lengths.allSatisfy({ parsed.decimalValue($0) == parsed.decimalValue(i) }), let n = parsed.decimalValue(i) else {
                throw fail(i + 2, "invalid content-length '\(parsed.value(i))'")
            }
            if n != body {
                throw fail(i + 2, "payload size does not match the announced content-length (\(body) != \(n))")
            }
        }
        head.writeBytes(bytes[bodyStart...])
        return head
    }
}

/// A file's bytes, or nil when it cannot be read. Read with read(2) to the end, so that
/// character devices read too (`errorfile 503 /dev/null`, `file /dev/null`), which
/// `FileManager.contents(atPath:)` refuses.
func readFile(_ path: String) -> Data? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var data = Data()
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n == 0 { return data }
        if n < 0 { if errno == EINTR { continue }; return nil }
        data.append(contentsOf: chunk[0..<n])
    }
}
