import NIOCore
import SwiftLBConfig

/// Everything the rule engine holds for one frontend or backend, compiled once per
/// configuration (a reload compiles anew): its three HTTP rule lists, its error pages, and —
/// for a frontend — its monitor URI. Compiling is where SwiftLB refuses what it cannot run
/// (an unsupported fetch in `set-var`, an error file that is not a response), with file, line
/// and keyword, so `swiftlb check` catches it before traffic does.
///
/// The order a stream calls them in, as HAProxy does:
/// 1. request head parsed and valid → `frontend.monitor` (answers before any rule);
/// 2. `frontend.request` → redirect rules → `use_backend`; then `backend.request` (when the
///    backend is another proxy);
/// 3. the server's response head → `backend.response`, then `frontend.response`;
/// 4. every response sent, the server's and SwiftLB's own → `backend.afterResponse`, then
///    `frontend.afterResponse` (`answer(_:…)` does 4 and renders for SwiftLB's own).
struct ProxyRules: Sendable {
    let name: String
    let request: HTTPRuleSet
    let response: HTTPRuleSet
    let afterResponse: HTTPRuleSet
    let errorPages: ErrorPages
    let monitor: MonitorURI?

    /// Whether any rule or page exists (a stream can skip building inputs otherwise).
    var isEmpty: Bool { request.isEmpty && response.isEmpty && afterResponse.isEmpty && errorPages.isEmpty && monitor == nil }

    init(frontend: Frontend, configuration: Configuration, cache: inout [String: ErrorPages.Page]) throws(ConfigErrors) {
        try self.init(name: frontend.name, options: frontend.options, request: frontend.httpRequestRules, response: frontend.httpResponseRules,
                      after: frontend.httpAfterResponseRules, monitor: MonitorURI(frontend), configuration: configuration, cache: &cache)
    }

    init(backend: Backend, configuration: Configuration, cache: inout [String: ErrorPages.Page]) throws(ConfigErrors) {
        try self.init(name: backend.name, options: backend.options, request: backend.httpRequestRules, response: backend.httpResponseRules,
                      after: backend.httpAfterResponseRules, monitor: nil, configuration: configuration, cache: &cache)
    }

    private init(name: String, options: ProxyOptions, request: [HTTPRule], response: [HTTPRule], after: [HTTPRule], monitor: MonitorURI?,
                 configuration c: Configuration, cache: inout [String: ErrorPages.Page]) throws(ConfigErrors) {
        var errors: [ConfigError] = []
        func compile(_ rules: [HTTPRule], _ phase: HTTPRulePhase, cache: inout [String: ErrorPages.Page]) -> HTTPRuleSet? {
            do { return try HTTPRuleSet(rules, phase: phase, proxyName: name, file: c.file, httpErrors: c.httpErrors, cache: &cache) } catch {
                errors += error.errors
                return nil
            }
        }
        let requestSet = compile(request, .request, cache: &cache)
        let responseSet = compile(response, .response, cache: &cache)
        let afterSet = compile(after, .afterResponse, cache: &cache)
        var pages: ErrorPages?
        do { pages = try ErrorPages(options: options, httpErrors: c.httpErrors, configFile: c.file, cache: &cache) } catch { errors += error.errors }
        guard errors.isEmpty, let requestSet, let responseSet, let afterSet, let pages else { throw ConfigErrors(errors) }
        self.name = name
        self.request = requestSet
        self.response = responseSet
        self.afterResponse = afterSet
        self.errorPages = pages
        self.monitor = monitor
    }

    /// Every proxy of `configuration`, by name; all errors at once.
    static func compile(_ configuration: Configuration) throws(ConfigErrors) -> (frontends: [String: ProxyRules], backends: [String: ProxyRules]) {
        var cache: [String: ErrorPages.Page] = [:]
        var errors: [ConfigError] = []
        var frontends: [String: ProxyRules] = [:]
        var backends: [String: ProxyRules] = [:]
        for frontend in configuration.frontends {
            do { frontends[frontend.name] = try ProxyRules(frontend: frontend, configuration: configuration, cache: &cache) } catch { errors += error.errors }
        }
        for backend in configuration.backends.values.sorted(by: { $0.line < $1.line }) {
            do { backends[backend.name] = try ProxyRules(backend: backend, configuration: configuration, cache: &cache) } catch { errors += error.errors }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return (frontends, backends)
    }

    /// Error pages in HAProxy's order for a stream on this frontend and `backend` (nil before
    /// one is chosen, or when it is the frontend itself).
    func pages(backend: ProxyRules?) -> ErrorPageChain {
        guard let backend, backend.name != name else { return ErrorPageChain(errorPages) }
        return ErrorPageChain(backend.errorPages, then: errorPages)
    }

    /// SwiftLB's own answer on this frontend: the after-response rules of the backend (when
    /// there is one) and of the frontend, then the bytes to write. `close`: the connection
    /// ends after it (the stream's decision; `response.requiresClose` forces it).
    func answer(_ response: LocalResponse, backend: ProxyRules?, input: inout SampleInput,
                close: Bool, clientMinor: Int, headRequest: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        var response = response
        input.variables?.beginResponse()
        if let backend, backend.name != name { backend.afterResponse.evaluate(&response, &input) }
        afterResponse.evaluate(&response, &input)
        return response.bytes(close: close, clientMinor: clientMinor, headRequest: headRequest, allocator: allocator)
    }
}
