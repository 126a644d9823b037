/// One peer-link connection's protocol, as a pure state machine: bytes in, events out. The
/// NIO handler (PeerLink.swift) only moves bytes; every rule is here and unit-tested.
///
/// Why a link at all: when the master's *process* dies and its host stays up, its kernel
/// closes the process's sockets at once. A backup holding an authenticated TCP connection to
/// it sees that close in well under a millisecond, instead of waiting 3 × advert_int for
/// missing heartbeats. For that close to mean anything the stream must be the peer's own,
/// end to end — hence this handshake and the MAC on every frame.
///
/// Wire format (big-endian). Both sides send HELLO at once, then PROOF after the other's HELLO:
///
/// | message | bytes | fields |
/// |---|---|---|
/// | HELLO | 32 | magic `SLBL`, version 2, 1 reserved, link id (2), sender IPv4, receiver IPv4, nonce (16 random bytes) |
/// | PROOF | 32 | HMAC-SHA256(key, `SLBL proof` · prover IPv4 · verifier IPv4 · link id · verifier's nonce · prover's nonce) |
/// | FRAME | 41 | type (1 keepalive, 2 goodbye), sequence (8, from 1, +1 each), HMAC-SHA256(key, `SLBL frame` · sender · receiver · sender's nonce · receiver's nonce · type · sequence) |
///
/// Each side proves the key on the *other's* fresh nonce, so a recorded handshake cannot be
/// replayed; the prover's address comes first, so a proof reflected back to its sender does
/// not verify; frames are bound to both nonces, so they are valid in this connection only,
/// and their sequence must advance by exactly one. With `auth none` the MACs are zeros.
///
/// The link id is the link's TCP port (the `udp_port` of the instances that share it): one
/// link serves every VRRP instance between two hosts, so it is bound to no router id. Both
/// ends agree on it by construction; it keeps a proof made for one link (one port) from being
/// valid on another link between the same two hosts. Version 1 (bound to a router id) is
/// refused as "not a peer link": both ends must run the same version for the link to come up
/// (heartbeats are unaffected).
public struct PeerLinkSession: Sendable {
    public enum FrameType: UInt8, Sendable { case keepalive = 1, goodbye = 2 }

    public enum Event: Sendable, Equatable {
        /// Write these bytes to the peer.
        case send([UInt8])
        /// The peer proved the key: from now on the stream is authenticated.
        case established
        case keepalive
        /// The peer is closing the link on purpose (stopping, or it found the link silent):
        /// the close that follows is not a death.
        case goodbye
        /// Close the connection; counted under the drop's kind.
        case failed(PeerLinkDrop)
    }

    private enum State: Sendable {
        case awaitingHello
        case awaitingProof(peerNonce: [UInt8])
        case established(peerNonce: [UInt8])
        case failed
    }

    static let magic: [UInt8] = Array("SLBL".utf8)
    static let version: UInt8 = 2
    static let helloSize = 32
    static let proofSize = MAC.size
    static let frameSize = 1 + 8 + MAC.size

    private let key: [UInt8]?
    private let linkID: UInt16
    private let local: UInt32
    private let peer: UInt32
    private let nonce: [UInt8]
    private var state = State.awaitingHello
    private var buffer: [UInt8] = []
    private var sentSequence: UInt64 = 0
    private var receivedSequence: UInt64 = 0

    /// `nonce`: 16 fresh random bytes (the shell draws them from the system's CSPRNG).
    public init(key: [UInt8]?, linkID: UInt16, local: UInt32, peer: UInt32, nonce: [UInt8]) {
        precondition(nonce.count == 16, "a peer-link nonce is 16 bytes")
        self.key = key
        self.linkID = linkID
        self.local = local
        self.peer = peer
        self.nonce = nonce
    }

    public var isEstablished: Bool { if case .established = state { true } else { false } }

    /// Our HELLO, sent as soon as the connection is up (by both sides).
    public func hello() -> [UInt8] {
        var out = Self.magic + [Self.version, 0, UInt8(linkID >> 8), UInt8(linkID & 0xFF)]
        appendBE(&out, UInt64(local), bytes: 4)
        appendBE(&out, UInt64(peer), bytes: 4)
        return out + nonce
    }

    /// A keepalive or goodbye frame; only on an established link.
    public mutating func frame(_ type: FrameType) -> [UInt8] {
        guard case .established(let peerNonce) = state else { preconditionFailure("frame \(type) on a peer link in state \(state)") }
        sentSequence += 1
        var head = [type.rawValue]
        appendBE(&head, sentSequence, bytes: 8)
        return head + frameMAC(from: local, to: peer, senderNonce: nonce, receiverNonce: peerNonce, head: head)
    }

    /// Feeds received bytes; returns what happened, in order. After `.failed` nothing more
    /// is parsed: the shell closes the connection.
    public mutating func receive(_ bytes: [UInt8]) -> [Event] {
        buffer += bytes
        var events: [Event] = []
        while true {
            switch state {
            case .failed:
                return events
            case .awaitingHello:
                guard buffer.count >= Self.helloSize else { return events }
                let hello = take(Self.helloSize)
                if let drop = check(hello: hello) { return events + fail(drop) }
                let peerNonce = Array(hello[16..<32])
                state = .awaitingProof(peerNonce: peerNonce)
                events.append(.send(proofMAC(prover: local, verifier: peer, verifierNonce: peerNonce, proverNonce: nonce)))
            case .awaitingProof(let peerNonce):
                guard buffer.count >= Self.proofSize else { return events }
                let proof = take(Self.proofSize)
                let expected = proofMAC(prover: peer, verifier: local, verifierNonce: nonce, proverNonce: peerNonce)
                guard MAC.equal(expected, proof[...]) else { return events + fail(.badMAC) }
                state = .established(peerNonce: peerNonce)
                events.append(.established)
            case .established(let peerNonce):
                guard buffer.count >= Self.frameSize else { return events }
                let frame = take(Self.frameSize)
                let head = Array(frame[0..<9])
                let expected = frameMAC(from: peer, to: local, senderNonce: peerNonce, receiverNonce: nonce, head: head)
                guard MAC.equal(expected, frame[9...]), readBE(head, 1, 8) == receivedSequence + 1,
                      let type = FrameType(rawValue: head[0]) else { return events + fail(.badFrame) }
                receivedSequence += 1
                events.append(type == .keepalive ? .keepalive : .goodbye)
            }
        }
    }

    private func check(hello: [UInt8]) -> PeerLinkDrop? {
        guard Array(hello[0..<4]) == Self.magic, hello[4] == Self.version else { return .notAPeerLink }
        let theirs = UInt16(readBE(hello, 6, 2))
        guard theirs == linkID else { return .otherLink(theirs) }
        guard UInt32(readBE(hello, 8, 4)) == peer, UInt32(readBE(hello, 12, 4)) == local else { return .addressMismatch }
        return nil
    }

    private mutating func fail(_ drop: PeerLinkDrop) -> [Event] {
        state = .failed
        buffer = []
        return [.failed(drop)]
    }

    private mutating func take(_ count: Int) -> [UInt8] {
        let head = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return head
    }

    private func proofMAC(prover: UInt32, verifier: UInt32, verifierNonce: [UInt8], proverNonce: [UInt8]) -> [UInt8] {
        var data = Array("SLBL proof".utf8)
        appendBE(&data, UInt64(prover), bytes: 4)
        appendBE(&data, UInt64(verifier), bytes: 4)
        appendBE(&data, UInt64(linkID), bytes: 2)
        return MAC.hmac(key: key, data + verifierNonce + proverNonce)
    }

    private func frameMAC(from sender: UInt32, to receiver: UInt32, senderNonce: [UInt8], receiverNonce: [UInt8], head: [UInt8]) -> [UInt8] {
        var data = Array("SLBL frame".utf8)
        appendBE(&data, UInt64(sender), bytes: 4)
        appendBE(&data, UInt64(receiver), bytes: 4)
        return MAC.hmac(key: key, data + senderNonce + receiverNonce + head)
    }
}

/// Why a peer-link connection was closed by us; counted by kind in `show vrrp`, logged at a
/// bounded rate.
public enum PeerLinkDrop: Error, Sendable, Equatable {
    /// Not from the configured `unicast_peer` (closed before a byte is read).
    case unknownPeer(String)
    case notAPeerLink
    /// A HELLO for another link id (port).
    case otherLink(UInt16)
    /// The HELLO names other addresses than the connection's own.
    case addressMismatch
    /// The handshake proof does not verify: the other end does not hold the key.
    case badMAC
    /// A frame with a wrong MAC, sequence or type on an established link.
    case badFrame
    /// Connected and did not finish the handshake within one advert interval.
    case silent

    public var kind: String {
        switch self {
        case .unknownPeer: "unknown peer"
        case .notAPeerLink: "not a peer link"
        case .otherLink: "other link id"
        case .addressMismatch: "address mismatch"
        case .badMAC: "bad MAC"
        case .badFrame: "bad frame"
        case .silent: "silent"
        }
    }
}
