import Atomics
import SwiftLBConfig

/// `tune.vars.*-max-size`: HAProxy 2.6's count of the memory variables take (src/vars.c). A
/// variable costs its entry (`entrySize`, HAProxy's sizeof(struct var) on 64 bits) plus the
/// bytes of a string or binary value; an integer or a boolean costs its entry alone. A charge
/// goes to the variable's scope and every scope around it (`req.`/`res.` → their stream's
/// request-response count → its `txn.` count → the session's → the process's), each counted
/// only when its limit is set, and is refused when it would pass any of those limits.
enum VariableAccounting {
    static let entrySize = 80

    /// The limits of the running configuration, set when a runtime is built (a reload applies
    /// its own, as HAProxy's new process would); nil: none, and nothing is counted.
    static var limits: VariableSizeLimits? {
        guard anyLimit.load(ordering: .relaxed) else { return nil }
        var limits = VariableSizeLimits()
        for (keyPath, atomic) in atomics { limits[keyPath: keyPath] = atomic.load(ordering: .relaxed) }
        return limits
    }

    static func apply(_ limits: VariableSizeLimits) {
        for (keyPath, atomic) in atomics { atomic.store(limits[keyPath: keyPath], ordering: .relaxed) }
        anyLimit.store(!limits.isEmpty, ordering: .relaxed)
    }

    private static let anyLimit = ManagedAtomic(false)
    private static let atomics: [(WritableKeyPath<VariableSizeLimits, Int> & Sendable, ManagedAtomic<Int>)] =
        [\.global, \.process, \.session, \.transaction, \.requestResponse].map { ($0, ManagedAtomic(0)) }

    /// Every counted variable of the process (HAProxy's proc_vars.size), what
    /// `tune.vars.proc-max-size` and `global-max-size` bound.
    static let processSize = ManagedAtomic<Int>(0)

    /// Charges `bytes` to the process's count unless that passes `proc-max-size` or
    /// `global-max-size`: the check and the add are one atomic step, as every event loop
    /// charges the same count.
    static func chargeProcess(_ bytes: Int, _ limits: VariableSizeLimits) -> Bool {
        let limit = [limits.process, limits.global].filter { $0 != 0 }.min() ?? 0
        guard limit != 0 else {
            processSize.wrappingIncrement(by: bytes, ordering: .relaxed)
            return true
        }
        var current = processSize.load(ordering: .relaxed)
        while current + bytes <= limit {
            let (exchanged, now) = processSize.weakCompareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = now
        }
        return false
    }

    /// What a variable whose entry fitted but not its value holds (HAProxy: a boolean of
    /// undefined value).
    static let valueLeftUnset = SampleValue.boolean(false)

    static func dataSize(_ value: SampleValue) -> Int {
        switch value {
        case .string(let s): s.utf8.count
        case .binary(let b): b.count
        case .integer, .boolean: 0
        }
    }
}

/// The bytes one stream charged, by scope.
struct ScopeSizes {
    var transaction = 0
    var request = 0
    var response = 0
    /// The request-response level (HAProxy's strm->vars_reqres.size).
    var requestResponse: Int { request + response }
}

extension StreamVariables {
    /// `set` under limits, as HAProxy's var_set: a new variable's entry is charged first (not
    /// made when it does not fit), then a string's bytes (the old value's given back). One whose
    /// entry fits but not its data keeps its entry — charged once, given back when it is unset
    /// or its scope ends — and holds `false` (HAProxy leaves it a boolean of undefined value:
    /// whatever its memory held). A `proc.` variable is read, charged and stored in one critical
    /// section of the process's variables: two event loops setting the same name would otherwise
    /// both charge its entry.
    func setCounted(_ scope: VariableScope, _ name: String, _ value: SampleValue?, _ limits: VariableSizeLimits) {
        let update = { (old: SampleValue?) -> SampleValue? in
            self.countedValue(replacing: old, with: value, scope, limits)
        }
        if scope == .proc {
            process.update(name, update)
        } else {
            store(scope, name, update(stored(scope, name)))
        }
    }

    /// What a counted set leaves in the variable's place (nil: no variable), charging and
    /// giving back on the way.
    private func countedValue(replacing old: SampleValue?, with value: SampleValue?, _ scope: VariableScope, _ limits: VariableSizeLimits) -> SampleValue? {
        guard let value else {
            // Unset: its entry and data given back.
            if let old { release(VariableAccounting.entrySize + VariableAccounting.dataSize(old), scope) }
            return nil
        }
        if let old {
            release(VariableAccounting.dataSize(old), scope)
        } else if !charge(VariableAccounting.entrySize, scope, limits) {
            return nil
        }
        let data = VariableAccounting.dataSize(value)
        return data == 0 || charge(data, scope, limits) ? value : VariableAccounting.valueLeftUnset
    }

    /// Charges `bytes` to `scope` and the scopes around it when no limit on the way is passed.
    private func charge(_ bytes: Int, _ scope: VariableScope, _ limits: VariableSizeLimits) -> Bool {
        let inStream = scope == .req || scope == .res || scope == .txn
        if scope == .req || scope == .res, limits.requestResponse != 0, sizes.requestResponse + bytes > limits.requestResponse { return false }
        if inStream, limits.transaction != 0, sizes.transaction + sizes.requestResponse + bytes > limits.transaction { return false }
        if scope != .proc, limits.session != 0, sessionScope.size + bytes > limits.session { return false }
        guard VariableAccounting.chargeProcess(bytes, limits) else { return false }
        addInSession(bytes, scope)
        return true
    }

    func release(_ bytes: Int, _ scope: VariableScope) { add(-bytes, scope) }

    /// The counts of `scope` and of the scopes around it move by `bytes`.
    private func add(_ bytes: Int, _ scope: VariableScope) {
        addInSession(bytes, scope)
        VariableAccounting.processSize.wrappingIncrement(by: bytes, ordering: .relaxed)
    }

    /// The counts below the process's.
    private func addInSession(_ bytes: Int, _ scope: VariableScope) {
        switch scope {
        case .req: sizes.request += bytes
        case .res: sizes.response += bytes
        case .txn: sizes.transaction += bytes
        case .sess: sessionScope.ownSize += bytes
        case .proc: break
        }
        if scope != .proc { sessionScope.size += bytes }
    }

    /// `req.` variables end (the response begins): their bytes given back.
    func releaseRequest() {
        if sizes.request != 0 { release(sizes.request, .req) }
    }

    /// The transaction ends: its `txn.`, `req.` and `res.` bytes given back.
    func releaseTransaction() {
        if sizes.request != 0 { release(sizes.request, .req) }
        if sizes.response != 0 { release(sizes.response, .res) }
        if sizes.transaction != 0 { release(sizes.transaction, .txn) }
    }
}
