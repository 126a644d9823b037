import Foundation
import XCTest

/// `server … send-proxy-v2 proxy-v2-options unique-id,authority,crc32c` and the `fc_pp_*`
/// fetches, against HAProxy 2.6 on loopback in both directions (connection/
/// proxy_protocol_send_unique_id.vtc's set-up): SwiftLB's header read by haproxy (which checks
/// the CRC32C and reads the TLVs), haproxy's header read by SwiftLB.
final class ProxyV2OptionsTests: XCTestCase {
    private let uniqueIDFormat = "    unique-id-format %{+X}o\\ TEST-%[req.hdr(in)]\n"

    private func receiver(_ port: Int) -> String {
        """
        frontend receiver
            bind 127.0.0.1:\(port) accept-proxy
            http-request return status 200 hdr x-uid "%[fc_pp_unique_id]" hdr x-auth "%[fc_pp_authority]"
        """
    }

    private func sender(_ port: Int, to receiverPort: Int, options: String) -> String {
        """
        frontend sender
            bind 127.0.0.1:\(port)
            default_backend to-receiver
        backend to-receiver
            server r 127.0.0.1:\(receiverPort) send-proxy-v2 proxy-v2-options \(options)
        """
    }

    private func ask(_ port: Int, _ value: String) throws -> String {
        let client = try RawClient(port: port, timeout: 3)
        client.send("GET / HTTP/1.1\r\nHost: h\r\nin: \(value)\r\nConnection: close\r\n\r\n")
        return client.readAll().text.lowercased()
    }

    /// haproxy receiving on a free port, SwiftLB sending to it with `uniqueIDFormat` (a frontend
    /// line) and `proxy-v2-options unique-id,crc32c`; the caller stops both.
    private func swiftLBSendingToHAProxy(_ uniqueIDFormat: String, in dir: TempDirectory) throws -> (haproxy: ChildProcess, lb: SwiftLBInstance, port: Int) {
        let (hp, lp) = (freePort(), freePort())
        let haproxy = try startHAProxy(haproxyDefaults + "\n" + receiver(hp), port: hp, in: dir)
        do {
            let lb = try SwiftLBInstance(config: testDefaults() + uniqueIDFormat + sender(lp, to: hp, options: "unique-id,crc32c"), waitPort: lp, in: dir)
            return (haproxy, lb, lp)
        } catch {
            haproxy.stop()
            throw error
        }
    }

    func testSwiftLBsHeaderIsReadByHAProxy() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let dir = try TempDirectory()
        let (haproxy, lb, lp) = try swiftLBSendingToHAProxy(uniqueIDFormat, in: dir)
        defer { haproxy.stop(); lb.stop() }
        for value in ["foo", "bar"] {
            let answer = try ask(lp, value)
            XCTAssertTrue(answer.hasPrefix("http/1.1 200"), answer.debugDescription)
            XCTAssertTrue(answer.contains("\r\nx-uid: test-\(value)\r\n"), answer.debugDescription)
        }
    }

    /// An id built from request headers is cut at HAProxy's 127 bytes (UNIQUEID_LEN): five
    /// copies of a 14 000-byte header made a TLV past 16 bits, which trapped the encoder.
    func testAUniqueIDMadeOfLongHeadersIsCutAt127Bytes() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let dir = try TempDirectory()
        let format = "    unique-id-format " + String(repeating: "%[req.hdr(in)]", count: 5) + "\n"
        let (haproxy, lb, lp) = try swiftLBSendingToHAProxy(format, in: dir)
        defer { haproxy.stop(); lb.stop() }
        for _ in 0..<2 {
            let answer = try ask(lp, String(repeating: "a", count: 14_000))
            XCTAssertTrue(answer.hasPrefix("http/1.1 200"), answer.prefix(200).debugDescription)
            XCTAssertTrue(answer.contains("\r\nx-uid: \(String(repeating: "a", count: 127))\r\n"), answer.prefix(400).debugDescription)
        }
        XCTAssertNil(lb.child.waitForExit(timeout: 0.1), "swiftlb lives: \(lb.child.stderr.suffix(400))")
    }

    func testHAProxysHeaderIsReadBySwiftLBAndItsAuthorityPassedOn() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let dir = try TempDirectory()
        // haproxy → SwiftLB (reads unique id and checksum, passes the authority on) → SwiftLB.
        let (hp, mid, last) = (freePort(), freePort(), freePort())
        let endConfig = testDefaults() + receiver(last).replacingOccurrences(of: "http-request return status 200", with: "http-request return status 200 hdr x-seen \"%[req.hdr(x-seen-uid)]\"")
        let end = try SwiftLBInstance(config: endConfig, waitPort: last, in: dir, name: "end")
        defer { end.stop() }
        let middle = """
            \(testDefaults())
            frontend middle
                bind 127.0.0.1:\(mid) accept-proxy
                http-request set-header x-seen-uid %[fc_pp_unique_id]
                default_backend on
            backend on
                server e 127.0.0.1:\(last) send-proxy-v2 proxy-v2-options authority,crc32c
            """
        let lb = try SwiftLBInstance(config: middle, waitPort: mid, in: dir, name: "middle")
        defer { lb.stop() }
        let haproxyConfig = haproxyDefaults + "\n" + uniqueIDFormat + sender(hp, to: mid, options: "unique-id,crc32c")
            .replacingOccurrences(of: "backend to-receiver\n", with: "backend to-receiver\n    http-request set-header x-x 1\n")
        let haproxy = try startHAProxy(haproxyConfig, port: hp, in: dir)
        defer { haproxy.stop() }
        let answer = try ask(hp, "foo")
        XCTAssertTrue(answer.hasPrefix("http/1.1 200"), answer.debugDescription)
        XCTAssertTrue(answer.contains("\r\nx-seen: test-foo\r\n"), answer.debugDescription)
        // The end saw no unique id (the middle does not send one) and no authority (haproxy sent none).
        XCTAssertTrue(answer.contains("\r\nx-uid: \r\n") || !answer.contains("x-uid:"), answer.debugDescription)
    }
}
