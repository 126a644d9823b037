import NIOCore
import SwiftLBConfig

/// What one client connection tracks in stick tables (`track-sc0|1|2`) and reads back
/// (`sc0_http_req_rate`, `src_http_req_rate`…). Made only for a frontend that declares or
/// tracks into a table; lives on the connection's event loop (not shared).
///
/// HAProxy's two levels: a `tcp-request connection|content track-scN` lasts for the whole
/// connection (its entry counts the connection, `conn_cur` until it closes, and every HTTP
/// request on it); an `http-request track-scN` lasts for one request (each request is a new
/// stream, which counts as a connection of the entry too; its `conn_cur` ends when the next
/// request starts or the connection closes). A counter already tracked is not tracked again
/// (HAProxy ignores the second).
final class StickSession {
    struct Tracked {
        let table: StickTable
        let key: [UInt8]
    }

    /// The runtime's tables by name.
    let tables: [String: StickTable]
    /// The frontend's own table (what `track-scN` without `table` and `src_*` use).
    let own: StickTable?
    private var connectionTracked: [Tracked?] = [nil, nil, nil]
    private var requestTracked: [Tracked?] = [nil, nil, nil]
    private var closed = false
    private var requestsBegun = 0
    /// An HTTP/2 stream's: its connection's session, whose connection-level entries count the
    /// stream's request and answer its `sc*` fetches where the stream tracks nothing of its own
    /// (HAProxy's `sess->stkctr` under `s->stkctr`). The stream never closes them.
    private let connection: StickSession?

    init(tables: [String: StickTable], own: StickTable?) {
        self.tables = tables
        self.own = own
        self.connection = nil
    }

    /// An HTTP/2 stream's session under its connection's.
    init(tables: [String: StickTable], own: StickTable?, streamOf connection: StickSession) {
        self.tables = tables
        self.own = own
        self.connection = connection
    }

    static func now() -> UInt64 { UInt64(NIODeadline.now().uptimeNanoseconds) }

    func table(_ name: String?) -> StickTable? { name.map { tables[$0] } ?? own }

    /// `track-scN`: `value`'s entry in the table counts this connection (`connectionLevel`) or
    /// this request.
    func track(_ counter: Int, value: SampleValue?, tableName: String?, connectionLevel: Bool) {
        guard connectionTracked[counter] == nil, requestTracked[counter] == nil, connection?.connectionTracked[counter] == nil,
              let table = table(tableName), let key = StickRules.key(value, table: table) else { return }
        let tracked = Tracked(table: table, key: key)
        if connectionLevel && connection == nil {
            connectionTracked[counter] = tracked
            table.track(key, connection: true, request: false, now: Self.now())
        } else {
            // HAProxy starts an entry's connection counters whenever a stream tracks it.
            requestTracked[counter] = tracked
            table.track(key, connection: true, request: true, now: Self.now())
        }
    }

    /// A new HTTP request on the connection: the request-level trackers are forgotten, and the
    /// connection-level ones count it.
    func beginRequest() {
        requestsBegun += 1
        endRequest()
        (connection ?? self).countRequest()
    }

    /// The connection-level entries count one more request.
    private func countRequest() {
        let now = Self.now()
        for tracked in connectionTracked.compactMap({ $0 }) { tracked.table.track(tracked.key, connection: false, request: true, now: now) }
    }

    /// The connection closed: `conn_cur` of its entries goes down. An HTTP connection that
    /// closes before its first request counts that request anyway (`http`), as HAProxy's
    /// stream waiting for it does.
    func close(http: Bool = false) {
        guard !closed else { return }
        // A stream opens with its request (its connection counts the connection).
        if http && requestsBegun == 0 && connection == nil { beginRequest() }
        closed = true
        endRequest()
        for tracked in connectionTracked.compactMap({ $0 }) { tracked.table.untrackConnection(tracked.key) }
    }

    /// The request-level trackers end (when the next request starts, or the connection ends).
    private func endRequest() {
        for tracked in requestTracked.compactMap({ $0 }) { tracked.table.untrackConnection(tracked.key) }
        requestTracked = [nil, nil, nil]
    }

    /// The entry `track-scN` tracks now (nil: none).
    func tracked(_ counter: Int) -> Tracked? { requestTracked[counter] ?? connectionTracked[counter] ?? connection?.connectionTracked[counter] }

    /// `sc-inc-gpc0|1(N)`: one more on the tracked entry's counter and its rate (nothing when
    /// counter N tracks nothing or the table keeps neither), as HAProxy's action.
    func incrementGPC(_ index: Int, counter: Int) {
        guard let t = tracked(counter), t.table.stored.keepsGPC(index) else { return }
        let now = Self.now()
        t.table.update(t.key, now: now) { entry, stored in entry.incrementGPC(index, stored: stored, now: now) }
    }

    /// `sc-set-gpt0(N) VALUE`: the tracked entry's tag becomes VALUE (when the table keeps it).
    func setGPT0(_ value: Int, counter: Int) {
        guard let t = tracked(counter), t.table.stored.gpt0 else { return }
        t.table.update(t.key, now: Self.now()) { entry, _ in
            entry.gpt0 = value
            return value
        }
    }

    /// A stick-counter fetch's value; nil when the entry is not tracked or not there (the ACL
    /// then does not match, as HAProxy's fetch fails).
    func value(_ fetch: StickCounterFetch, source: String?) -> Int? {
        let now = Self.now()
        let table: StickTable, key: [UInt8]
        switch fetch.entry {
        case .tracked(let n, let name):
            guard let tracked = tracked(n) else { return nil }
            if let name {
                guard let other = tables[name] else { return nil }
                table = other
            } else {
                table = tracked.table
            }
            key = tracked.key
        case .source(let name):
            guard let t = self.table(name), let k = StickRules.key(source.map { .string($0) }, table: t) else { return nil }
            table = t
            key = k
        case .table(let name):
            guard let t = self.table(name) else { return nil }
            // The entries held (an expired one not purged yet counts until it is): no copy of
            // the table on the data path.
            let used = t.count
            return fetch.counter == .tableCount ? used : max(0, t.size - used)
        }
        switch fetch.counter {
        case .incGPC0, .incGPC1:
            let index = fetch.counter == .incGPC0 ? 0 : 1
            guard table.stored.keepsGPC(index) else { return 0 }
            return table.update(key, now: now) { entry, stored in entry.incrementGPC(index, stored: stored, now: now) }
        case .clearGPC0, .clearGPC1:
            let index = fetch.counter == .clearGPC0 ? 0 : 1
            guard table.stored.keepsGPC(index) else { return 0 }
            return table.update(key, now: now) { entry, _ in entry.clearGPC(index) }
        default: break
        }
        // A key not in the table reads as 0 (HAProxy's fetches return 0 for a missing entry).
        guard let entry = table.counters(key, now: now) else { return 0 }
        switch fetch.counter {
        case .connCur: return entry.connCur
        case .connCount: return entry.connCount
        case .httpReqCount: return entry.httpReqCount
        case .connRate: return table.stored.connRate.map { entry.connRate.rate(now: now, period: $0) } ?? 0
        case .httpReqRate: return table.stored.httpReqRate.map { entry.httpReqRate.rate(now: now, period: $0) } ?? 0
        case .gpt0: return entry.gpt0
        case .gpc0: return entry.gpc0
        case .gpc1: return entry.gpc1
        case .gpc0Rate: return table.stored.gpc0Rate.map { entry.gpc0Rate.rate(now: now, period: $0) } ?? 0
        case .gpc1Rate: return table.stored.gpc1Rate.map { entry.gpc1Rate.rate(now: now, period: $0) } ?? 0
        case .tableCount, .tableAvailable, .incGPC0, .incGPC1, .clearGPC0, .clearGPC1: return nil  // read above
        }
    }
}

/// A proxy's compiled `track-sc` actions: the sample expression and the table each counts into.
/// Tables are checked while the runtime is built, so a missing one is an error with its line.
enum StickTracking {
    /// Checks every `track-sc` and `stick` table reference of `configuration` resolves;
    /// errors name the file, line and keyword.
    static func validate(_ configuration: Configuration, tables: [String: StickTable]) -> [ConfigError] {
        var errors: [ConfigError] = []
        for frontend in configuration.frontends {
            let own = tables[frontend.name]
            func check(_ t: SwiftLBConfig.StickTracking, line: Int, keyword: String) {
                func fail(_ m: String) { errors.append(ConfigError(file: configuration.file, line: line, keyword: keyword, message: m)) }
                if let name = t.table {
                    if tables[name] == nil { fail("no stick-table in a proxy named '\(name)'") }
                } else if own == nil {
                    fail("'\(frontend.name)' has no stick-table (declare one, or name another with 'table NAME')")
                }
                do { _ = try SampleExpression(parsing: t.sample) } catch { fail(error.message) }
            }
            for rule in frontend.tcpRequestRules { if let t = rule.tracking { check(t, line: rule.line, keyword: "tcp-request \(rule.layer.rawValue) track-sc\(t.counter)") } }
            for rule in frontend.tcpRequestRules {
                if let text = rule.expression {
                    do { _ = try SampleExpression(parsing: text) } catch {
                        errors.append(ConfigError(file: configuration.file, line: rule.line, keyword: "tcp-request \(rule.layer.rawValue) \(rule.action.rawValue)", message: error.message))
                    }
                }
                guard let a = rule.counterAction else { continue }
                do { _ = try StickCounterRule(a) } catch {
                    errors.append(ConfigError(file: configuration.file, line: rule.line, keyword: "tcp-request \(rule.layer.rawValue) \(a.name)", message: error.message))
                }
            }
            for rule in frontend.httpRequestRules { if case .track(let t) = rule.action { check(t, line: rule.line, keyword: "http-request track-sc\(t.counter)") } }
        }
        for backend in configuration.backends.values {
            for rule in backend.httpRequestRules {
                guard case .track(let t) = rule.action else { continue }
                if let name = t.table, tables[name] == nil {
                    errors.append(ConfigError(file: configuration.file, line: rule.line, keyword: "http-request track-sc\(t.counter)",
                                              message: "no stick-table in a proxy named '\(name)'"))
                } else if t.table == nil, tables[backend.name] == nil {
                    errors.append(ConfigError(file: configuration.file, line: rule.line, keyword: "http-request track-sc\(t.counter)",
                                              message: "'\(backend.name)' has no stick-table (declare one, or name another with 'table NAME')"))
                }
            }
        }
        return errors
    }

    /// The fetches of conditions that need what only some proxies have: payload fetches
    /// (`req.payload`, `req.ssl_sni`…) read a tcp-mode session's first bytes, so an http-mode
    /// frontend's rules refuse them rather than read nothing; `sc_*`/`src_*` naming a table
    /// need that table. Errors name the file, line and keyword.
    static func validateFetches(_ configuration: Configuration, tables: [String: StickTable]) -> [ConfigError] {
        var errors: [ConfigError] = []
        for frontend in configuration.frontends {
            var conditions: [(Condition, Int, String)] = frontend.switchingRules.map { ($0.condition, $0.line, "use_backend") }
            conditions += frontend.tcpRequestRules.compactMap { r in r.condition.map { ($0, r.line, "tcp-request \(r.layer.rawValue)") } }
            conditions += frontend.httpRequestRules.compactMap { r in r.condition.map { ($0, r.line, "http-request") } }
            for (condition, line, keyword) in conditions {
                for criterion in condition.alternatives.joined().flatMap(\.acl.criteria) {
                    func fail(_ m: String) { errors.append(ConfigError(file: configuration.file, line: line, keyword: keyword, message: m)) }
                    // `req.len` has an HTTP meaning too (the request's size: `REQ_CONTENT`).
                    if let name = criterion.fetch.payloadFetchName, criterion.fetch != .requestLength,
                       frontend.options.mode == .http || keyword == "http-request" {
                        fail("'\(name)' reads a tcp-mode session's first bytes (tcp-request content rules and use_backend in 'mode tcp'); an HTTP request is read with req.hdr(), path, method…")
                    }
                    if case .stickCounter(let f) = criterion.fetch {
                        let named: String? = switch f.entry {
                        case .tracked(_, let t): t
                        case .source(let t): t
                        case .table(let t): t
                        }
                        if let named, tables[named] == nil { fail("no stick-table in a proxy named '\(named)'") }
                        switch f.entry {
                        case .source(nil) where tables[frontend.name] == nil:
                            fail("'\(frontend.name)' has no stick-table for a src_* fetch (declare one, or name one: src_conn_cur(TABLE))")
                        case .table(nil) where tables[frontend.name] == nil:
                            fail("'\(frontend.name)' has no stick-table for table_cnt/table_avl (declare one, or name one: table_cnt(TABLE))")
                        default: break
                        }
                    }
                }
            }
        }
        return errors
    }

    /// Whether a frontend uses stick tables at all (a session is made for its connections).
    static func uses(_ frontend: Frontend, tables: [String: StickTable]) -> Bool {
        tables[frontend.name] != nil || frontend.tcpRequestRules.contains { $0.tracking != nil }
            || frontend.httpRequestRules.contains { if case .track = $0.action { true } else { false } }
    }
}
