import Foundation
import XCTest

/// Bodies stream through the proxy in both directions with backpressure: large transfers
/// arrive intact (SHA-256) while the proxy's memory stays flat.
final class StreamingTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func sha256(_ path: String) -> String {
        String(runCommand("/usr/bin/sha256sum", [path]).out.prefix(64))
    }

    /// 1 GiB up (chunked) and 1 GiB down (Content-Length), RSS sampled every 100 ms.
    func testOneGiBUploadAndDownloadWithFlatMemory() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let big = nginx.root + "/www/big.bin"
        XCTAssertEqual(runCommand("/bin/sh", ["-c", "head -c 1073741824 /dev/urandom > \(big)"]).status, 0)
        let expected = sha256(big)

        let (lb, port) = try startProxy(backend: "files", backends: """
            backend files
                server n 127.0.0.1:\(nginx.ports[0])
            backend upload
                server s 127.0.0.1:\(stream.port)
            """, frontendExtra: """
                use_backend upload if { method POST PUT }
            """, server: "30s", in: dir)
        defer { lb.stop() }

        let sampler = RSSSampler(pid: lb.child.pid)
        sampler.start()
        let down = dir.file("down.bin")
        let get = curl(["-o", down, "-w", "%{http_code}", "http://127.0.0.1:\(port)/big.bin"], maxTime: 300)
        XCTAssertEqual(get.out, "200", get.err)
        XCTAssertEqual(sha256(down), expected, "download corrupted")
        try? FileManager.default.removeItem(atPath: down)

        let put = curl(["-T", big, "-H", "Transfer-Encoding: chunked", "http://127.0.0.1:\(port)/hash"], maxTime: 300)
        XCTAssertEqual(put.out, "\(expected) 1073741824\n", put.err)
        let peak = sampler.stop()
        // Two 1 GiB transfers through a proxy whose idle RSS is a few tens of MiB.
        XCTAssertLessThan(peak, 200 * 1024, "peak RSS \(peak) KiB: bodies are being buffered")
        print("1 GiB up+down: swiftlb peak RSS \(peak / 1024) MiB")
    }

    func testChunkedResponseAndExpectContinue() throws {
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                server s 127.0.0.1:\(stream.port)
            """, in: dir)
        defer { lb.stop() }

        // Chunked download: same bytes as fetched directly.
        let via = dir.file("via.bin"), direct = dir.file("direct.bin")
        curl(["-o", via, "http://127.0.0.1:\(port)/chunked?size=67108864&seed=7"], maxTime: 120)
        curl(["-o", direct, "http://127.0.0.1:\(stream.port)/chunked?size=67108864&seed=7"], maxTime: 120)
        XCTAssertEqual(sha256(via), sha256(direct))
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: via)[.size] as? Int), 67108864)

        // Expect: 100-continue: the server's 100 reaches the client, then the body flows.
        let body = dir.file("body.bin")
        runCommand("/bin/sh", ["-c", "head -c 3000000 /dev/urandom > \(body)"])
        let result = curl(["-v", "-H", "Expect: 100-continue", "--data-binary", "@\(body)", "http://127.0.0.1:\(port)/hash"], maxTime: 60)
        XCTAssertEqual(result.out, "\(sha256(body)) 3000000\n")
        XCTAssertTrue(result.err.contains("HTTP/1.1 100 Continue"), result.err)
    }
}

/// Samples a process's RSS in the background; `stop()` returns the peak in KiB.
final class RSSSampler: @unchecked Sendable {
    private let pid: Int32
    private var peak = 0
    private var running = true
    private let lock = NSLock()
    private var thread: Thread?

    init(pid: Int32) { self.pid = pid }

    func start() {
        let t = Thread { [self] in
            while lock.withLock({ running }) {
                let rss = Self.rss(pid)
                lock.withLock { peak = max(peak, rss) }
                usleep(100_000)
            }
        }
        thread = t
        t.start()
    }

    func stop() -> Int {
        lock.withLock { running = false }
        usleep(150_000)
        return lock.withLock { peak }
    }

    static func rss(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }
}

/// A response whose body is empty by `Content-Length: 0` ends with its head: the exchange
/// finishes at once (the next request of the keep-alive connection is served, the server
/// connection goes back to the pool), not when the server closes or `timeout server` fires —
/// found by HAProxy's reg-test http-cookies/cookie_insert_indirect, which logged `SD`.
final class EmptyBodyResponseTests: XCTestCase {
    func testAContentLengthZeroResponseEndsWithItsHead() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: "backend app\n    server s1 127.0.0.1:\(backend.port)\n",
                                        server: "30s", in: dir)
        defer { lb.stop() }
        let client = try RawClient(port: port, timeout: 3)
        for target in ["/empty", "/empty", "/after"] {
            let started = Date()
            client.send("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n")
            let head = client.read(until: "\r\n\r\n")
            XCTAssertEqual(statusCode(head), 200, "\(target): \(head)")
            XCTAssertLessThan(Date().timeIntervalSince(started), 2.5, "\(target) waited for the server (timeout server is 30 s)")
        }
        XCTAssertEqual(backend.requests.map(\.target), ["/empty", "/empty", "/after"])
        XCTAssertEqual(Set(backend.requests.map(\.connection)).count, 1, "one pooled server connection for the three")
        lb.waitForAccessLog { $0.components(separatedBy: " 200 ").count - 1 >= 3 }
        XCTAssertEqual(lb.accessLog.components(separatedBy: " 200 ").count - 1, 3, lb.accessLog)
        XCTAssertFalse(lb.accessLog.contains(" SD"), lb.accessLog)
    }
}
