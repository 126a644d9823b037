import Foundation
import XCTest

/// Half-closes and backpressure through a `mode tcp` tunnel (the same splice a WebSocket uses
/// after its 101), against raw TCP servers on loopback (Tests/fixtures/tunnel_peer.py): a FIN
/// from either side is passed on while the other direction keeps flowing, `timeout
/// client-fin`/`server-fin` end what is left, and a server that stops reading holds its client
/// back instead of making SwiftLB buffer what the client sends.
final class TunnelHalfCloseTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// SwiftLB in `mode tcp` in front of `port`, with the given `timeout` lines.
    private func pipe(to port: Int, timeouts: [String]) throws -> (SwiftLBInstance, Int) {
        let lbPort = freePort()
        let lb = try SwiftLBInstance(config: """
            defaults
                mode tcp
                option tcplog
                timeout connect 2s
            \(timeouts.map { "    timeout " + $0 }.joined(separator: "\n"))
            listen pipe
                bind 127.0.0.1:\(lbPort)
                server s1 127.0.0.1:\(port)

            """, waitPort: lbPort, in: dir)
        return (lb, lbPort)
    }

    /// The client sends its request and shuts its write side; the server sees EOF and answers
    /// after it, and the answer reaches the client. The server then stays silent with its side
    /// open: `timeout client-fin 2s` ends the session, long before `timeout tunnel 20s`.
    func testTheServerAnswersAfterTheClientsFINAndClientFinEndsTheRest() throws {
        let server = try TunnelPeer(mode: "answer-after-eof", in: dir)
        defer { server.stop() }
        let (lb, port) = try pipe(to: server.port, timeouts: ["client 30s", "server 30s", "tunnel 20s", "client-fin 2s"])
        defer { lb.stop() }
        let client = try RawClient(port: port, timeout: 12)
        client.send(String(repeating: "q", count: 100_000))
        client.shutdownWrite()
        XCTAssertEqual(server.line(startingWith: "eof 100000", timeout: 10), "eof 100000",
                       "the client's FIN must reach the server after its bytes: \(server.child.stdout)")
        let answer = client.read(until: "\n")
        XCTAssertEqual(answer, "received 100000 bytes\n", "the server's answer after the client's FIN must reach the client")
        let quiet = Date()
        let (rest, closed) = client.readAll()
        let after = Date().timeIntervalSince(quiet)
        XCTAssertTrue(closed, "timeout client-fin 2s must end the half-closed session; still open after \(after) s")
        XCTAssertEqual(rest, "")
        XCTAssertGreaterThan(after, 1.5, "closed before client-fin 2 s")
        XCTAssertLessThan(after, 10, "client-fin 2 s, not tunnel 20 s")
    }

    /// The server says goodbye and shuts its write side first: the client reads the bytes
    /// then EOF, and can still send, which reaches the server. Then `timeout server-fin 2s`
    /// ends the session, which the server sees as EOF.
    func testAServerFINIsPassedOnTheClientCanStillSendAndServerFinEndsTheRest() throws {
        let server = try TunnelPeer(mode: "fin-first", in: dir)
        defer { server.stop() }
        let (lb, port) = try pipe(to: server.port, timeouts: ["client 30s", "server 30s", "tunnel 20s", "server-fin 2s"])
        defer { lb.stop() }
        let client = try RawClient(port: port, timeout: 8)
        let (goodbye, finished) = client.readAll()
        XCTAssertEqual(goodbye, "bye\n")
        XCTAssertTrue(finished, "the server's FIN must reach the client")
        client.send("after-fin\n")
        XCTAssertEqual(server.line(startingWith: "got", timeout: 5), "got after-fin",
                       "the client's side is still open after the server's FIN: its bytes must reach the server")
        let ended = try XCTUnwrap(server.line(startingWith: "closed after", after: "got after-fin", timeout: 15),
                                  "timeout server-fin 2s must end the half-closed session: \(server.child.stdout)")
        let after = try XCTUnwrap(Double(ended.dropFirst("closed after ".count)))
        XCTAssertGreaterThan(after, 1.5, "closed before server-fin 2 s")
        XCTAssertLessThan(after, 10, "server-fin 2 s, not tunnel 20 s")
    }

    /// A server that stops reading: the client pushes into the tunnel until the kernel
    /// buffers on the path are full, then it is held back; SwiftLB's resident memory grows by
    /// far less than what the client tried to push (64 MiB). Once the server reads again,
    /// every byte the client got in arrives.
    func testAServerThatStopsReadingHoldsTheClientBack() throws {
        let server = try TunnelPeer(mode: "read-on-signal", in: dir)
        defer { server.stop() }
        let (lb, port) = try pipe(to: server.port, timeouts: ["client 30s", "server 30s", "tunnel 60s"])
        defer { lb.stop() }
        // One session first, so what a session costs anyway is in the baseline.
        let warm = try RawClient(port: port, timeout: 5)
        warm.send("warm-up")
        usleep(300_000)
        let before = lb.child.rssKiB
        let client = try RawClient(port: port, timeout: 5)
        let limit = 64 << 20
        let (pushed, blocked) = client.push(limit: limit, stall: 2, deadline: 60)
        let peak = lb.child.statusKiB("VmHWM")
        print("stalled tunnel: the client got \(pushed) bytes in; SwiftLB RSS \(before) KiB before, peak \(peak) KiB")
        XCTAssertTrue(blocked, "the client must be held back; it pushed \(pushed) bytes")
        XCTAssertLessThan(pushed, limit, "all 64 MiB went in: something on the path buffers without bound")
        XCTAssertLessThan(peak - before, 16 * 1024,
                          "SwiftLB's peak RSS grew from \(before) KiB to \(peak) KiB while the client pushed \(pushed) bytes into a stalled tunnel")
        // Backpressure releases: the server reads, and gets every byte the client got in.
        client.shutdownWrite()
        warm.shutdownWrite()
        server.child.signal(SIGUSR1)
        XCTAssertNotNil(waitUntil(timeout: 30) { server.child.stdout.contains("received \(pushed)\n") },
                        "the server must get all \(pushed) bytes once it reads: \(server.child.stdout)")
    }
}
