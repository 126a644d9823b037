import Foundation
import NIOEmbedded
import SwiftLBLog
import XCTest

/// What a log line costs: rendering alone, and rendering plus sending through a LogSink to a
/// UDP syslog receiver, batched per loop iteration (one sendmmsg) or not (one per line), and
/// to /dev/null as a descriptor target. A measurement, not a test: it runs only when asked,
/// in a release build, and prints its numbers (docs/benchmarks.md keeps them):
///
///     SWIFTLB_LOG_MEASURE=1 swift test -c release --filter LogCostMeasurements
///
/// With ALLOC_COUNT_FILE and LD_PRELOAD set to Tests/fixtures/alloc/malloc_counter.c's library
/// it also reports heap allocations per line.
final class LogCostMeasurements: XCTestCase {
    /// This thread's CPU time (user and system): what a line costs the event loop, unmoved by
    /// other processes on a shared machine (wall time there is mostly waiting for a core).
    private func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private func allocations() -> Int? {
        guard let path = ProcessInfo.processInfo.environment["ALLOC_COUNT_FILE"] else { return nil }
        usleep(150_000)  // the counter writes every 50 ms
        return Int((try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
    }

    /// Runs `body` `count` times; prints and returns ns per call (and allocations per call).
    @discardableResult
    private func measure(_ name: String, _ count: Int, _ body: () -> Void) -> Double {
        for _ in 0..<1000 { body() }  // warm caches and buffers
        let before = allocations()
        let start = nanoseconds()
        for _ in 0..<count { body() }
        let ns = Double(nanoseconds() - start) / Double(count)
        let after = allocations()
        let allocs = before.flatMap { b in after.map { String(format: ", %.2f allocations", Double($0 - b - 0) / Double(count)) } } ?? ""
        print(String(format: "log cost: %@: %.0f ns of CPU per line%@", name, ns, allocs))
        return ns
    }

    func testCostPerLine() throws {
        guard ProcessInfo.processInfo.environment["SWIFTLB_LOG_MEASURE"] != nil else {
            throw XCTSkip("a measurement: SWIFTLB_LOG_MEASURE=1 swift test -c release --filter LogCostMeasurements")
        }
        var record = HAProxyLines.httplog(LogFormatRenderTests.httplogLines[0])
        record.acceptDate = .now
        var buffer = LogBuffer()
        measure("render httplog", 1_000_000) { buffer.removeAll(); LogFormat.httplog.render(record, into: &buffer) }
        measure("render JSON", 1_000_000) { buffer.removeAll(); LogFormat.json.render(record, into: &buffer) }
        let tcp = HAProxyLines.tcplog("127.0.0.1:42598 [29/Nov/2026:22:59:15.640] fetcp betcp/s1 1/0/205 62 -- 1/1/0/0/0 0/0")
        measure("render tcplog", 1_000_000) { buffer.removeAll(); LogFormat.tcplog.render(tcp, into: &buffer) }
        // SWIFTLB_LOG_MEASURE=render stops here: `perf stat -e instructions` then counts rendering.
        if ProcessInfo.processInfo.environment["SWIFTLB_LOG_MEASURE"] == "render" { return }

        // A UDP syslog server that reads as fast as it can, on its own thread.
        let receiver = try DatagramReceiver()
        var size: Int32 = 8 << 20
        setsockopt(receiver.fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        let received = Locked(0)
        let stop = Locked(false)
        let reader = Thread {
            var b = [UInt8](repeating: 0, count: 2048)
            while !stop.withLock({ $0 }) {
                var p = pollfd(fd: receiver.fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 50) == 1 else { continue }
                while recv(receiver.fd, &b, b.count, Int32(MSG_DONTWAIT)) > 0 { received.withLock { $0 += 1 } }
            }
        }
        reader.start()
        defer { stop.withLock { $0 = true } }

        let loop = EmbeddedEventLoop()
        let udp = LogSink(targets: [try LogTarget(words: ["127.0.0.1:\(receiver.port)", "format", "rfc3164", "local0"])], eventLoop: loop)
        var n = 0
        measure("render + rfc3164 header + UDP, 64 lines per sendmmsg", 300_000) {
            udp.log(record, format: .httplog)
            n += 1
            if n % 64 == 0 { udp.flush() }
        }
        udp.flush()
        measure("render + rfc3164 header + UDP, one sendmmsg per line", 300_000) {
            udp.log(record, format: .httplog)
            udp.flush()
        }
        print("log cost: UDP sink counters \(udp.counters), received \(received.withLock { $0 })")

        let null = open("/dev/null", O_WRONLY)
        defer { close(null) }
        let file = LogSink(targets: [try LogTarget(words: ["fd@\(null)", "format", "raw", "local0"])], eventLoop: loop)
        n = 0
        measure("render + write to /dev/null, 64 lines per write", 1_000_000) {
            file.log(record, format: .httplog)
            n += 1
            if n % 64 == 0 { file.flush() }
        }
    }
}
