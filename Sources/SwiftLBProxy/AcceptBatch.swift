import NIOCore

/// How many sockets the listener's next accept read may take (NIO's `maxMessagesPerRead`):
/// `AcceptLimiter` bounds it by the free connection slots (`maxconn`), `AcceptRateLimiter` by
/// what the accept rates leave this second; the read takes the smaller, at most `full`
/// (HAProxy's `tune.maxaccept`). One owner of the option, so the two bounds never undo each
/// other. Lives on the listener's loop; the option is set only when the number changes.
final class AcceptBatch {
    static let full = 64

    private var slots = AcceptBatch.full
    private var rate = AcceptBatch.full
    private var applied = AcceptBatch.full

    /// The connection slots left (`maxconn`).
    func bound(slots: Int, _ context: ChannelHandlerContext) {
        self.slots = slots
        apply(context)
    }

    /// What the accept rates leave.
    func bound(rate: Int, _ context: ChannelHandlerContext) {
        self.rate = rate
        apply(context)
    }

    private func apply(_ context: ChannelHandlerContext) {
        let wanted = max(1, min(slots, rate, Self.full))
        guard wanted != applied, let options = context.channel.syncOptions else { return }
        do {
            try options.setOption(.maxMessagesPerRead, value: UInt(wanted))
            applied = wanted
        } catch {
            // A closing listener: nothing more to accept anyway.
        }
    }
}
