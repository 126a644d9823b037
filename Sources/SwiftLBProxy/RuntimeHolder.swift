import Atomics

/// The configuration in force: one immutable `ProxyRuntime`, swapped whole by a reload.
/// Listeners read it when they accept, a connection when a new request starts, the control
/// socket and the VIP hooks when they are asked — never a copy captured at start. One atomic
/// load to read; the generation tells a connection cheaply whether the snapshot changed since
/// its last request.
public final class RuntimeHolder: Sendable {
    private let box: ManagedAtomic<ProxyRuntime>
    private let generationCounter = ManagedAtomic<Int>(0)

    public init(_ runtime: ProxyRuntime) {
        box = ManagedAtomic(runtime)
        runtime.putVariablesInForce()
    }

    public var current: ProxyRuntime { box.load(ordering: .acquiring) }
    /// Bumped by every swap, after the new runtime is in place.
    var generation: Int { generationCounter.load(ordering: .acquiring) }

    func replace(with runtime: ProxyRuntime) {
        // The new file's variable limits and global variables, once it is sure to be in force.
        runtime.putVariablesInForce()
        box.store(runtime, ordering: .releasing)
        generationCounter.wrappingIncrement(ordering: .releasing)
    }
}

extension ProxyRuntime: AtomicReference {
    /// Its `tune.vars.*` limits, then its global `set-var` lines (counted under them).
    fileprivate func putVariablesInForce() {
        VariableAccounting.apply(variableSizeLimits)
        globalVariables?.apply()
    }
}
