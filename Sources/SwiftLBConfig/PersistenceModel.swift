/// `use-server SERVER if|unless COND`: evaluated in order after the backend's http-request
/// rules; the first whose condition holds and whose server may take the request (up, or
/// `option persist`, or `force-persist`) sends it there, before cookies and stick tables.
public struct ServerSelectionRule: Sendable {
    /// The server's name, or (`isDynamic`) the log-format text that names it
    /// (`use-server %[req.hdr(x-srv)] if …`, HAProxy 2.6's dynamic rules).
    public var server: String
    public var condition: Condition
    public var line: Int
    public var isDynamic: Bool { server.contains("%") }

    public init(server: String, condition: Condition, line: Int) {
        self.server = server
        self.condition = condition
        self.line = line
    }
}

/// `force-persist if|unless COND`, `ignore-persist if|unless COND`: the first whose condition
/// holds decides, for the request, whether a cookie, `use-server` or stick entry naming a DOWN
/// server is still followed (force) or whether the cookie and stick entries are not read at
/// all (ignore).
public struct PersistenceRule: Sendable {
    public enum Kind: String, Sendable { case force = "force-persist", ignore = "ignore-persist" }
    public var kind: Kind
    public var condition: Condition
    public var line: Int

    public init(kind: Kind, condition: Condition, line: Int) {
        self.kind = kind
        self.condition = condition
        self.line = line
    }
}

/// `source ADDR[:PORT]` (a proxy's, or a server's parameter): the local address a connection
/// to a server is bound to before it connects. Port 0: any.
public struct SourceAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}
