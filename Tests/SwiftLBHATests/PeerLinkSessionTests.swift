import XCTest
@testable import SwiftLBHA

/// The peer link's handshake and frames, pure: two sessions pumped into each other.
final class PeerLinkSessionTests: XCTestCase {
    let a: UInt32 = 0x0A4D_000B, b: UInt32 = 0x0A4D_000C   // 10.77.0.11, 10.77.0.12
    let key = Array("a-shared-key-of-32-bytes-or-so..".utf8)
    func nonce(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 16) }
    func session(_ local: UInt32, _ peer: UInt32, key: [UInt8]? = nil, link: UInt16 = 5112, nonce n: UInt8) -> PeerLinkSession {
        PeerLinkSession(key: key ?? self.key, linkID: link, local: local, peer: peer, nonce: nonce(n))
    }
    func sent(_ events: [PeerLinkSession.Event]) -> [UInt8] {
        var out: [UInt8] = []
        for case .send(let bytes) in events { out += bytes }
        return out
    }

    /// Both send HELLO, each answers the other's with a PROOF; both end established.
    func handshake(_ x: inout PeerLinkSession, _ y: inout PeerLinkSession) -> ([PeerLinkSession.Event], [PeerLinkSession.Event]) {
        let toY = x.hello(), toX = y.hello()
        var ex = x.receive(toX), ey = y.receive(toY)
        let proofToY = sent(ex), proofToX = sent(ey)
        ex += x.receive(proofToX)
        ey += y.receive(proofToY)
        return (ex, ey)
    }

    func testTwoHoldersOfTheKeyEstablishAndExchangeFrames() {
        var x = session(a, b, nonce: 1), y = session(b, a, nonce: 2)
        XCTAssertEqual(x.hello().count, 32)
        let (ex, ey) = handshake(&x, &y)
        XCTAssertTrue(ex.contains(.established) && ey.contains(.established), "\(ex) \(ey)")
        XCTAssertTrue(x.isEstablished && y.isEstablished)
        let k1 = x.frame(.keepalive), k2 = x.frame(.keepalive), bye = x.frame(.goodbye)
        XCTAssertEqual(k1.count, 41)
        XCTAssertEqual(y.receive(k1 + k2), [.keepalive, .keepalive])
        XCTAssertEqual(y.receive(bye), [.goodbye])
    }

    func testBytesArriveInAnyPieces() {
        var x = session(a, b, nonce: 1), y = session(b, a, nonce: 2)
        var ey: [PeerLinkSession.Event] = []
        for byte in x.hello() { ey += y.receive([byte]) }
        let proofToX = sent(ey)
        XCTAssertEqual(proofToX.count, 32)
        var ex = x.receive(y.hello())
        for byte in proofToX { ex += x.receive([byte]) }
        XCTAssertTrue(ex.contains(.established))
        for byte in sent(ex) { ey += y.receive([byte]) }
        XCTAssertTrue(y.isEstablished)
        var frames: [PeerLinkSession.Event] = []
        for byte in x.frame(.keepalive) { frames += y.receive([byte]) }
        XCTAssertEqual(frames, [.keepalive])
    }

    func testAWrongKeyFailsTheProof() {
        var x = session(a, b, nonce: 1), y = session(b, a, key: Array("another-key-that-is-long-enough".utf8), nonce: 2)
        let (ex, ey) = handshake(&x, &y)
        XCTAssertEqual(ex.last, .failed(.badMAC))
        XCTAssertEqual(ey.last, .failed(.badMAC))
        XCTAssertFalse(x.isEstablished || y.isEstablished)
    }

    /// A proof recorded from an earlier connection answers an earlier nonce: useless now.
    func testARecordedHandshakeCannotBeReplayed() {
        var x1 = session(a, b, nonce: 1), y1 = session(b, a, nonce: 2)
        let recordedHello = y1.hello()
        let recordedProof = sent(y1.receive(x1.hello()))
        _ = x1.receive(recordedHello)
        XCTAssertTrue(x1.receive(recordedProof).contains(.established), "valid in its own connection")
        var x2 = session(a, b, nonce: 3)   // a new connection: a fresh nonce
        _ = x2.receive(recordedHello)
        XCTAssertEqual(x2.receive(recordedProof), [.failed(.badMAC)])
    }

    /// An attacker who sends our own proof back to us (the reflection attack) gets nowhere:
    /// the prover's address comes first in what is MACed.
    func testAReflectedProofDoesNotVerify() {
        var x = session(a, b, nonce: 1)
        // The attacker copies x's nonce into its HELLO, so x's proof answers exactly that
        // nonce, then reflects the proof.
        var hello = Array("SLBL".utf8) + [2, 0, 0x13, 0xF8]   // version 2, link 5112
        hello += [0x0A, 0x4D, 0x00, 0x0C, 0x0A, 0x4D, 0x00, 0x0B] + nonce(1)
        let xProof = sent(x.receive(hello))
        XCTAssertEqual(x.receive(xProof), [.failed(.badMAC)])
    }

    func testMalformedHellosAreNamed() {
        var other = session(a, b, nonce: 1)
        var y = session(b, a, link: 5113, nonce: 2)
        XCTAssertEqual(other.receive(y.hello()), [.failed(.otherLink(5113))], "a link on another port")
        var old = session(a, b, nonce: 1)
        var v1 = y.hello()
        v1[4] = 1
        XCTAssertEqual(old.receive(v1), [.failed(.notAPeerLink)], "version 1 (bound to a router id) is another protocol")
        var x = session(a, b, nonce: 1)
        XCTAssertEqual(x.receive(Array("GET / HTTP/1.1\r\nHost: example\r\n\r\n".utf8)), [.failed(.notAPeerLink)])
        var z = session(a, b, nonce: 1)
        let spoofed = session(0x0A4D_0032, a, nonce: 9).hello()   // claims to come from 10.77.0.50
        XCTAssertEqual(z.receive(spoofed), [.failed(.addressMismatch)])
        _ = y
    }

    func testFramesAreBoundToTheirConnectionAndSequence() {
        var x = session(a, b, nonce: 1), y = session(b, a, nonce: 2)
        _ = handshake(&x, &y)
        let first = x.frame(.keepalive)
        XCTAssertEqual(y.receive(first), [.keepalive])
        XCTAssertEqual(y.receive(first), [.failed(.badFrame)], "a replayed frame: its sequence does not advance")

        var x2 = session(a, b, nonce: 1), y2 = session(b, a, nonce: 2)
        _ = handshake(&x2, &y2)
        _ = x2.frame(.keepalive)
        XCTAssertEqual(y2.receive(x2.frame(.keepalive)), [.failed(.badFrame)], "a skipped sequence")

        var x3 = session(a, b, nonce: 1), y3 = session(b, a, nonce: 5)
        _ = handshake(&x3, &y3)
        var tampered = x3.frame(.keepalive)
        tampered[0] = PeerLinkSession.FrameType.goodbye.rawValue   // a forged goodbye
        XCTAssertEqual(y3.receive(tampered), [.failed(.badFrame)])

        var x4 = session(a, b, nonce: 7), y4 = session(b, a, nonce: 8)
        _ = handshake(&x4, &y4)
        XCTAssertEqual(y4.receive(first), [.failed(.badFrame)], "a frame from another connection (other nonces)")
    }

    func testAuthNoneStillChecksTheStructure() {
        var x = PeerLinkSession(key: nil, linkID: 5112, local: a, peer: b, nonce: nonce(1))
        var y = PeerLinkSession(key: nil, linkID: 5112, local: b, peer: a, nonce: nonce(2))
        let (ex, ey) = handshake(&x, &y)
        XCTAssertTrue(ex.contains(.established) && ey.contains(.established))
        var z = PeerLinkSession(key: nil, linkID: 5112, local: b, peer: a, nonce: nonce(2))
        _ = z.receive(x.hello())
        XCTAssertEqual(z.receive([UInt8](repeating: 1, count: 32)), [.failed(.badMAC)], "with auth none the proof is 32 zero bytes")
    }
}
