import NIOConcurrencyHelpers
import NIOCore
import SwiftLBConfig

/// Events per second as HAProxy counts them for its rate limits (freq_ctr.h): the events of
/// the current one-second period, plus those of the previous period weighted by the part of
/// it still inside the last second. Shared by the listeners of every loop; touched once per
/// accept batch, never per request.
final class EventRate: Sendable {
    private struct State {
        /// Start of the current period, in ms of uptime (periods are whole seconds).
        var tick: Int64 = 0
        var current = 0
        var previous = 0
    }
    private let state = NIOLockedValueBox(State())

    /// HAProxy's freq_ctr_total: events × ms over the last second.
    private static func total(_ s: inout State, now: Int64) -> Int64 {
        let elapsed = now - s.tick
        if elapsed >= 1000 {
            s.previous = elapsed < 2000 ? s.current : 0
            s.current = 0
            s.tick += elapsed / 1000 * 1000
        }
        let remain = s.tick + 1000 - now
        return Int64(s.previous) * remain + Int64(s.current) * 1000
    }

    private static var nowMs: Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    /// How many more events may happen now under `perSecond` (freq_ctr_remain).
    func remaining(under perSecond: Int) -> Int {
        let total = state.withLockedValue { Self.total(&$0, now: Self.nowMs) }
        return perSecond - min(Int(total / 1000), perSecond)
    }

    /// How long until the next event may happen (next_event_delay), at least 1 ms.
    func delay(under perSecond: Int) -> Int64 {
        let total = state.withLockedValue { Self.total(&$0, now: Self.nowMs) }
        let limit = Int64(perSecond) * 1000
        return total < limit ? 1 : max((total - limit) / Int64(max(perSecond, 1)), 1)
    }

    func add(_ n: Int) {
        state.withLockedValue { s in
            _ = Self.total(&s, now: Self.nowMs)
            s.current += n
        }
    }
}

/// The counters behind the rate limits, for the life of the process (a reload keeps them):
/// `maxconnrate`, `maxsessrate`, `maxsslrate`, and each frontend's `rate-limit sessions`.
final class AcceptRates: Sendable {
    let connections = EventRate()
    let sessions = EventRate()
    let tls = EventRate()
    private let frontends = NIOLockedValueBox<[String: EventRate]>([:])

    func frontend(_ name: String) -> EventRate {
        frontends.withLockedValue { all in
            if let rate = all[name] { return rate }
            let rate = EventRate()
            all[name] = rate
            return rate
        }
    }

    /// The limits a listener of `frontend` (`tls`: an `ssl` bind) is under in `runtime`.
    func limits(_ runtime: ProxyRuntime, frontend: String, frontendRate: EventRate, tls: Bool) -> [(EventRate, Int)] {
        let global = runtime.configuration.global
        var limits: [(EventRate, Int)] = []
        if let n = global.maxConnRate { limits.append((connections, n)) }
        if let n = global.maxSessRate { limits.append((sessions, n)) }
        if tls, let n = global.maxSSLRate { limits.append((self.tls, n)) }
        if let n = runtime.frontends.first(where: { $0.name == frontend })?.config.options.rateLimitSessions { limits.append((frontendRate, n)) }
        return limits
    }
}

/// Applies the rate limits on one listening socket as HAProxy's listener_accept does: an
/// accept batch takes no more connections than every limit has left, and when one has none
/// left the listener stops accepting until the time it names; clients wait in the kernel's
/// backlog meanwhile (they are not refused). Sits after `AcceptLimiter` (maxconn), so a
/// connection that one closes is not counted.
final class AcceptRateLimiter: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias OutboundIn = Never

    private let holder: RuntimeHolder
    private let compute: @Sendable (ProxyRuntime) -> [(EventRate, Int)]
    /// The limits of the runtime in force, computed again only when a reload swapped it (the
    /// holder's generation, read before the runtime: a swap in between only recomputes).
    private var cached: (generation: Int, limits: [(EventRate, Int)])?
    private var waiting: Scheduled<Void>?
    private let batch: AcceptBatch

    init(holder: RuntimeHolder, batch: AcceptBatch, limits: @escaping @Sendable (ProxyRuntime) -> [(EventRate, Int)]) {
        self.holder = holder
        self.batch = batch
        self.compute = limits
    }

    private func limits() -> [(EventRate, Int)] {
        let generation = holder.generation
        if let cached, cached.generation == generation { return cached.limits }
        let limits = compute(holder.current)
        cached = (generation, limits)
        return limits
    }

    /// NIO's first read on the listener (when it starts accepting: autoRead turned on) does
    /// not pass through `read(context:)`: its batch is sized here, beforehand.
    func handlerAdded(context: ChannelHandlerContext) {
        let limits = self.limits()
        guard let room = limits.map({ $0.0.remaining(under: $0.1) }).min() else { return }
        batch.bound(rate: room, context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        for (rate, _) in limits() { rate.add(1) }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        let limits = self.limits()
        guard !limits.isEmpty else {
            batch.bound(rate: AcceptBatch.full, context)
            context.read()
            return
        }
        let room = limits.map { $0.0.remaining(under: $0.1) }.min() ?? AcceptBatch.full
        guard room > 0 else {
            guard waiting == nil else { return }
            let delay = limits.map { $0.0.delay(under: $0.1) }.max() ?? 1
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            waiting = context.eventLoop.scheduleTask(in: .milliseconds(delay)) {
                let (limiter, context) = bound.value
                limiter.waiting = nil
                limiter.read(context: context)
            }
            return
        }
        batch.bound(rate: room, context)
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        waiting?.cancel()
        waiting = nil
    }
}
