import Foundation
import XCTest

/// `spread-checks 50`: each check interval varies at random by up to ±50 %. Without it an
/// interval is never shorter than `inter` (a timer only ever fires late), so seeing several
/// intervals well below `inter` proves the spread; the checks are TCP connects to a listener
/// of this test that notes when each one arrives.
final class SpreadChecksTests: XCTestCase {
    func testSpreadChecksVariesTheIntervalBothWays() throws {
        let listener = try ArrivalListener()
        defer { listener.stop() }
        let dir = try TempDirectory()
        let (lb, _) = try startProxy(backend: "app", backends: """
            backend app
                server s1 127.0.0.1:\(listener.port) check inter 400ms

            """, global: "global\n    spread-checks 50\n", in: dir)
        defer { lb.stop() }
        _ = waitUntil(timeout: 30) { listener.arrivals.count >= 25 }
        let times = listener.arrivals
        XCTAssertGreaterThanOrEqual(times.count, 25, lb.child.stderr)
        let intervals = zip(times.dropFirst(), times).map { $0 - $1 }
        // Uniform in 200…600 ms, plus whatever a loaded machine adds to each check (a full
        // suite run once added ~100 ms to every one of them): an interval below `inter` can
        // only come from the spread. With 100 ms added, P(one interval < 400 ms) = 1/4 and
        // P(none of 24) < 0.001.
        XCTAssertTrue(intervals.contains { $0 < 0.4 }, "no interval below inter (400 ms): \(intervals)")
        XCTAssertTrue(intervals.contains { $0 > 0.45 }, "no interval above 450 ms: \(intervals)")
        XCTAssertTrue(intervals.allSatisfy { $0 > 0.15 }, "an interval below inter - 50 %: \(intervals)")
    }
}

/// `max-spread-checks`: the first checks of a farm are spread over at most that time, not
/// over `inter`: four servers checked every 20 s are all checked within the first 0.4 s with
/// `max-spread-checks 400ms`, and only the first of them without — in SwiftLB as in haproxy.
final class MaxSpreadChecksTests: XCTestCase {
    func testTheFirstChecksAreSpreadOverAtMostMaxSpreadChecks() throws {
        let dir = try TempDirectory()
        var seen: [String] = []
        for global in ["global\n    max-spread-checks 400ms\n", ""] {
            for who in ["swiftlb", "haproxy"] {
                // HTTP checks, each recorded (haproxy closes a bare TCP check with a reset the
                // listener may never see).
                let backend = try RecordingBackend(in: dir)
                defer { backend.stop() }
                let port = freePort()
                let servers = (1...4).map { "    server s\($0) 127.0.0.1:\(backend.port) check inter 20s\n" }.joined()
                let proxy = "listen l\n    bind 127.0.0.1:\(port)\n    option httpchk GET /check\n" + servers
                let child = try startEither(who, global + differentialHTTPDefaults + proxy, port: port, in: dir)
                defer { child.stop() }
                Thread.sleep(forTimeInterval: 1.5)
                seen.append("\(who) \(global.isEmpty ? "without" : "with"): \(backend.waitForRequests(4, timeout: 0.1).count)")
            }
        }
        XCTAssertEqual(seen, ["swiftlb with: 4", "haproxy with: 4", "swiftlb without: 1", "haproxy without: 1"])
    }
}

/// Accepts TCP connections on 127.0.0.1 and notes when each arrives (then closes it).
final class ArrivalListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var times: [TimeInterval] = []
    private var running = true

    var arrivals: [TimeInterval] { lock.withLock { times } }

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw HarnessError("cannot listen: \(errno)") }
        self.fd = fd
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread { [self] in acceptLoop() }.start()
    }

    private func acceptLoop() {
        while lock.withLock({ running }) {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            let now = Date().timeIntervalSince1970
            lock.withLock { times.append(now) }
            close(client)
        }
    }

    func stop() {
        lock.withLock { running = false }
        usleep(300_000)
        close(fd)
    }
}
