import Foundation
import SwiftLBTestSupport

/// A syslog server for tests: a real datagram socket (UDP on loopback, or a unix path) that
/// hands back each datagram as it arrived. Reads are bounded by a timeout.
final class DatagramReceiver: @unchecked Sendable {
    let fd: Int32
    /// The UDP port (0 for a unix socket).
    private(set) var port: UInt16 = 0
    let path: String?

    /// UDP on 127.0.0.1, on a port the kernel picks.
    init(udp: Void = ()) throws {
        path = nil
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var a = loopback(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard rc else { close(fd); throw TestError("cannot bind a UDP socket: errno \(errno)") }
        port = UInt16(bigEndian: a.sin_port)
    }

    /// A unix datagram socket at `path` (as /dev/log is), or named `path` in Linux's abstract
    /// namespace.
    init(unixPath: String, abstract: Bool = false, receiveBuffer: Int32? = nil) throws {
        path = abstract ? nil : unixPath
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &a.sun_path) { raw in
            for (i, b) in unixPath.utf8.enumerated() { raw[i + (abstract ? 1 : 0)] = b }
        }
        let length = abstract ? MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + 1 + unixPath.utf8.count : MemoryLayout<sockaddr_un>.size
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) } }
        guard rc == 0 else { close(fd); throw TestError("cannot bind \(unixPath): errno \(errno)") }
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// The next datagram, or nil after `timeout` seconds without one.
    func receive(timeout: TimeInterval = 5) -> [UInt8]? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 70_000)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n >= 0 ? Array(buffer[0..<n]) : nil
    }

    /// Datagrams until `count` arrived or `timeout` passed with none.
    func receive(count: Int, timeout: TimeInterval = 5) -> [String] {
        var lines: [String] = []
        while lines.count < count, let d = receive(timeout: timeout) { lines.append(String(decoding: d, as: UTF8.self)) }
        return lines
    }

    /// Reads in the background from now on, so a sender is never held back by a full queue
    /// (a unix socket queues only net.unix.max_dgram_qlen datagrams, 10 by default);
    /// `collected` returns what came.
    func startCollecting() {
        let thread = Thread { [self] in
            while collecting.withLock({ $0.running }) {
                guard let d = receive(timeout: 0.05) else { continue }
                collecting.withLock { $0.lines.append(String(decoding: d, as: UTF8.self)) }
            }
        }
        collecting.withLock { $0.running = true }
        thread.start()
    }

    /// Waits (bounded) until `count` datagrams were collected, stops, and returns them.
    func collected(count: Int, timeout: TimeInterval = 5) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while collecting.withLock({ $0.lines.count }) < count && Date() < deadline { usleep(20_000) }
        collecting.withLock { $0.running = false }
        usleep(100_000)
        return collecting.withLock { $0.lines }
    }

    private let collecting = Locked((running: false, lines: [String]()))

    /// Everything already queued, without waiting.
    func drain() -> [String] {
        var lines: [String] = []
        while let d = receive(timeout: 0) { lines.append(String(decoding: d, as: UTF8.self)) }
        return lines
    }
}

/// A TCP socket connected to 127.0.0.1:port, or -1.
func connectTCP(_ port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var a = loopback(port)
    let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    if rc != 0 { close(fd); return -1 }
    return fd
}

/// A plain TCP exchange with a bounded wait: what curl cannot send (WebSocket upgrade then
/// frames, a raw TCP session, a broken request).
func tcpExchange(port: Int, _ chunks: [String], pause: TimeInterval = 0.2) -> String {
    let fd = connectTCP(port)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var tv = timeval(tv_sec: 0, tv_usec: 300_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var received = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    for chunk in chunks {
        _ = chunk.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        usleep(UInt32(pause * 1_000_000))
        let n = recv(fd, &buffer, buffer.count, 0)
        if n > 0 { received += buffer[0..<n] }
    }
    return String(decoding: received, as: UTF8.self)
}

/// A free loopback TCP port (bound to 0, read back, released).
func freeTCPPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var a = loopback(0)
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    return Int(UInt16(bigEndian: a.sin_port))
}

/// Polls until something accepts on the port (bounded).
func waitForListener(_ port: Int, timeout: TimeInterval = 10) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let fd = connectTCP(port)
        if fd >= 0 { close(fd); return true }
        usleep(50_000)
    }
    return false
}

/// A value behind a lock, for the collector thread.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
