import Foundation
import XCTest

/// Half-closes and backpressure through a `mode tcp` tunnel (the same splice a WebSocket uses
/// after its 101), against raw TCP servers on loopback (Tests/fixtures/tunnel_peer.py): a FIN
/// from either side is passed on while the other direction keeps flowing, `timeout
/// client-fin`/`server-fin` end what is left (HAProxy's meaning: the timeout of the side still
/// expected to finish), and a server that stops reading holds its client back instead of
/// making SwiftLB buffer what the client sends.
final class TunnelHalfCloseTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// SwiftLB in `mode tcp` in front of `port`, with the given `timeout` lines.
    private func pipe(to port: Int, timeouts: [String], server params: String = "") throws -> (SwiftLBInstance, Int) {
        let lbPort = freePort()
        let lb = try SwiftLBInstance(config: """
            defaults
                mode tcp
                option tcplog
                timeout connect 2s
            \(timeouts.map { "    timeout " + $0 }.joined(separator: "\n"))
            listen pipe
                bind 127.0.0.1:\(lbPort)
                server s1 127.0.0.1:\(port) \(params)

            """, waitPort: lbPort, in: dir)
        return (lb, lbPort)
    }

    /// The client sends its request and shuts its write side; the server sees EOF and answers
    /// after it, and the answer reaches the client. The server then stays silent with its side
    /// open: as in HAProxy, the side still expected to finish is the server, so `timeout
    /// server-fin 2s` ends the session — not `client-fin 15s`, nor `tunnel 20s`.
    func testTheServerAnswersAfterTheClientsFINAndServerFinEndsTheRest() throws {
        let server = try TunnelPeer(mode: "answer-after-eof", in: dir)
        defer { server.stop() }
        let (lb, port) = try pipe(to: server.port, timeouts: ["client 30s", "server 30s", "tunnel 20s", "server-fin 2s", "client-fin 15s"])
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
        XCTAssertTrue(closed, "timeout server-fin 2s must end the half-closed session; still open after \(after) s")
        XCTAssertEqual(rest, "")
        XCTAssertGreaterThan(after, 1.5, "closed before server-fin 2 s")
        XCTAssertLessThan(after, 10, "server-fin 2 s, not client-fin 15 s nor tunnel 20 s")
        usleep(200_000)
        let line = try XCTUnwrap(lb.accessLog.split(separator: "\n").first { $0.contains(" sD ") },
                                 "the server timed out in the data phase: \(lb.accessLog)")
        // tcplog's Tw/Tc/Tt, as HAProxy prints a session that connected at once: 1/0/… (Tw is
        // the queue time plus one for a TCP stream), never -1/-1/… (no server reached).
        let timers = line.split(separator: " ")[4].split(separator: "/").compactMap { Int($0) }
        XCTAssertEqual(timers.count, 3, String(line))
        XCTAssertEqual(timers.first, 1, String(line))
        XCTAssertTrue((0...1000).contains(timers.dropFirst().first ?? -1), "Tc: \(line)")
    }

    /// The server says goodbye and shuts its write side first: the client reads the bytes
    /// then EOF, and can still send, which reaches the server. Then the client, the side still
    /// expected to finish, stays silent: `timeout client-fin 2s` ends the session (not
    /// `server-fin 15s`), which the server sees as EOF.
    func testAServerFINIsPassedOnTheClientCanStillSendAndClientFinEndsTheRest() throws {
        let server = try TunnelPeer(mode: "fin-first", in: dir)
        defer { server.stop() }
        let (lb, port) = try pipe(to: server.port, timeouts: ["client 30s", "server 30s", "tunnel 20s", "client-fin 2s", "server-fin 15s"])
        defer { lb.stop() }
        let client = try RawClient(port: port, timeout: 8)
        let (goodbye, finished) = client.readAll()
        XCTAssertEqual(goodbye, "bye\n")
        XCTAssertTrue(finished, "the server's FIN must reach the client")
        client.send("after-fin\n")
        XCTAssertEqual(server.line(startingWith: "got", timeout: 5), "got after-fin",
                       "the client's side is still open after the server's FIN: its bytes must reach the server")
        let ended = try XCTUnwrap(server.line(startingWith: "closed after 10 bytes, idle ", timeout: 15),
                                  "timeout client-fin 2s must end the half-closed session: \(server.child.stdout)")
        let after = try XCTUnwrap(Double(ended.dropFirst("closed after 10 bytes, idle ".count)))
        XCTAssertGreaterThan(after, 1.5, "closed before client-fin 2 s")
        XCTAssertLessThan(after, 10, "client-fin 2 s, not server-fin 15 s nor tunnel 20 s")
        XCTAssertTrue(lb.accessLog.contains(" cD "), "the client timed out in the data phase: \(lb.accessLog)")
    }

    /// A one-shot client writes its request and shuts its side while its session still waits
    /// for a server (here queued behind `maxconn 1`): the request and then the FIN reach the
    /// server once the slot frees, and the answer reaches the client. (SwiftLB used to take
    /// that early FIN for an abort, dropping the request, logged CC.)
    func testAClientThatFinishesBeforeItsServerIsThereStillGetsItsAnswer() throws {
        let server = try TunnelPeer(mode: "answer-after-eof", in: dir)
        defer { server.stop() }
        let (lb, port) = try pipe(to: server.port, timeouts: ["client 30s", "server 30s", "queue 10s", "server-fin 1s"], server: "maxconn 1")
        defer { lb.stop() }
        // The first session takes the only slot; it ends 1 s (server-fin) after its answer.
        let first = try RawClient(port: port, timeout: 10)
        first.send("first")
        usleep(300_000)
        let second = try RawClient(port: port, timeout: 10)
        second.send("second-request")
        second.shutdownWrite()
        usleep(300_000)
        first.shutdownWrite()
        XCTAssertEqual(first.read(until: "\n"), "received 5 bytes\n")
        XCTAssertEqual(second.read(until: "\n"), "received 14 bytes\n", "the queued client's request and FIN must reach the server: \(lb.accessLog)")
        XCTAssertNotNil(server.line(startingWith: "eof 14", timeout: 5), server.child.stdout)
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
