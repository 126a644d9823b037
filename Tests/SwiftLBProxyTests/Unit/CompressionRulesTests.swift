import NIOCore
import SwiftLBConfig
import SwiftLBTestSupport
import XCTest
@testable import SwiftLBProxy

/// HAProxy 2.6's compression rules (flt_http_comp.c) as pure functions, and the zlib stream
/// that compresses piece by piece: decoded by zlib's own inflate, it gives back the input.
final class CompressionRulesTests: XCTestCase {
    private func head(_ text: String, _ kind: MessageHead.Kind = .request) throws -> MessageHead {
        var parser = HeadParser(kind: kind)
        var buffer = ByteBuffer(string: text.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n")
        guard case .head(let head) = parser.parse(&buffer) else { throw HarnessError("no head: \(text)") }
        return head
    }

    private func policy(_ algorithms: [HTTPCompression.Algorithm], types: [String] = [], offload: Bool = false) -> CompressionRules.Policy {
        var c = HTTPCompression()
        c.algorithms = algorithms
        c.types = types
        c.offload = offload
        return CompressionRules.Policy(frontend: c, backend: nil)!
    }

    private func choose(_ acceptEncoding: String?, _ p: CompressionRules.Policy, agent: String? = nil) throws -> HTTPCompression.Algorithm? {
        var text = "GET / HTTP/1.1\nHost: a\n"
        if let acceptEncoding { text += "Accept-Encoding: \(acceptEncoding)\n" }
        if let agent { text += "User-Agent: \(agent)\n" }
        var h = try head(text)
        return CompressionRules.choose(&h, policy: p)
    }

    func testTheRequestChoosesByQValueThenListOrder() throws {
        let gz = policy([.gzip])
        XCTAssertEqual(try choose("gzip", gz), .gzip)
        XCTAssertEqual(try choose("x-gzip, GZip ;q=0.2", gz), .gzip)
        XCTAssertNil(try choose("gzip;q=0", gz))
        XCTAssertNil(try choose("gzip;q=0.000", gz))
        XCTAssertNil(try choose(nil, gz))
        XCTAssertNil(try choose("br", gz))
        // The list as HAProxy holds it: `algo deflate gzip` written → [gzip, deflate].
        let both = policy([.gzip, .deflate])
        XCTAssertEqual(try choose("*", both), .gzip)
        XCTAssertEqual(try choose("deflate, gzip", both), .deflate, "equal q: the first entry wins")
        XCTAssertEqual(try choose("deflate;q=0.5, gzip;q=0.6", both), .gzip)
        XCTAssertEqual(try choose("deflate;level=1;q=0.9, gzip;q=0.6", both), .deflate, "q found after another parameter")
        XCTAssertEqual(try choose("deflate", policy([.rawDeflate, .deflate])), .rawDeflate, "raw-deflate answers to 'deflate'")
        // identity is a fallback needing no header.
        XCTAssertEqual(try choose("br", policy([.gzip, .identity])), .identity)
        XCTAssertEqual(try choose(nil, policy([.identity])), .identity)
        // Old agents: none, unless MSIE 6 SP2 (SV1) or MSIE 7+.
        XCTAssertNil(try choose("gzip", gz, agent: "Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)"))
        XCTAssertNil(try choose("gzip", gz, agent: "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)"))
        XCTAssertEqual(try choose("gzip", gz, agent: "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"), .gzip)
        XCTAssertEqual(try choose("gzip", gz, agent: "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)"), .gzip)
        XCTAssertEqual(try choose("gzip", gz, agent: "Mozilla/5.0 (X11; Linux x86_64)"), .gzip)
    }

    func testOffloadRemovesAcceptEncodingOnlyWhenAnEncodingWasChosen() throws {
        var h = try head("GET / HTTP/1.1\nAccept-Encoding: gzip\nAccept-Encoding: br\n")
        XCTAssertEqual(CompressionRules.choose(&h, policy: policy([.gzip], offload: true)), .gzip)
        XCTAssertEqual(h.values(of: "accept-encoding"), [])
        var kept = try head("GET / HTTP/1.1\nAccept-Encoding: br\n")
        XCTAssertEqual(CompressionRules.choose(&kept, policy: policy([.gzip, .identity], offload: true)), .identity)
        XCTAssertEqual(kept.values(of: "accept-encoding"), ["br"])
    }

    func testWhichResponsesMayBeCompressed() throws {
        let p = policy([.gzip], types: ["text/html", "application/json"])
        func may(_ response: String, body: MessageFraming.ResponseBody = .framed(.length(10)), clientMinor: Int = 1,
                 method: HTTPMethodName = .get, _ q: CompressionRules.Policy? = nil) throws -> Bool {
            CompressionRules.mayCompress(try head(response, .response), body: body, clientMinor: clientMinor, method: method, policy: q ?? p)
        }
        let ok = "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\nContent-Length: 10\n"
        XCTAssertTrue(try may(ok))
        XCTAssertTrue(try may(ok, body: .framed(.chunked)))
        XCTAssertTrue(try may(ok.replacingOccurrences(of: "200 OK", with: "203 Non-Authoritative")))
        XCTAssertFalse(try may(ok.replacingOccurrences(of: "200 OK", with: "206 Partial")))
        XCTAssertFalse(try may(ok.replacingOccurrences(of: "HTTP/1.1", with: "HTTP/1.0")))
        XCTAssertFalse(try may(ok, clientMinor: 0))
        XCTAssertFalse(try may(ok, method: .head))
        XCTAssertFalse(try may(ok, body: .framed(.length(0))))
        XCTAssertFalse(try may(ok, body: .framed(.untilClose)))
        XCTAssertFalse(try may(ok, body: .none))
        XCTAssertFalse(try may(ok + "Content-Encoding: br\n"))
        XCTAssertFalse(try may(ok + "Cache-Control: public, No-Transform\n"))
        XCTAssertTrue(try may(ok + "Cache-Control: no-transformer\n"))
        XCTAssertTrue(try may(ok + "ETag: W/\"x\"\n"))
        XCTAssertFalse(try may(ok + "ETag: x\n"), "malformed ETag")
        XCTAssertFalse(try may(ok + "ETag: \"a\"\nETag: \"b\"\n"), "two ETags")
        XCTAssertFalse(try may("HTTP/1.1 200 OK\nContent-Type: image/png\n"), "not a listed type")
        XCTAssertFalse(try may("HTTP/1.1 200 OK\n"), "a type is required when types are listed")
        XCTAssertTrue(try may("HTTP/1.1 200 OK\n", policy([.gzip])), "no list: any type")
        XCTAssertFalse(try may("HTTP/1.1 200 OK\nContent-Type: Multipart/mixed\n", policy([.gzip])))
        XCTAssertTrue(try may("HTTP/1.1 200 OK\nContent-Type: APPLICATION/JSON\n"))
    }

    func testTheHeadTheClientGets() throws {
        var h = try head("HTTP/1.1 200 OK\nContent-Length: 10\nETag: \"v1\"\nVary: Cookie\n", .response)
        CompressionRules.rewrite(&h, algorithm: .rawDeflate)
        XCTAssertEqual(h.values(of: "content-length"), [])
        XCTAssertEqual(h.values(of: "transfer-encoding"), ["chunked"])
        XCTAssertEqual(h.values(of: "etag"), ["W/\"v1\""])
        XCTAssertEqual(h.values(of: "vary"), ["Cookie", "Accept-Encoding"])
        XCTAssertEqual(h.values(of: "content-encoding"), ["deflate"])
        var chunked = try head("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nETag: W/\"v1\"\n", .response)
        CompressionRules.rewrite(&chunked, algorithm: .identity)
        XCTAssertEqual(chunked.values(of: "transfer-encoding"), ["chunked"])
        XCTAssertEqual(chunked.values(of: "etag"), ["W/\"v1\""])
        XCTAssertEqual(chunked.values(of: "content-encoding"), [])
    }

    /// Piece by piece, each flushed: every prefix of the output decodes to the input so far.
    func testTheDeflaterStreamsAndRoundTrips() throws {
        let allocator = ByteBufferAllocator()
        for algorithm in [HTTPCompression.Algorithm.gzip, .deflate, .rawDeflate] {
            let deflater = try XCTUnwrap(Deflater(algorithm))
            var wire = Data()
            var plain = Data()
            for i in 0..<200 {
                let piece = String(repeating: "piece \(i % 7) ", count: i * 13 % 500 + 1)
                plain.append(contentsOf: piece.utf8)
                let out = deflater.compress(ByteBuffer(string: piece), allocator: allocator)
                XCTAssertGreaterThan(out.readableBytes, 0, "a sync flush always emits")
                wire.append(contentsOf: out.readableBytesView)
                if i == 99 { XCTAssertEqual(try inflate(wire, algorithm, final: false), plain, "flushed: decodable so far") }
            }
            wire.append(contentsOf: deflater.finish(allocator: allocator).readableBytesView)
            XCTAssertEqual([deflater.bytesIn, deflater.bytesOut, deflater.bypassed], [plain.count, wire.count, 0], "comp_in, comp_out, comp_byp")
            XCTAssertEqual(try inflate(wire, algorithm, final: true), plain, "\(algorithm)")
            XCTAssertLessThan(wire.count, plain.count / 5, "\(algorithm) compresses")
        }
        // identity passes the bytes as they are, counted as bypassed.
        let identity = try XCTUnwrap(Deflater(.identity))
        XCTAssertEqual(identity.compress(ByteBuffer(string: "plain"), allocator: allocator), ByteBuffer(string: "plain"))
        XCTAssertEqual(identity.finish(allocator: allocator).readableBytes, 0)
        XCTAssertEqual([identity.bytesIn, identity.bytesOut, identity.bypassed], [0, 0, 5])
    }

    /// Python's zlib, an independent decoder.
    private func inflate(_ data: Data, _ algorithm: HTTPCompression.Algorithm, final: Bool) throws -> Data {
        let bits = algorithm == .gzip ? 31 : algorithm == .deflate ? 15 : -15
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("deflate-\(UUID().uuidString)")
        try data.write(to: scratch)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let check = final ? "assert d.eof and not d.unused_data" : "assert not d.eof"
        let script = "import sys,zlib; d=zlib.decompressobj(\(bits)); out=d.decompress(open(sys.argv[1],'rb').read()); \(check); sys.stdout.buffer.write(out)"
        let run = runProcess("/usr/bin/env", ["python3", "-c", script, scratch.path])
        XCTAssertEqual(run.status, 0, "python zlib refused the stream: \(run.err)")
        return Data(run.output)
    }
}
