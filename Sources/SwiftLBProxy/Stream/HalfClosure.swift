import NIOCore

extension Channel {
    /// A socket of NIOPosix's (TCP or unix): the options SwiftLB sets in place exist on it.
    /// An HTTP/2 stream channel is not one — NIOHTTP2 traps (it does not throw) on an option
    /// it does not know, such as `allowRemoteHalfClosure` or `bufferedWritableBytes`.
    var isSocket: Bool { self is any SocketOptionProvider }

    /// Lets the peer's FIN arrive as `ChannelEvent.inputClosed` instead of closing the channel.
    /// Set in place on the channel's own loop: `setOption` would build a future per connection.
    /// Nothing on a channel that is no socket (an HTTP/2 stream ends with its END_STREAM).
    func allowRemoteHalfClosure() {
        guard isSocket, let options = syncOptions else { return }
        try? options.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
    }
}
