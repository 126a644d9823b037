import Foundation
import NIOCore
import NIOEmbedded
import XCTest
@testable import SwiftLBTLS

/// The TLS handler in memory: handshakes, SNI and ALPN, refusals, certificate files.
final class TLSHandlerTests: TLSTestCase {
    func testHandshakeDataBothWaysALPNAndSNI() throws {
        let a = try TLSCertificate(path: makeCert("a.example.test"))
        let b = try TLSCertificate(path: makeCert("b.example.test", kind: "rsa"))
        var settings = TLSSettings()
        settings.alpn = ["http/1.1"]
        let server = try TLSServerContext(certificates: [a, b], settings: settings)
        let client = try TLSClientContext(caFile: dir.appendingPathComponent("b.example.test.pem").path, alpn: ["h2", "http/1.1"])
        let pair = try makePair(server: server, client: client, sni: "www.b.example.test")
        try pair.pump()
        XCTAssertEqual(pair.serverRecorder.events.first?.alpn, "http/1.1")
        XCTAssertEqual(pair.serverRecorder.events.first?.serverName, "www.b.example.test")
        XCTAssertEqual(pair.clientRecorder.events.count, 1, "the client verified the certificate SNI chose: \(pair.clientRecorder.errors)")

        try pair.client.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")).wait()
        try pair.pump()
        XCTAssertEqual(pair.serverRecorder.received, "GET / HTTP/1.1\r\n\r\n")
        // Several writes before one flush travel together.
        pair.server.write(ByteBuffer(string: "HTTP/1.1 200 OK\r\n"), promise: nil)
        pair.server.write(ByteBuffer(string: "\r\n"), promise: nil)
        pair.server.flush()
        try pair.pump()
        XCTAssertEqual(pair.clientRecorder.received, "HTTP/1.1 200 OK\r\n\r\n")
    }

    /// A client uses a TLS 1.3 ticket once (RFC 8446 C.4; OpenSSL's client, so wrk and curl, and
    /// our own client context): the server must send a new ticket on every resumption, or every
    /// second connection is a full handshake.
    func testEveryConnectionResumesWithTheTicketOfThePreviousOne() throws {
        let server = try TLSServerContext(certificates: [TLSCertificate(path: makeCert("a.example.test"))], settings: TLSSettings())
        func chain(_ client: TLSClientContext) throws -> [Bool] {
            try (0..<6).map { _ in
                let pair = try makePair(server: server, client: client, sni: "a.example.test")
                try pair.pump()
                let resumed = try XCTUnwrap(pair.clientRecorder.events.first).resumed
                XCTAssertEqual(pair.serverRecorder.events.first?.resumed, resumed)
                try pair.client.close().wait()
                try pair.pump()
                return resumed
            }
        }
        XCTAssertEqual(try chain(TLSClientContext()), [false, true, true, true, true, true])
        XCTAssertEqual(try chain(TLSClientContext(reuseSessions: false)), [false, false, false, false, false, false])
    }

    func testGarbageAndPlainHTTPAreRefusedWithAnError() throws {
        let a = try TLSCertificate(path: makeCert("a.example.test"))
        let server = try TLSServerContext(certificates: [a], settings: TLSSettings())
        for garbage in ["GET / HTTP/1.1\r\nHost: a\r\n\r\n", String(repeating: "\u{16}\u{03}\u{01}zz", count: 20)] {
            let recorder = Recorder()
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandlers([TLSHandler(server: server), recorder])
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try? channel.writeInbound(ByteBuffer(string: garbage))
            XCTAssertEqual(recorder.errors.count, 1)
            XCTAssertTrue("\(recorder.errors.first!)".contains("TLS handshake failed"), "\(recorder.errors)")
            XCTAssertFalse(channel.isActive, "the connection is closed")
            XCTAssertEqual(recorder.received, "")
        }
    }

    func testCertificateFileProblemsAreNamed() throws {
        let good = try makeCert("a.example.test")
        let other = try makeCert("b.example.test")
        let text = try String(contentsOfFile: good, encoding: .utf8)
        let keyOnly = text.components(separatedBy: "-----BEGIN CERTIFICATE-----")[0]
        let certOnly = "-----BEGIN CERTIFICATE-----" + text.components(separatedBy: "-----BEGIN CERTIFICATE-----")[1]
        let otherKey = try String(contentsOfFile: other, encoding: .utf8).components(separatedBy: "-----BEGIN CERTIFICATE-----")[0]
        func write(_ name: String, _ content: String) throws -> String {
            let p = dir.appendingPathComponent(name).path
            try content.write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        XCTAssertThrowsError(try TLSCertificate(path: write("nokey.pem", certOnly))) { XCTAssertTrue("\($0)".contains("no private key")) }
        XCTAssertThrowsError(try TLSCertificate(path: write("nocert.pem", keyOnly))) { XCTAssertTrue("\($0)".contains("no certificate found")) }
        XCTAssertThrowsError(try TLSCertificate(path: write("mismatch.pem", otherKey + certOnly))) { XCTAssertTrue("\($0)".contains("does not match")) }
        XCTAssertThrowsError(try TLSCertificate(path: dir.appendingPathComponent("missing.pem").path)) { XCTAssertTrue("\($0)".contains("cannot read")) }
        // Certificate first, key second loads too.
        XCTAssertNoThrow(try TLSCertificate(path: write("certfirst.pem", certOnly + keyOnly)))
        XCTAssertNil(try TLSCertificate(path: good).validityWarning)
    }
}
