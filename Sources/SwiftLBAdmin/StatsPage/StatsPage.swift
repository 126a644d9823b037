import FoundationEssentials
import Glibc
import Logging

/// A stats listener's settings: HAProxy's `stats uri|refresh|auth|realm|hide-version|
/// show-legends` of a frontend/listen section, plus where Prometheus text is served.
public struct StatsPageSettings: Sendable, Equatable {
    /// `stats uri`, matched as a prefix like HAProxy (default `/haproxy?stats`).
    public var uri: String
    /// `stats refresh` in seconds.
    public var refreshSeconds: Int?
    /// `stats realm` (HAProxy's default when auth is set: "HAProxy Statistics").
    public var realm: String = "HAProxy Statistics"
    /// `stats auth user:password`, repeatable; empty = no authentication.
    public var credentials: [String] = []
    public var hideVersion = false
    /// `stats show-legends`: addresses, cookies and algorithms in `;csv` and `;json`.
    public var showLegends = false
    /// The path that serves Prometheus text (`/metrics`), nil for none. HAProxy spells it
    /// `http-request use-service prometheus-exporter if { path /metrics }`.
    public var metricsPath: String?
    /// `stats scope NAME|.`: the proxies the page, `;csv` and `;json` show (empty: all). `.`
    /// is resolved to the serving proxy's name before it gets here.
    public var scopes: [String] = []
    /// `stats show-node [NAME]`: the node name shown (an empty name: the process's `node`,
    /// the host name by default); nil keeps the page's default.
    public var showNode: String?
    /// `stats show-desc [TEXT]`: the description shown (empty: the global `description`).
    public var showDescription: String?

    public init(uri: String = "/haproxy?stats") { self.uri = uri }
}

/// An HTTP request as the stats page needs it; the lead's HTTP layer (or `StatsHTTPServer`)
/// builds it. `adminAllowed` is the outcome of `stats admin if <condition>` for this request.
public struct StatsHTTPRequest: Sendable {
    public var method: String
    /// Path and query, as received (`/;csv`, `/metrics?scope=server`).
    public var target: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var adminAllowed: Bool

    public init(method: String, target: String, headers: [(String, String)] = [], body: [UInt8] = [], adminAllowed: Bool = false) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.adminAllowed = adminAllowed
    }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// The answer: status, headers, body (the caller leaves the body out for HEAD).
public struct StatsHTTPResponse: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [(String, String)]
    public var body: String
}

/// The stats page, `;csv`, `;json`, Prometheus text and the admin form's POST, as one pure
/// responder over a snapshot and the runtime API's actions: no socket, so the lead can serve
/// it from the proxy's own HTTP path and the tests call it directly.
public enum StatsPage {
    /// Whether a request target belongs to the stats page (the stats URI is a prefix, as in
    /// HAProxy) or to the metrics path.
    public static func matches(_ target: String, settings: StatsPageSettings) -> Bool {
        target.hasPrefix(settings.uri) || settings.metricsPath.map { path(of: target) == $0 } == true
    }

    public static func respond(to request: StatsHTTPRequest, settings: StatsPageSettings, api: RuntimeAPI) async -> StatsHTTPResponse {
        if let denied = authenticate(request, settings) { return denied }
        if let metrics = settings.metricsPath, path(of: request.target) == metrics {
            guard request.method == "GET" || request.method == "HEAD" else { return methodNotAllowed() }
            let options: PrometheusRenderer.Options
            do {
                options = try PrometheusRenderer.Options(query: query(of: request.target))
            } catch {
                return text(400, "Bad Request", "\(error)\n")
            }
            let snapshot = await api.actions.snapshot()
            return StatsHTTPResponse(status: 200, reason: "OK", headers: [("Content-Type", PrometheusRenderer.contentType), ("Cache-Control", "no-cache")],
                                     body: PrometheusRenderer.render(snapshot, options: options))
        }
        guard request.target.hasPrefix(settings.uri) else { return text(404, "Not Found", "Not Found\n") }
        let flags = modifiers(String(request.target.dropFirst(settings.uri.count)))
        switch request.method {
        case "GET", "HEAD":
            break
        case "POST":
            return await adminAction(request, settings, api)
        default:
            return methodNotAllowed()
        }
        var snapshot = await api.actions.snapshot()
        if !settings.scopes.isEmpty { snapshot.proxies = snapshot.proxies.filter { settings.scopes.contains($0.name) } }
        if flags.keys.contains("csv") {
            var filter = CSVRenderer.Filter()
            filter.onlyUp = flags.keys.contains("up")
            filter.hideMaint = flags.keys.contains("no-maint")
            return StatsHTTPResponse(status: 200, reason: "OK", headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-cache")],
                                     body: CSVRenderer.render(snapshot, filter: filter, legends: settings.showLegends))
        }
        if flags.keys.contains("json") {
            return StatsHTTPResponse(status: 200, reason: "OK", headers: [("Content-Type", "application/json"), ("Cache-Control", "no-cache")],
                                     body: JSONRenderer.render(snapshot, hideVersion: settings.hideVersion, legends: settings.showLegends))
        }
        var options = HTMLRenderer.Options()
        options.uri = settings.uri
        options.refresh = flags.keys.contains("norefresh") ? nil : settings.refreshSeconds
        options.hideVersion = settings.hideVersion
        options.adminAllowed = request.adminAllowed
        options.metricsURI = settings.metricsPath
        options.notice = flags["st"].flatMap { notices[$0] }
        options.node = settings.showNode.map { $0.isEmpty ? snapshot.process.node : $0 }
        options.description = settings.showDescription.map { $0.isEmpty ? snapshot.process.description : $0 }
        return StatsHTTPResponse(status: 200, reason: "OK", headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")],
                                 body: HTMLRenderer.render(snapshot, options: options))
    }

    /// HAProxy's `;st=` codes after an admin action.
    static let notices: [String: String] = [
        "DONE": "Action processed successfully.",
        "NONE": "Nothing has changed.",
        "PART": "Action not processed for every server (see the log).",
        "ERRP": "Action not processed because of invalid parameters.",
        "DENY": "Action denied.",
    ]

    /// `stats auth`: HTTP Basic against every `user:password`; anything else is a 401 with the
    /// realm and nothing about the page.
    static func authenticate(_ request: StatsHTTPRequest, _ settings: StatsPageSettings) -> StatsHTTPResponse? {
        guard !settings.credentials.isEmpty else { return nil }
        if let value = request.header("Authorization"), value.count > 6, value.prefix(6).lowercased() == "basic ",
           let decoded = Data(base64Encoded: String(value.dropFirst(6).trimmingBlanks())) {
            let given = Array(decoded)
            // Every credential is compared whole, so the time taken says nothing of which matched.
            var match = false
            for c in settings.credentials where constantTimeEqual(Array(c.utf8), given) { match = true }
            if match { return nil }
        }
        let realm = settings.realm.replacing("\"", with: "'")
        return StatsHTTPResponse(status: 401, reason: "Unauthorized",
                                 headers: [("Content-Type", "text/html"), ("Cache-Control", "no-cache"), ("WWW-Authenticate", "Basic realm=\"\(realm)\"")],
                                 body: "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n")
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }

    /// The admin form: `b=BACKEND&s=SERVER[&s=…]&action=ready|drain|maint|dhlth|ehlth`, then a
    /// 303 back to the page with HAProxy's `;st=` outcome. Refused unless `stats admin` allows
    /// it, and when the browser says the form came from another site.
    static func adminAction(_ request: StatsHTTPRequest, _ settings: StatsPageSettings, _ api: RuntimeAPI) async -> StatsHTTPResponse {
        func back(_ code: String) -> StatsHTTPResponse {
            StatsHTTPResponse(status: 303, reason: "See Other", headers: [("Location", settings.uri + ";st=" + code), ("Cache-Control", "no-cache"), ("Content-Type", "text/plain")], body: "")
        }
        guard request.adminAllowed else { return back("DENY") }
        if let origin = request.header("Origin"), let host = request.header("Host"), origin != "null" {
            let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
            guard originHost == host else { return text(403, "Forbidden", "Cross-site form refused.\n") }
        }
        let form = formFields(String(decoding: request.body, as: UTF8.self))
        guard let backend = form.first(where: { $0.0 == "b" })?.1, let action = form.first(where: { $0.0 == "action" })?.1 else { return back("ERRP") }
        let servers = form.filter { $0.0 == "s" }.map(\.1)
        guard !servers.isEmpty else { return back("NONE") }
        var failures = 0
        for server in servers {
            let target = "\(backend)/\(server)"
            let answer: String
            switch action {
            case "ready": answer = await api.setState(target, .ready, origin: "stats page")
            case "drain": answer = await api.setState(target, .drain, origin: "stats page")
            case "maint": answer = await api.setState(target, .maint, origin: "stats page")
            case "ehlth": answer = await api.setHealth(target, enabled: true, origin: "stats page")
            case "dhlth": answer = await api.setHealth(target, enabled: false, origin: "stats page")
            default: return back("ERRP")
            }
            if !answer.isEmpty {
                failures += 1
                api.logger.warning("stats page: '\(action)' on \(target) refused: \(answer.trimmingBlanks())")
            }
        }
        return back(failures == 0 ? "DONE" : failures == servers.count ? "ERRP" : "PART")
    }

    // MARK: parsing

    static func path(of target: String) -> String {
        target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
    }

    static func query(of target: String) -> String {
        target.firstIndex(of: "?").map { String(target[target.index(after: $0)...]) } ?? ""
    }

    /// `;csv;norefresh;st=DONE` after the stats URI.
    static func modifiers(_ rest: String) -> [String: String] {
        var out: [String: String] = [:]
        for part in rest.split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            out[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
        }
        return out
    }

    /// `application/x-www-form-urlencoded` pairs, percent-decoded, `+` as space.
    static func formFields(_ body: String) -> [(String, String)] {
        body.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                percentDecoded(s.replacing("+", with: " ")) ?? String(s)
            }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    static func text(_ status: Int, _ reason: String, _ body: String) -> StatsHTTPResponse {
        StatsHTTPResponse(status: status, reason: reason, headers: [("Content-Type", "text/plain"), ("Cache-Control", "no-cache")], body: body)
    }

    static func methodNotAllowed() -> StatsHTTPResponse {
        var r = text(405, "Method Not Allowed", "Method Not Allowed\n")
        r.headers.append(("Allow", "GET, HEAD, POST"))
        return r
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs, CR and LF.
    func trimmingBlanks() -> Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return Substring(self[first...last])
    }
}

/// `%XX` sequences decoded (RFC 3986); nil when one is malformed or the bytes are not UTF-8,
/// as Foundation's `removingPercentEncoding`.
func percentDecoded(_ text: some StringProtocol) -> String? {
    var bytes: [UInt8] = []
    var utf8 = text.utf8.makeIterator()
    func hex(_ c: UInt8?) -> UInt8? {
        switch c {
        case .some(let c) where c >= 48 && c <= 57: c - 48
        case .some(let c) where c >= 65 && c <= 70: c - 55
        case .some(let c) where c >= 97 && c <= 102: c - 87
        default: nil
        }
    }
    while let c = utf8.next() {
        if c == UInt8(ascii: "%") {
            guard let hi = hex(utf8.next()), let lo = hex(utf8.next()) else { return nil }
            bytes.append(hi << 4 | lo)
        } else {
            bytes.append(c)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}
