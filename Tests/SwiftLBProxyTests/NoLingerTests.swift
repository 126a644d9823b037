import Foundation
import XCTest

/// `option nolinger` beside HAProxy 2.6: a client connection the proxy closes after the client
/// has ended its side resets (SO_LINGER 0: an RST on the wire, ECONNRESET for the client),
/// while a close after a `Connection: close` answer or at `timeout http-keep-alive` stays
/// clean, the answer whole; without the
/// option the close is a FIN.
final class NoLingerTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// A request; then, for keep-alive, the client's FIN after the answer. What the client reads.
    private func exchange(_ port: Int, close: Bool) throws -> (text: String, reset: Bool) {
        let client = try RawClient(port: port, timeout: 3)
        client.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: \(close ? "close" : "keep-alive")\r\n\r\n")
        var text = ""
        if !close {
            text = client.readResponse()
            client.shutdownWrite()
        }
        // Let the proxy's close reach us before reading on (a reset must be there by then).
        usleep(300_000)
        let rest = client.readToEnd()
        return (text + rest.text, rest.reset)
    }

    func testNoLingerResetsAsHAProxyDoes() throws {
        let both = try SideBySide({ port, other in
            """
                frontend fe
                    bind 127.0.0.1:\(port)
                    option nolinger
                    timeout http-keep-alive 300ms
                    http-request return status 200 content-type text/plain string hello
                frontend fe_plain
                    bind 127.0.0.1:\(other)
                    http-request return status 200 content-type text/plain string hello
                """
        }, in: dir)
        defer { both.stop() }
        for (port, other) in zip(both.ports, both.secondPorts) {
            let kept = try exchange(port, close: false)
            XCTAssertTrue(kept.text.hasSuffix("hello"), "port \(port): \(kept.text)")
            XCTAssertTrue(kept.reset, "port \(port): the close after the client's FIN is a reset")
            let closed = try exchange(port, close: true)
            XCTAssertTrue(closed.text.hasSuffix("hello"), "port \(port): \(closed.text)")
            XCTAssertFalse(closed.reset, "port \(port): a close after 'Connection: close' is clean")
            let normal = try exchange(other, close: false)
            XCTAssertTrue(normal.text.hasSuffix("hello"), "port \(other): \(normal.text)")
            XCTAssertFalse(normal.reset, "port \(other): without nolinger the close is a FIN")
            // An idle keep-alive connection ended by `timeout http-keep-alive`: a FIN in both.
            let idle = try RawClient(port: port, timeout: 3)
            idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertTrue(idle.readResponse().hasSuffix("hello"), "port \(port)")
            usleep(900_000)
            let ended = idle.readToEnd()
            XCTAssertTrue(ended.text.isEmpty, "port \(port): \(ended.text)")
            XCTAssertFalse(ended.reset, "port \(port): the keep-alive timeout closes with a FIN")
        }
    }
}
