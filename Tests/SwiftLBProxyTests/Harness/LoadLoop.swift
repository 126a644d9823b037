import Foundation

/// A client looping GETs through the proxy in the background — one new connection per request,
/// as browsers reconnecting would — bounded by `maxRequests` and by `stop()`.
final class LoadLoop: @unchecked Sendable {
    private let port: Int
    private let path: String
    private let maxRequests: Int
    private let lock = NSLock()
    private var running = true
    private var results: [(status: Int, body: String)] = []
    private let finished = DispatchSemaphore(value: 0)

    init(port: Int, path: String = "/", maxRequests: Int = 20000) {
        self.port = port
        self.path = path
        self.maxRequests = maxRequests
    }

    func start() {
        Thread { [self] in
            for _ in 0..<maxRequests {
                guard lock.withLock({ running }) else { break }
                var status = 0, body = ""
                if let client = try? RawClient(port: port, timeout: 5) {
                    client.send("GET \(path) HTTP/1.1\r\nHost: hipchat.example.test\r\nConnection: close\r\n\r\n")
                    let text = client.readAll().text
                    status = statusCode(text)
                    body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined()
                }
                lock.withLock { results.append((status, body)) }
                usleep(5_000)
            }
            finished.signal()
        }.start()
    }

    /// Stops the loop and returns every (status, body) it saw.
    func stop() -> [(status: Int, body: String)] {
        lock.withLock { running = false }
        finished.wait()
        return lock.withLock { results }
    }

    var count: Int { lock.withLock { results.count } }
    /// Bodies of the responses since `index`.
    func bodies(since index: Int) -> [String] { lock.withLock { results[min(index, results.count)...].map(\.body) } }
}

/// Polls `condition` every 50 ms for at most `timeout` seconds; returns the seconds it took,
/// or nil if it never held.
func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> TimeInterval? {
    let start = Date()
    while Date().timeIntervalSince(start) < timeout {
        if condition() { return Date().timeIntervalSince(start) }
        usleep(50_000)
    }
    return nil
}
