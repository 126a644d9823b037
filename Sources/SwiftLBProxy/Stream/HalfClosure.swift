import NIOCore

extension Channel {
    /// Lets the peer's FIN arrive as `ChannelEvent.inputClosed` instead of closing the channel.
    /// Set in place on the channel's own loop: `setOption` would build a future per connection.
    func allowRemoteHalfClosure() {
        if let options = syncOptions {
            try? options.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        } else {
            _ = setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        }
    }
}
