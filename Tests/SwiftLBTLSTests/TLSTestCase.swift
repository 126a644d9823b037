import Foundation
import NIOCore
import NIOEmbedded
import SwiftLBTestSupport
import XCTest
@testable import SwiftLBTLS

/// What the TLS handler tests share: a temporary directory with certificates from
/// gen-cert.sh, a recorder at the end of a pipeline, and a server and a client EmbeddedChannel
/// with real OpenSSL on both ends, whose bytes `Pair.pump` moves from one to the other.
class TLSTestCase: XCTestCase {
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
        let run = runProcess(Self.scripts.appendingPathComponent("gen-cert.sh").path, [name, out, kind])
        XCTAssertEqual(run.status, 0, run.err)
        return out
    }

    /// Records what reaches the end of a pipeline.
    final class Recorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var received = ""
        var reads = 0
        var events: [TLSHandshakeCompleted] = []
        var inputClosed = false
        var errors: [any Error] = []
        /// Called with each read, e.g. to close the channel from inside it.
        var onRead: ((ChannelHandlerContext) -> Void)?
        /// Where each buffer read was stored; with `keep`, the buffers themselves.
        var storages: [UnsafeRawPointer?] = []
        var keep = false
        var kept: [ByteBuffer] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            reads += 1
            storages.append(b.withVeryUnsafeBytes { $0.baseAddress })
            if keep { kept.append(b) }
            received += b.readString(length: b.readableBytes) ?? ""
            onRead?(context)
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? TLSHandshakeCompleted { events.append(e) }
            if case .inputClosed? = event as? ChannelEvent { inputClosed = true }
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
        /// Everything `channel` has written to its socket so far, in one buffer.
        static func ciphertext(of channel: EmbeddedChannel) throws -> ByteBuffer {
            var all = ByteBuffer()
            while var data = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&data) }
            return all
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

    /// A pair on an ECDSA certificate, handshake done.
    func connectedPair() throws -> Pair {
        let server = try TLSServerContext(certificates: [TLSCertificate(path: makeCert("a.example.test"))], settings: TLSSettings())
        let pair = try makePair(server: server, client: try TLSClientContext(), sni: "a.example.test")
        try pair.pump()
        XCTAssertEqual(pair.serverRecorder.events.count, 1)
        XCTAssertEqual(pair.clientRecorder.events.count, 1)
        return pair
    }
}
