import Foundation

/// `Tests/fixtures/recording_server.py` on a loopback port: a correct HTTP/1.1 origin server
/// that records every request it parsed, byte for byte. What a proxy forwarded unframed shows
/// up as an extra request.
final class RecordingBackend {
    struct Request: Equatable {
        var connection: Int
        var index: Int
        var method: String
        var target: String
        /// Head and body exactly as received.
        var raw: String
        var body: String
        /// The PROXY protocol header the connection started with (empty: none).
        var proxy: [UInt8] = []
    }

    let port: Int
    /// The JSON-lines log recording_server.py appends to (read directly by the differential driver).
    let log: String
    private let child: ChildProcess

    init(in dir: TempDirectory) throws {
        port = freePort()
        log = dir.file("recording-\(port).jsonl")
        FileManager.default.createFile(atPath: log, contents: nil)
        child = try ChildProcess("/usr/bin/env", ["python3", Paths.fixtures.appendingPathComponent("recording_server.py").path, "\(port)", log],
                                 logDirectory: dir, name: "recording-\(port)")
        guard waitForPort(port) else { throw HarnessError("recording_server.py did not start: \(child.stderr)") }
    }

    /// Every request parsed so far, in arrival order.
    var requests: [Request] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let raw = (object["raw"] as? String).flatMap({ Data(base64Encoded: $0) }),
                  let body = (object["body"] as? String).flatMap({ Data(base64Encoded: $0) }) else { return nil }
            return Request(connection: object["conn"] as? Int ?? -1, index: object["index"] as? Int ?? -1,
                           method: object["method"] as? String ?? "", target: object["target"] as? String ?? "",
                           raw: String(decoding: raw, as: UTF8.self), body: String(decoding: body, as: UTF8.self),
                           proxy: (object["proxy"] as? String).flatMap { Data(base64Encoded: $0) }.map { Array($0) } ?? [])
        }
    }

    /// Waits (bounded) until at least `count` requests were recorded.
    func waitForRequests(_ count: Int, timeout: TimeInterval = 5) -> [Request] {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = requests
        while seen.count < count && Date() < deadline {
            usleep(20_000)
            seen = requests
        }
        return seen
    }

    func clear() { try? Data().write(to: URL(fileURLWithPath: log)) }

    func stop() { child.stop() }
}
