import NIOCore
import SwiftLBConfig

/// `option forwardfor [except NET] [header NAME] [if-none]` of a frontend and its backend,
/// decided as HAProxy 2.6 does (`http_process_request`): the header is added when either
/// proxy has the option, named as the backend says (else the frontend); it is left out when
/// the client's address is in either proxy's `except` network, or when every proxy that has
/// the option says `if-none` and the request already carries the header.
enum ForwardedFor {
    /// The header line to add to the request going to the server, or nil. `client` is the
    /// client's address as text (worked out once per connection: formatting it costs an
    /// allocation, and this runs for every request).
    static func header(frontend: ForwardFor?, backend: ForwardFor?, client: String?, request: MessageHead) -> (name: String, value: String)? {
        guard let address = client, !address.isEmpty, let chosen = backend ?? frontend else { return nil }
        let always = !(frontend?.ifNone ?? true) || !(backend?.ifNone ?? true)
        if !always && !request.values(of: chosen.header.lowercased()).isEmpty { return nil }
        if let except = frontend?.except, IPNetwork.address(address, isIn: [except]) { return nil }
        if let except = backend?.except, IPNetwork.address(address, isIn: [except]) { return nil }
        return (chosen.header, address)
    }

    /// `option originalto` of a frontend and its backend (HAProxy 2.6's `http_process_request`):
    /// the destination address, in the backend's header name (else the frontend's), unless it
    /// is in either proxy's `except` network.
    static func originalTo(frontend: ForwardFor?, backend: ForwardFor?, destination: SocketAddress?) -> (name: String, value: String)? {
        guard let chosen = backend ?? frontend, let address = destination?.ipAddress else { return nil }
        if let except = frontend?.except, IPNetwork.address(address, isIn: [except]) { return nil }
        if let except = backend?.except, IPNetwork.address(address, isIn: [except]) { return nil }
        return (chosen.header, address)
    }
}
