import NIOConcurrencyHelpers
import SwiftLBConfig

/// A value a sample expression yields or a variable holds: HAProxy's sample types reduced to
/// the four the rules compare and print (addresses are kept as their text; binaries — what
/// `sha1`, `sha2` and `b64dec` yield — as their bytes).
enum SampleValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    /// Bytes (`ssl_c_der`, `ssl_c_serial`…): printed as they are, `hex` shows them.
    case binary([UInt8])

    /// The text form, as `%[…]` prints it and string matching reads it.
    var text: String {
        switch self {
        case .string(let s): s
        case .integer(let i): String(i)
        case .boolean(let b): b ? "1" : "0"
        // HAProxy's bin-to-string cast stops at the first NUL byte.
        case .binary(let bytes): String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// The bytes a binary converter (`hex`, `base64`, the hashes) reads: a binary's own, the
    /// text form's otherwise.
    var bytes: [UInt8] {
        if case .binary(let bytes) = self { return bytes }
        return Array(text.utf8)
    }

    /// The integer form (HAProxy's cast: a string that is a number, a boolean as 0/1).
    var integer: Int? {
        switch self {
        case .integer(let i): i
        case .boolean(let b): b ? 1 : 0
        case .string(let s): Int(s)
        case .binary: nil
        }
    }

    /// Whether an ACL on this value alone holds (`-m bool`, a bare `var(x)` condition).
    var isTrue: Bool {
        switch self {
        case .boolean(let b): b
        case .integer(let i): i != 0
        case .string(let s): !s.isEmpty
        case .binary(let bytes): !bytes.isEmpty
        }
    }
}

/// HAProxy's variable scopes, by how long a value lives: `proc` for the process, `sess` for the
/// client connection, `txn` for one request and its response, `req` while the request is
/// processed, `res` while the response is. (`check` belongs to health checks, not streams.)
enum VariableScope: String, Sendable {
    case proc, sess, txn, req, res

    /// Splits `txn.name` into its scope and name; nil for a name without a stream scope.
    static func split(_ qualified: String) -> (VariableScope, String)? {
        guard let dot = qualified.firstIndex(of: "."), let scope = VariableScope(rawValue: String(qualified[..<dot])) else { return nil }
        let name = qualified[qualified.index(after: dot)...]
        return name.isEmpty ? nil : (scope, String(name))
    }
}

/// `proc.` variables: one set for the whole process, read and written from every event loop,
/// so behind a lock (they are rare: counters and flags an operator sets once). A reload keeps
/// them, as HAProxy's master does not (its workers start empty) — SwiftLB reloads in-process.
final class ProcessVariables: Sendable {
    static let shared = ProcessVariables()
    private let values = NIOLockedValueBox<[String: SampleValue]>([:])

    func get(_ name: String) -> SampleValue? { values.withLockedValue { $0[name] } }
    func set(_ name: String, _ value: SampleValue?) { values.withLockedValue { $0[name] = value } }
    /// Reads and replaces one variable in one critical section (what a counted set charges
    /// depends on what it replaces).
    func update(_ name: String, _ body: (SampleValue?) -> SampleValue?) {
        values.withLockedValue { $0[name] = body($0[name]) }
    }
}

/// The variables of one client connection (one stream at a time on HTTP/1): `sess.` for the
/// connection's life, `txn.` from a request head to the end of its response, `req.` until the
/// response starts, `res.` while the response is processed. Owned by the connection handler
/// on its event loop, so no lock; empty dictionaries until a rule sets something, so a stream
/// without variables pays nothing.
///
/// Lifecycle the stream calls: `beginTransaction()` when a request head arrives,
/// `beginResponse()` when the response (the server's or SwiftLB's own) starts,
/// `endTransaction()` when it has been sent.
final class StreamVariables {
    /// `sess.`: the connection's; an HTTP/2 stream's is its connection's, shared by its
    /// streams (made when a rule first sets one on an HTTP/1 connection).
    private(set) var session: SessionVariables?
    private var transaction: [String: SampleValue] = [:]
    private var request: [String: SampleValue] = [:]
    private var response: [String: SampleValue] = [:]
    let process: ProcessVariables
    /// `tune.vars.*-max-size` as they were when the stream began; nil (none set): nothing is
    /// counted.
    let limits: VariableSizeLimits?
    /// The bytes charged for this stream's `txn.`, `req.` and `res.` variables (with limits).
    var sizes = ScopeSizes()

    init(process: ProcessVariables = .shared, session: SessionVariables? = nil, limits: VariableSizeLimits? = VariableAccounting.limits) {
        self.process = process
        self.session = session
        self.limits = limits
    }

    deinit {
        // A stream that ends in the middle of a transaction gives its bytes back.
        if limits != nil { releaseTransaction() }
    }

    /// The `sess.` scope, made now if no rule set one yet (to hand to an HTTP/2 connection).
    var sessionScope: SessionVariables {
        if let session { return session }
        let made = SessionVariables()
        session = made
        return made
    }

    /// `txn.name` and friends; nil when unset (or not a stream scope).
    func get(_ qualified: String) -> SampleValue? {
        guard let (scope, name) = VariableScope.split(qualified) else { return nil }
        return stored(scope, name)
    }

    /// Sets (or with nil, unsets) a variable; under `tune.vars.*-max-size`, not when it would
    /// pass a limit.
    func set(_ qualified: String, _ value: SampleValue?) {
        guard let (scope, name) = VariableScope.split(qualified) else { return }
        if let limits {
            setCounted(scope, name, value, limits)
            return
        }
        store(scope, name, value)
    }

    /// A variable's value by scope and name (the accounting's way in too).
    func stored(_ scope: VariableScope, _ name: String) -> SampleValue? {
        switch scope {
        case .proc: process.get(name)
        case .sess: session?.values[name]
        case .txn: transaction[name]
        case .req: request[name]
        case .res: response[name]
        }
    }

    /// Sets or unsets it, uncounted.
    func store(_ scope: VariableScope, _ name: String, _ value: SampleValue?) {
        switch scope {
        case .proc: process.set(name, value)
        case .sess: sessionScope.values[name] = value
        case .txn: transaction[name] = value
        case .req: request[name] = value
        case .res: response[name] = value
        }
    }

    func beginTransaction() {
        if limits != nil { releaseTransaction() }
        if !transaction.isEmpty { transaction.removeAll() }
        if !request.isEmpty { request.removeAll() }
        if !response.isEmpty { response.removeAll() }
    }

    /// `req.` variables end where the response begins.
    func beginResponse() {
        if limits != nil { releaseRequest() }
        if !request.isEmpty { request.removeAll() }
    }

    func endTransaction() { beginTransaction() }
}

/// The `sess.` variables of one client connection: shared by the streams of an HTTP/2
/// connection, as HAProxy's session variables are by its streams (all on one event loop).
final class SessionVariables {
    var values: [String: SampleValue] = [:]
    /// Under `tune.vars.sess-max-size`: the bytes of its variables and of its streams' `txn.`,
    /// `req.` and `res.` ones (HAProxy's sess->vars.size).
    var size = 0
    /// Of those, its own `sess.` variables' (given back to the process's count at its end).
    var ownSize = 0

    deinit {
        if ownSize != 0 { VariableAccounting.processSize.wrappingDecrement(by: ownSize, ordering: .relaxed) }
    }
}
