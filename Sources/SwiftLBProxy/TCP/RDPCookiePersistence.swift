import NIOCore

/// `persist rdp-cookie`: a TCP session whose RDP cookie (`msts=ADDR.PORT.0000`, written by a
/// Microsoft session broker) names one of the backend's servers goes to it, as HAProxy's
/// tcp_persist_rdp_cookie reads it: ADDR and PORT are the decimal of the IPv4 address's and
/// the port's bytes in network order read as host integers (127.0.0.1:3389 is
/// `16777343.15629` on x86), each followed by a dot.
enum RDPCookiePersistence {
    /// The server `value` names, when it is up and not in maintenance (or `option persist`);
    /// nil otherwise — the session is then balanced, as HAProxy skips a stopped server.
    static func server(_ value: [UInt8]?, in backend: RuntimeBackend) -> RuntimeServer? {
        guard let value, let (address, port) = decode(value) else { return nil }
        return backend.servers.first { server in
            guard case .v4(let a) = server.address else { return false }
            return a.address.sin_port == port && a.address.sin_addr.s_addr == address
                && (server.health.acceptsStickyClients || backend.config.options.persist)
        }
    }

    /// `ADDR.PORT.`: the two numbers as they sit in a sockaddr_in (network order), or nil.
    /// Like strtoul, blanks and a `+` may lead, and a number too large saturates (it then
    /// names no server).
    static func decode(_ value: [UInt8]) -> (address: UInt32, port: UInt16)? {
        var i = value.startIndex
        func number() -> UInt64? {
            while i < value.endIndex, value[i] == UInt8(ascii: " ") || value[i] == UInt8(ascii: "\t") { i += 1 }
            if i < value.endIndex, value[i] == UInt8(ascii: "+") { i += 1 }
            var n: UInt64 = 0
            let start = i
            while i < value.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(value[i]) {
                let (times, o1) = n.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(UInt64(value[i] - UInt8(ascii: "0")))
                n = o1 || o2 ? UInt64.max : sum
                i += 1
            }
            guard i > start, i < value.endIndex, value[i] == UInt8(ascii: ".") else { return nil }
            i += 1
            return n
        }
        guard let address = number(), let port = number() else { return nil }
        // HAProxy compares the address with `s_addr` as it is, and `ntohs` of the port with
        // the host-order port: both are the raw network-order fields of a sockaddr_in.
        // Cut to the fields' widths as HAProxy stores them (2^32+A is A); a saturated
        // number is all ones there, which names no server.
        return (UInt32(truncatingIfNeeded: address), UInt16(truncatingIfNeeded: port))
    }
}
