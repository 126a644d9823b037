import NIOCore
import SwiftLBConfig

/// Edits a request head into the one a backend receives, on the head's edit list (the kept
/// lines go out as they came).
///
/// Hop-by-hop headers (RFC 9110 §7.6.1) describe the client's connection, not the message, so
/// they are removed along with every header the client's `Connection` names — except the
/// headers that frame the message or name its host, which `Connection` can never remove. The
/// body framing decided from the client's head is written last, after every rule, as the one
/// Content-Length or `Transfer-Encoding: chunked` line the server sees. The upstream connection
/// is always HTTP/1.1 keep-alive, whatever the client speaks.
enum RequestRewriter {
    /// Named in `Connection`, these stay: removing them would reframe the message (request
    /// smuggling) or change its target.
    static let neverHopByHop: Set<String> = ["content-length", "transfer-encoding", "host"]

    /// What the client's head says about its connection.
    struct ClientConnection {
        /// The client wants the connection closed after this exchange.
        var close: Bool
        /// `Upgrade` was requested (and `Connection: upgrade` names it).
        var upgrade: Bool
        /// An `Upgrade` header is there (kept when `keepUpgrade`), asked for or not.
        var hasUpgradeHeader = false
    }

    /// Removes the hop-by-hop fields and those `Connection` lists; returns what `Connection`
    /// said. One pass; names of a hop-by-hop length are the only ones looked at closely.
    static func removeHopByHop(_ head: inout MessageHead, keepUpgrade: Bool = false) -> ClientConnection {
        var listed: [String] = []
        var close = false
        var keepAlive = false
        var upgradeToken = false
        var hasUpgrade = false
        var trailersAccepted = false
        for i in head.fields.indices where !head.isRemoved(i) {
            let f = head.fields[i]
            switch f.nameEnd - f.lineStart {
            case 10 where head.name(i, is: "connection"):
                head.forEachToken(i) { token in
                    if head.bytes(token, equal: "close") {
                        close = true
                    } else if head.bytes(token, equal: "keep-alive") {
                        keepAlive = true
                    } else if head.bytes(token, equal: "upgrade") {
                        upgradeToken = true
                    } else {
                        let name = head.string(token).lowercased()
                        if !neverHopByHop.contains(name) { listed.append(name) }
                    }
                }
                head.remove(i)
            case 2 where head.name(i, is: "te"):
                // A request's `TE: trailers` goes on, alone, as HAProxy sends it (gRPC's servers
                // want it); any other coding or a weighted `trailers` is the client's hop only.
                if head.kind == .request && head.value(i, hasToken: "trailers") { trailersAccepted = true }
                head.remove(i)
            case 10 where head.name(i, is: "keep-alive"),
                 16 where head.name(i, is: "proxy-connection"), 7 where head.name(i, is: "trailer"):
                head.remove(i)
            case 7 where head.name(i, is: "upgrade"):
                hasUpgrade = true
                if !keepUpgrade { head.remove(i) }
            default:
                continue
            }
        }
        for name in listed { head.removeAll(name) }
        if trailersAccepted { head.add("TE", "trailers") }
        let closes = head.minorVersion == 0 ? !keepAlive : close
        return ClientConnection(close: closes, upgrade: hasUpgrade && upgradeToken, hasUpgradeHeader: hasUpgrade)
    }

    /// The head the server receives: hop-by-hop removed, absolute-form as it came (its Host
    /// following its authority), Host for an HTTP/1.0 client, X-Forwarded-For, the rules of
    /// both proxies, the framing.
    /// `facts` is nil when no rule needs them.
    static func upstream(_ head: inout MessageHead, framing: BodyFramer.Mode?, facts: RequestFacts?, clientAddress: String,
                         sourceAddress: SocketAddress?, destination: SocketAddress?, frontend: RuntimeFrontend, backend: RuntimeBackend) {
        let originForm = head.bytes.getInteger(at: Int(head.part2.lowerBound), as: UInt8.self) == UInt8(ascii: "/")
        if !originForm, let authority = RequestValidator.absoluteFormAuthority(head.currentTarget) {
            // Absolute-form goes to the server as it is, as HAProxy 2.6 sends it (RFC 9112
            // §3.2.2: a server MUST accept it). Host already names its authority (checked and
            // normalised on arrival); a rule that moved the authority (`set-uri`) moves Host too,
            // and an HTTP/1.0 client's missing Host is added.
            AbsoluteForm.keepHost(&head, agreeingWith: authority, https: AbsoluteForm.isHTTPS(head.currentTarget) == true)
        } else if head.minorVersion == 0, !head.contains("host"), let dst = destination, let ip = dst.ipAddress {
            // An HTTP/1.0 client may omit Host; the HTTP/1.1 server we talk to needs one.
            head.add("Host", dst.protocol == .inet6 ? "[\(ip)]:\(dst.port ?? 80)" : "\(ip):\(dst.port ?? 80)")
        }
        if head.minorVersion == 0 || !head.versionIsAsRead {
            // A rule may have rewritten the start line already (set-path…): keep its method
            // and target, only the version becomes ours (RFC 9110 §6.2: an intermediary sends
            // its own version; HTTP/1.0 and a client's HTTP/1.2…1.9 all go out as HTTP/1.1).
            head.startLineOverride = "\(head.currentMethod) \(head.currentTarget) HTTP/1.1"
        }
        if frontend.forwardForHeader != nil || backend.forwardForHeader != nil,
           let (name, value) = ForwardedFor.header(frontend: frontend.config.options.forwardFor, backend: backend.config.options.forwardFor,
                                                    client: clientAddress, request: head) {
            head.add(name, value)
        }
        if let (name, value) = ForwardedFor.originalTo(frontend: frontend.config.options.originalTo, backend: backend.config.options.originalTo,
                                                       destination: destination) {
            head.add(name, value)
        }
        impose(framing, on: &head)
    }

    /// Leaves the framing lines as they came when they already say exactly `framing` once, in
    /// plain form (`Name: value`, no other blanks: what a repaired fold or odd spacing leaves
    /// is not passed on for a server to read its own way); otherwise replaces them with the
    /// canonical form. The server reads the framing we read.
    static func impose(_ framing: BodyFramer.Mode?, on head: inout MessageHead) {
        var lengthLines: [Int] = []
        var codingLines: [Int] = []
        for i in head.fields.indices where !head.isRemoved(i) {
            if head.name(i, is: "content-length") { lengthLines.append(i) } else if head.name(i, is: "transfer-encoding") { codingLines.append(i) }
        }
        let addedFraming = head.added.contains { isFramingName($0.name) }
        switch framing {
        case .length(let n)? where codingLines.isEmpty && lengthLines.count == 1 && !addedFraming && head.decimalValue(lengthLines[0]) == n
                                   && head.isPlainLine(lengthLines[0]):
            return
        case .chunked? where lengthLines.isEmpty && codingLines.count == 1 && !addedFraming && head.value(codingLines[0], equals: "chunked")
                             && head.isPlainLine(codingLines[0]):
            return
        case nil where codingLines.isEmpty && lengthLines.count == 1 && !addedFraming && head.decimalValue(lengthLines[0]) == 0
                       && head.isPlainLine(lengthLines[0]):
            return  // `Content-Length: 0` says no body: HAProxy forwards it as it came
        default:
            break
        }
        for i in lengthLines + codingLines { head.remove(i) }
        head.added.removeAll { isFramingName($0.name) }
        switch framing {
        case .length(let n)?: head.add("Content-Length", String(n))
        case .chunked?: head.add("Transfer-Encoding", "chunked")
        case .untilClose?, nil: break
        }
    }

    private static func isFramingName(_ name: String) -> Bool {
        (name.utf8.count == 14 || name.utf8.count == 17) && ["content-length", "transfer-encoding"].contains(name.lowercased())
    }
}
