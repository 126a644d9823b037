import Foundation

/// A throwaway origin server on loopback for tests whose server must send headers no fixture
/// sends: Python reads each request head and sends the bytes `answer(path)` returns (a Python
/// function over the request target, as bytes), then closes. Bounded: it serves 200
/// connections at most.
final class PythonOrigin {
    let port: Int
    private let child: ChildProcess

    /// `answer`: the text of `def answer(path): …` returning the whole response as bytes.
    init(answer: String, in dir: TempDirectory) throws {
        port = freePort()
        let script = answer + """

            import socket, sys, threading
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
            def serve(c):
                data = b""
                while b"\\r\\n\\r\\n" not in data:
                    more = c.recv(4096)
                    if not more: return c.close()
                    data += more
                c.sendall(answer(data.split(b" ")[1]))
                c.close()
            for _ in range(200):
                conn, _ = s.accept(); threading.Thread(target=serve, args=(conn,)).start()
            """
        child = try ChildProcess("/usr/bin/env", ["python3", try dir.write("origin-\(port).py", script), "\(port)"], logDirectory: dir, name: "origin-\(port)")
        guard waitForPort(port) else { throw HarnessError("the Python origin did not start: \(child.stderr)") }
    }

    func stop() { child.stop() }
}

/// The status code of a closing GET of `path`, or nil when nothing listens.
func statusOfClosingGET(_ port: Int, _ path: String) -> Int? {
    guard let client = try? RawClient(port: port, timeout: 5) else { return nil }
    client.send("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return client.readAll().text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
}
