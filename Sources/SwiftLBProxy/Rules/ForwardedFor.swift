import NIOCore
import SwiftLBConfig

/// `option forwardfor [except NET] [header NAME] [if-none]` of a frontend and its backend,
/// decided as HAProxy 2.6 does (`http_process_request`): the header is added when either
/// proxy has the option, named as the backend says (else the frontend); it is left out when
/// the client's address is in either proxy's `except` network, or when every proxy that has
/// the option says `if-none` and the request already carries the header.
enum ForwardedFor {
    /// The header line to add to the request going to the server, or nil.
    static func header(frontend: ForwardFor?, backend: ForwardFor?, source: SocketAddress?, request: MessageHead) -> (name: String, value: String)? {
        guard frontend != nil || backend != nil, let address = source?.ipAddress else { return nil }
        let name = (backend ?? frontend)!.header
        let always = [frontend, backend].contains { $0.map { !$0.ifNone } ?? false }
        if !always && !request.values(of: name.lowercased()).isEmpty { return nil }
        let excepted = [frontend?.except, backend?.except].compactMap { $0 }
        if !excepted.isEmpty, IPNetwork.address(address, isIn: excepted) { return nil }
        return (name, address)
    }
}
