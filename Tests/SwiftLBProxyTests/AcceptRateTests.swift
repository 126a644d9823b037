import Foundation
import XCTest

/// `rate-limit sessions` and `maxconnrate`: a burst of clients is taken in at the rate set,
/// the rest waiting in the listener's backlog (answered later, not refused) — compared with
/// haproxy on the same configuration.
final class AcceptRateTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// `count` clients connect at once and each sends one request: the seconds each waited for
    /// its whole response (-1: none), sorted.
    private func burst(_ port: Int, count: Int) -> [Double] {
        let script = """
            import socket, sys, threading, time
            port, count = int(sys.argv[1]), int(sys.argv[2])
            start, times = time.monotonic(), []
            def one(i):
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=10)
                    s.sendall(b"GET /burst-%d HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n" % i)
                    data = b""
                    while True:
                        d = s.recv(65536)
                        if not d: break
                        data += d
                    times.append(time.monotonic() - start if data.startswith(b"HTTP/1.1 200") else -1)
                except OSError:
                    times.append(-1)
            threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
            for t in threads: t.start()
            for t in threads: t.join()
            print(" ".join("%.3f" % t for t in sorted(times)))
            """
        let out = runCommand("/usr/bin/python3", ["-c", script, String(port), String(count)], timeout: 30).out
        return out.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    func testABurstIsTakenInAtTheRateSetAsByHAProxy() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let limit = 4, clients = 16
        for (name, global, proxy) in [("rate-limit sessions", "", "    rate-limit sessions \(limit)\n"), ("maxconnrate", "global\n    maxconnrate \(limit)\n", "")] {
            let pair = try SideBySide({ port in
                "\(global)listen l\n    bind 127.0.0.1:\(port)\n\(proxy)    server s 127.0.0.1:\(backend.port)\n"
            }, in: dir)
            defer { pair.stop() }
            for (who, port) in zip(["SwiftLB", "haproxy"], pair.ports) {
                let times = burst(port, count: clients)
                XCTAssertEqual(times.count, clients, "\(name), \(who): \(times)")
                XCTAssertFalse(times.contains(-1), "\(name), \(who): every client is answered, none refused: \(times)")
                // HAProxy's counter: `limit` at once, then one more each 1/limit s (the previous
                // second's events weigh less as it passes): the first 0.2 s take in at most
                // limit + 1 per accepting thread (haproxy: 2), and the burst lasts at least (clients - 3 × limit) / limit s.
                XCTAssertLessThanOrEqual(times.filter { $0 < 0.2 }.count, 2 * (limit + 1), "\(name), \(who): \(times)")
                XCTAssertGreaterThanOrEqual(times.last ?? 0, Double(clients - 3 * limit) / Double(limit) - 0.3, "\(name), \(who): \(times)")
                XCTAssertLessThan(times.last ?? 99, 6, "\(name), \(who): \(times)")
            }
        }
    }
}
