import Foundation

/// A plain TCP client for what curl will not send: malformed requests, pipelining, one byte
/// at a time. Every read is bounded by `timeout`.
final class RawClient {
    private let fd: Int32

    /// - receiveBuffer: SO_RCVBUF before connecting (a small one makes a client that does not
    ///   read stall the sender quickly).
    /// - source: a loopback address to connect from (any of 127.0.0.0/8), for source ACLs.
    init(port: Int, timeout: TimeInterval = 5, receiveBuffer: Int32? = nil, source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0 else { close(fd); throw HarnessError("bind to \(source) failed: errno \(errno)") }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw HarnessError("connect to \(port) failed: errno \(errno)") }
        setReceiveTimeout(timeout)
    }

    /// Bounds every later read by `timeout` (a short one to show that nothing comes, a long
    /// one for what must come).
    func setReceiveTimeout(_ timeout: TimeInterval) {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads until the peer closes or `timeout` passes without data; `closed` tells which.
    func readAll() -> (text: String, closed: Bool) {
        let (bytes, closed) = readAllBytes()
        return (String(decoding: bytes, as: UTF8.self), closed)
    }

    /// `readAll` for binary protocols (HTTP/2 frames): the bytes as they came.
    func readAllBytes() -> (bytes: [UInt8], closed: Bool) {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { data.append(contentsOf: buffer[0..<n]); continue }
            return (data, n == 0 || (n < 0 && errno == ECONNRESET))
        }
    }

    /// Reads until the peer ends the connection or the timeout: `reset` tells a reset
    /// (ECONNRESET, SO_LINGER 0 on the other side) from a clean FIN or a timeout.
    func readToEnd() -> (text: String, reset: Bool) {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { data.append(contentsOf: buffer[0..<n]); continue }
            return (String(decoding: data, as: UTF8.self), n < 0 && errno == ECONNRESET)
        }
    }

    /// Reads until `marker` has appeared `count` times, the peer closes, or the timeout.
    func read(until marker: String, count: Int = 1) -> String {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 65536)
        while text.components(separatedBy: marker).count - 1 < count {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            text += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        return text
    }

    /// Reads exactly one response framed by Content-Length (or a head-only one), without
    /// waiting for the connection to close.
    func readResponse() -> String {
        var text = read(until: "\r\n\r\n")
        guard let headEnd = text.range(of: "\r\n\r\n") else { return text }
        let head = text[..<headEnd.lowerBound].lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while text.utf8.count - text.utf8.distance(from: text.startIndex, to: headEnd.upperBound) < length {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            text += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        return text
    }

    /// Ends the connection both ways (as a client that is done does).
    func shutdownBoth() { _ = Foundation.shutdown(fd, Int32(SHUT_RDWR)) }

    /// Sends FIN after what is queued, and can still read (a half-close).
    func shutdownWrite() { _ = Foundation.shutdown(fd, Int32(SHUT_WR)) }

    /// Writes as fast as the path takes bytes, never blocking: pushes up to `limit` bytes
    /// within `deadline` seconds and returns what the kernel took, and whether the writer was
    /// held back (the socket unwritable for `stall` seconds) — what a sender into a tunnel
    /// whose far end stopped reading must come to.
    func push(limit: Int, stall: TimeInterval, deadline: TimeInterval) -> (pushed: Int, blocked: Bool) {
        let chunk = [UInt8](repeating: 0x78, count: 65536)
        var pushed = 0
        let end = Date().addingTimeInterval(deadline)
        while pushed < limit && Date() < end {
            let n = chunk.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, min($0.count, limit - pushed), Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n > 0 { pushed += n; continue }
            guard n < 0, errno == EAGAIN || errno == EWOULDBLOCK else { return (pushed, false) }
            var waiting = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if poll(&waiting, 1, Int32(stall * 1000)) == 0 { return (pushed, true) }
        }
        return (pushed, false)
    }

    deinit { close(fd) }
}

/// The status code of the first response in `text`, or 0.
func statusCode(_ text: String) -> Int {
    let parts = text.split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return 0 }
    return Int(parts[1]) ?? 0
}

/// Sends `request` on a new connection to `port` and returns all that comes back until the
/// peer closes or `timeout` passes without data.
func rawExchange(_ port: Int, _ request: String, timeout: TimeInterval = 2) throws -> String {
    let client = try RawClient(port: port, timeout: timeout)
    client.send(request)
    return client.readAll().text
}
