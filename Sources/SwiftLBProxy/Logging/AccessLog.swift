#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import SwiftLBLog

/// Collects access-log lines of one event loop and writes them with one `write(2)` per loop
/// iteration: a busy loop answering thousands of requests per second pays one syscall per
/// batch, not per line. Only touched on its own event loop.
final class AccessLogWriter {
    private let fd: Int32
    private let eventLoop: any EventLoop
    private var buffer: [UInt8] = []
    private var flushScheduled = false
    private var cachedSecond: Int = -1
    private var cachedDate = ""

    init(fd: Int32, eventLoop: any EventLoop) {
        self.fd = fd
        self.eventLoop = eventLoop
        buffer.reserveCapacity(16 * 1024)
    }

    func append(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count > 64 * 1024 { flush(); return }
        if !flushScheduled {
            flushScheduled = true
            eventLoop.assumeIsolated().execute { self.flush() }
        }
    }

    func flush() {
        flushScheduled = false
        var offset = 0
        buffer.withUnsafeBytes { bytes in
            while offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 { if errno == EINTR { continue } else { break } }  // a full or closed stdout drops lines, never blocks the proxy
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// `28/Nov/2026:11:24:58.123` in local time, HAProxy's accept-date format; the part up to the
    /// seconds is formatted once per second.
    func date(_ now: timespec) -> String {
        let second = now.tv_sec
        if second != cachedSecond {
            var t = second
            var parts = tm()
            localtime_r(&t, &parts)
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
            cachedDate = "\(two(parts.tm_mday))/\(months[Int(parts.tm_mon)])/\(parts.tm_year + 1900):\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
            cachedSecond = second
        }
        let ms = Int(now.tv_nsec / 1_000_000)
        return cachedDate + (ms < 10 ? ".00\(ms)" : ms < 100 ? ".0\(ms)" : ".\(ms)")
    }
}

/// What the data path knows of one stream when it ends, for its access-log line (rendered by
/// the frontend's `LogPlan`).
struct AccessLogRecord {
    var frontend: String
    var backend = "<NOSRV>"
    var server = "<NOSRV>"
    /// Timers in ms, -1 when the phase never happened: request head (TR), queue (Tw),
    /// connect (Tc), response head (Tr), total active (Ta).
    var tr = -1, tw = 0, tc = -1, trsp = -1, ta = -1
    var status = -1
    var bytesOut = 0
    /// Two letters: who ended the session (C client, S server, P proxy, R resource, c/s timeouts)
    /// and in which phase (R request, C connect, H headers, D data, L last, - normal).
    var termination = "--"
    /// The persistence cookie's two letters of `%tsc` (nil: the backend has no cookie, `--`).
    var cookie: CookieState?
    var retries = 0
    var requestLine = "<BADREQ>"
    /// Refused by the HTTP/1 connection layer before any stream existed (a head that does not
    /// parse or frame, a connection that ended or timed out without a request): HAProxy's H1
    /// mux answers these itself, so its line has no timer but Ta (`-1/-1/-1/-1/Ta`), 0 bytes,
    /// `<BADREQ>` and no captured header.
    var refusedBeforeStream = false
    /// The two socket ends and the accept time.
    var source: SocketAddress?
    var destination: SocketAddress?
    var acceptTime = timespec()
    /// Concurrent connections when the line is written: process (`%ac`), frontend (`%fc`),
    /// backend (`%bc`), server (`%sc`).
    var connections = (process: 0, frontend: 0, backend: 0, server: 0)
    /// `capture request|response header`: the values (nil: absent), nil without captures.
    var requestCaptures: [String?]?
    var responseCaptures: [String?]?
    /// `capture cookie`: `%CC`, `%CS` (nil: none captured).
    var requestCookie: String?
    var responseCookie: String?
    /// `%rt`: the stream's number in the process (0 when nothing reads it).
    var requestCounter = 0
    /// `%ID`: the request's `unique-id-format` id.
    var uniqueID: String?

    init(frontend: String) { self.frontend = frontend }
}

func monotonicNow() -> NIODeadline { .now() }

func wallClockNow() -> timespec {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts
}

func millisecondsBetween(_ a: NIODeadline, _ b: NIODeadline) -> Int {
    Int((b.uptimeNanoseconds &- a.uptimeNanoseconds) / 1_000_000)
}
