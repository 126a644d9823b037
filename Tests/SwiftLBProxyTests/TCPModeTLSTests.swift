import Foundation
import XCTest

/// `mode tcp` behind `bind … ssl`: TLS terminated, the plain bytes spliced to the server. The
/// session starts once the handshake is done (HAProxy starts a stream on an established
/// connection), so a refused hello gets its TLS alert and a stalled handshake ends at
/// `timeout client`.
final class TCPModeTLSTests: XCTestCase {
    var dir: TempDirectory!
    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func certificate() throws -> String {
        let pem = dir.file("redis.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["redis.example.test", pem]).status, 0)
        return pem
    }

    private func python(_ script: String, _ arguments: [String]) -> (status: Int32, out: String) {
        let path = (try? dir.write("client-\(UUID().uuidString.prefix(6)).py", script)) ?? ""
        let r = runCommand("/usr/bin/timeout", ["20", "python3", path] + arguments)
        return (r.status, r.out + r.err)
    }

    /// redis-cli --tls through SwiftLB to a plain Redis.
    func testRedisOverTLSTerminatedInTCPMode() throws {
        let pem = try certificate()
        let redis = try RedisBackend(in: dir)
        defer { redis.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: TCPModeTests.tcpDefaults + """

            frontend redis_tls
                bind 127.0.0.1:\(port) ssl crt \(pem)
                default_backend redis
            backend redis
                server r1 127.0.0.1:\(redis.port)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let set = runCommand("/usr/bin/timeout", ["5", "redis-cli", "--tls", "--cacert", pem, "--sni", "redis.example.test",
                                                   "-h", "127.0.0.1", "-p", "\(port)", "SET", "k", "over-tls"])
        XCTAssertEqual(set.out.trimmingCharacters(in: .whitespacesAndNewlines), "OK", set.out + set.err)
        let plain = runCommand("/usr/bin/timeout", ["5", "redis-cli", "-h", "127.0.0.1", "-p", "\(redis.port)", "GET", "k"])
        XCTAssertEqual(plain.out.trimmingCharacters(in: .whitespacesAndNewlines), "over-tls", "the server got the plain command")
    }

    /// A frontend with nowhere to send the session (no backend) still answers the TLS layer:
    /// a TLS 1.1 hello gets the protocol_version alert (not a reset), a TLS 1.2+ client
    /// completes its handshake and then sees the connection close. A client that connects and
    /// never says hello is closed at `timeout client`.
    func testTheHandshakeComesBeforeTheSessionDecides() throws {
        let pem = try certificate()
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            defaults
                mode tcp
                timeout connect 1s
                timeout client 1s
                timeout server 5s
            frontend tls_nowhere
                bind 127.0.0.1:\(port) ssl crt \(pem)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let result = python("""
            import socket, ssl, sys, time
            port = int(sys.argv[1])
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.check_hostname = False
            old.verify_mode = ssl.CERT_NONE
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
            try:
                old.set_ciphers("ALL:@SECLEVEL=0")
            except ssl.SSLError:
                pass
            try:
                with old.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5)) as s:
                    print("old: handshake completed")
            except ssl.SSLError as e:
                print("old: alert", e.reason)
            except (ConnectionResetError, BrokenPipeError) as e:
                print("old: reset", e)
            new = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            new.check_hostname = False
            new.verify_mode = ssl.CERT_NONE
            with new.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5)) as s:
                print("new: handshake", s.version())
                try:
                    print("new: read", repr(s.recv(10)))
                except (ssl.SSLError, ConnectionResetError) as e:
                    print("new: closed", type(e).__name__)
            silent = socket.create_connection(("127.0.0.1", port), timeout=5)
            start = time.monotonic()
            try:
                data = silent.recv(10)
                print("silent: closed after %.1f s" % (time.monotonic() - start), repr(data))
            except ConnectionResetError:
                print("silent: reset after %.1f s" % (time.monotonic() - start))
            """, ["\(port)"])
        XCTAssertEqual(result.status, 0, result.out)
        XCTAssertTrue(result.out.contains("old: alert"), "a refused hello gets an alert: \(result.out)")
        XCTAssertTrue(result.out.contains("new: handshake TLSv1."), result.out)
        XCTAssertTrue(result.out.contains("new: read b''") || result.out.contains("new: closed"), result.out)
        guard let line = result.out.split(separator: "\n").first(where: { $0.hasPrefix("silent:") }),
              let seconds = line.split(separator: " ").dropFirst(3).first.flatMap({ Double($0) }) else {
            return XCTFail("no verdict for the silent client: \(result.out)")
        }
        XCTAssertGreaterThanOrEqual(seconds, 0.8, "closed at timeout client (1 s), not at once: \(line)")
        XCTAssertLessThan(seconds, 4.5, "closed at timeout client (1 s), not never: \(line)")
    }
}
