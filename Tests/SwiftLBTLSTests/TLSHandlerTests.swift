import Foundation
import NIOCore
import NIOEmbedded
import XCTest
@testable import SwiftLBTLS

/// The TLS handler in memory: a server and a client EmbeddedChannel, the bytes each writes
/// pumped into the other, with real OpenSSL on both ends and certificates from gen-cert.sh.
final class TLSHandlerTests: XCTestCase {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts")
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func makeCert(_ name: String, kind: String = "ec") throws -> String {
        let out = dir.appendingPathComponent("\(name).pem").path
        let p = Process()
        p.executableURL = Self.scripts.appendingPathComponent("gen-cert.sh")
        p.arguments = [name, out, kind]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        return out
    }

    /// Records what reaches the end of a pipeline.
    final class Recorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var received = ""
        var events: [TLSHandshakeCompleted] = []
        var errors: [any Error] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            received += b.readString(length: b.readableBytes) ?? ""
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? TLSHandshakeCompleted { events.append(e) }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
    }

    struct Pair {
        let server: EmbeddedChannel, client: EmbeddedChannel
        let serverRecorder: Recorder, clientRecorder: Recorder
        func pump() throws {
            var moved = true
            while moved {
                moved = false
                while let data = try client.readOutbound(as: ByteBuffer.self) { try server.writeInbound(data); moved = true }
                while let data = try server.readOutbound(as: ByteBuffer.self) { try client.writeInbound(data); moved = true }
            }
        }
    }

    func makePair(server: TLSServerContext, client: TLSClientContext, sni: String?) throws -> Pair {
        let sr = Recorder(), cr = Recorder()
        let s = EmbeddedChannel()
        try s.pipeline.syncOperations.addHandlers([TLSHandler(server: server), sr])
        let c = EmbeddedChannel()
        try c.pipeline.syncOperations.addHandlers([TLSHandler(client: client, serverName: sni), cr])
        try s.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try c.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        return Pair(server: s, client: c, serverRecorder: sr, clientRecorder: cr)
    }

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
