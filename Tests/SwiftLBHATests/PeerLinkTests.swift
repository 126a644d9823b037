import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest
@testable import SwiftLBHA

/// The peer link over real loopback sockets (127.0.0.2 ↔ 127.0.0.3, TCP-MD5 signed), each end
/// on its own event loop as two processes would be. What a process death looks like from
/// outside — the link closes with no goodbye and the port stops listening — is made with
/// `die`; the namespace scenarios (VIPTakeoverTests) SIGKILL real processes.
final class PeerLinkTests: XCTestCase {
    let advert: Int64 = 50_000_000
    let key = Array("loopback-peer-link-test-key-0123".utf8)
    var groups: [MultiThreadedEventLoopGroup] = []
    var links: [PeerLink] = []
    var listeners: [ObjectIdentifier: PeerLinkListener] = [:]
    var port = 0
    let deaths = NIOLockedValueBox<[UInt32]>([])

    override func setUp() {
        // Below Linux's ephemeral range (32768-60999), where an outgoing connection of this
        // or another test could hold the port.
        port = Int.random(in: 20_000...32_000)
    }

    override func tearDown() {
        for link in links { _ = try? link.closeWithoutGoodbye().wait() }
        for listener in listeners.values { _ = try? listener.stop().wait() }
        for group in groups { try? group.syncShutdownGracefully() }
        links = []
        groups = []
    }

    func makeLink(_ local: String, _ peer: String, key: [UInt8]? = nil) throws -> PeerLink {
        try makeLinks(local, [peer], key: key)[0]
    }

    /// Links from `local` to each of `peers` on one event loop, behind one shared listener,
    /// as one process with several peers has them.
    func makeLinks(_ local: String, _ peers: [String], key: [UInt8]? = nil) throws -> [PeerLink] {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        groups.append(group)
        let made = peers.map { peer in
            PeerLink(settings: .init(label: "test \(local)", local: local, peer: peer, port: port, key: key ?? self.key, advertInterval: advert),
                     loop: group.next(), logger: Logger(label: "peer-link-test"))
        }
        let listener = PeerLinkListener(local: local, port: port, links: made, loop: group.next())
        try listener.start().wait()
        let deaths = self.deaths
        for link in made {
            link.onProcessDied = { sender in deaths.withLockedValue { $0.append(sender) } }
            try link.start().wait()
            links.append(link)
            listeners[ObjectIdentifier(link)] = listener
        }
        return made
    }

    /// A process death as the peer sees it: the link closes without a goodbye and, with
    /// `listener`, the port stops listening too.
    func die(_ link: PeerLink, listener: Bool) throws {
        try link.closeWithoutGoodbye().wait()
        if listener { try listeners[ObjectIdentifier(link)]!.stop().wait() }
    }

    func pair() throws -> (low: PeerLink, high: PeerLink) {
        let low = try makeLink("127.0.0.2", "127.0.0.3"), high = try makeLink("127.0.0.3", "127.0.0.2")
        XCTAssertTrue(low.dials && !high.dials, "the lower address dials")
        XCTAssertTrue(poll { low.status.withLockedValue(\.up) && high.status.withLockedValue(\.up) },
                      "link up: \(low.status.withLockedValue { $0.render() }) / \(high.status.withLockedValue { $0.render() })")
        return (low, high)
    }

    func testTheLinkComesUpSignedAndKeepsItself() throws {
        let (low, high) = try pair()
        let text = high.status.withLockedValue { $0.render() }
        XCTAssertTrue(text.contains("peer link: up (accepted 127.0.0.3 <-> 127.0.0.2:\(port), TCP-MD5 signed)"), text)
        // Past the link's silence limit (max(3 × advert, 1 s)): a link without keepalives would
        // be closed by now, and its last frame older than the limit.
        usleep(1_500_000)
        XCTAssertTrue(low.status.withLockedValue(\.up) && high.status.withLockedValue(\.up))
        XCTAssertEqual([low.status.withLockedValue(\.ups), high.status.withLockedValue(\.ups)], [1, 1], "the same link all along, never closed and redialled")
        let lastFrame = high.status.withLockedValue { NIODeadline.now() - $0.lastFrame }
        XCTAssertLessThan(lastFrame.nanoseconds, 1_000_000_000, "keepalives arrive every interval")
        XCTAssertEqual(deaths.withLockedValue { $0 }, [])
    }

    func testAClosedLinkAndARefusedPortMeanTheProcessDied() throws {
        let (low, high) = try pair()
        let closed = Date()
        try die(low, listener: true)
        XCTAssertTrue(poll { !deaths.withLockedValue { $0 }.isEmpty }, high.status.withLockedValue { $0.render() })
        print("peer process death known \(Int(Date().timeIntervalSince(closed) * 1000)) ms after the close")
        XCTAssertEqual(deaths.withLockedValue { $0 }, [IPv4.number("127.0.0.2")!])
        let text = high.status.withLockedValue { $0.render() }
        XCTAssertTrue(text.contains("closed by the peer; 127.0.0.2:\(port) refused a connection"), text)
        XCTAssertTrue(text.contains("its process died"), text)
    }

    /// The link closes but the peer still listens: not a death, whatever the close looked like.
    func testALiveListenerMeansNoDeath() throws {
        let (low, high) = try pair()
        try die(low, listener: false)
        XCTAssertTrue(poll { high.status.withLockedValue { $0.lastClose != nil } }, high.status.withLockedValue { $0.render() })
        let text = high.status.withLockedValue { $0.render() }
        XCTAssertTrue(text.contains("did not refuse (no answer): not a process death"), "its signed listener drops our unsigned SYN: \(text)")
        XCTAssertEqual(deaths.withLockedValue { $0 }, [])
    }

    func testAGoodbyeMakesTheCloseDeliberate() throws {
        let (low, high) = try pair()
        try low.stop().wait()
        XCTAssertTrue(poll { !high.status.withLockedValue(\.up) })
        usleep(100_000)
        let text = high.status.withLockedValue { $0.render() }
        XCTAssertTrue(text.contains("closed by the peer after its goodbye"), text)
        XCTAssertEqual(deaths.withLockedValue { $0 }, [], "no check, no death")
        XCTAssertNil(high.status.withLockedValue { $0.lastClose })
    }

    /// The dialer redials with backoff once the peer is back.
    func testTheDialerReconnectsWhenThePeerReturns() throws {
        let (low, high) = try pair()
        try die(high, listener: true)
        XCTAssertTrue(poll { !low.status.withLockedValue(\.up) })
        XCTAssertTrue(poll { !deaths.withLockedValue { $0 }.isEmpty }, "the accepting side's death is seen too")
        let again = try makeLink("127.0.0.3", "127.0.0.2")
        XCTAssertTrue(poll { low.status.withLockedValue(\.up) && again.status.withLockedValue(\.up) }, low.status.withLockedValue { $0.render() })
        XCTAssertEqual(low.status.withLockedValue(\.ups), 2)
    }

    /// Different keys: different TCP-MD5 keys, so the kernel drops every segment; never up,
    /// never a death.
    func testADifferentKeyNeverComesUp() throws {
        let low = try makeLink("127.0.0.2", "127.0.0.3")
        let high = try makeLink("127.0.0.3", "127.0.0.2", key: Array("some-other-key-nobody-shares-000".utf8))
        usleep(600_000)
        XCTAssertFalse(low.status.withLockedValue(\.up) || high.status.withLockedValue(\.up))
        XCTAssertEqual(deaths.withLockedValue { $0 }, [])
    }

    /// Connections that cannot prove the key are closed and counted by reason.
    func testStrangersAndSilentPeersAreClosedAndCounted() throws {
        let high = try makeLink("127.0.0.3", "127.0.0.2")
        // From an address that is not the peer: closed before anything is read.
        let stranger = try rawConnect(from: "127.0.0.4", to: "127.0.0.3", md5: nil)
        defer { close(stranger) }
        XCTAssertTrue(poll { high.status.withLockedValue { $0.drops["unknown peer"] } == 1 }, high.status.withLockedValue { $0.render() })
        XCTAssertEqual(readToEnd(stranger), 0, "closed at once")

        // From the peer's address with the right TCP-MD5 key (the kernel lets it in), but
        // saying nothing: closed after one advert interval.
        let segmentKey = TCPSignature.key(from: key)
        let silent = try rawConnect(from: "127.0.0.2", to: "127.0.0.3", md5: segmentKey)
        defer { close(silent) }
        let opened = Date()
        XCTAssertTrue(poll { high.status.withLockedValue { $0.drops["silent"] } == 1 }, high.status.withLockedValue { $0.render() })
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(opened), 0.04, "one advert interval (50 ms)")

        // A HELLO that is right, then a proof made without the key.
        let forger = try rawConnect(from: "127.0.0.2", to: "127.0.0.3", md5: segmentKey)
        defer { close(forger) }
        var me = PeerLinkSession(key: Array("not-the-key-but-long-enough-0000".utf8), linkID: UInt16(port),
                                 local: IPv4.number("127.0.0.2")!, peer: IPv4.number("127.0.0.3")!, nonce: [UInt8](repeating: 3, count: 16))
        let hello = me.hello()
        XCTAssertEqual(write(forger, hello, hello.count), hello.count)
        var theirs = [UInt8](repeating: 0, count: 32)
        XCTAssertEqual(read(forger, &theirs, 32), 32)
        var proof: [UInt8] = []
        for case .send(let bytes) in me.receive(theirs) { proof += bytes }
        XCTAssertEqual(write(forger, proof, proof.count), 32)
        XCTAssertTrue(poll { high.status.withLockedValue { $0.drops["bad MAC"] } == 1 }, high.status.withLockedValue { $0.render() })
        XCTAssertFalse(high.status.withLockedValue(\.up))
        XCTAssertEqual(deaths.withLockedValue { $0 }, [], "a stranger's close means nothing")
    }

    /// One process with two peers on the same address and port: one listener for both
    /// links, each connection handed to its peer's link, a stranger counted on each, and a
    /// death reported by the link it happened on only.
    func testOneListenerServesTheLinksToSeveralPeers() throws {
        let (toLow, toOther) = try { () throws -> (PeerLink, PeerLink) in
            let made = try makeLinks("127.0.0.3", ["127.0.0.2", "127.0.0.4"])
            return (made[0], made[1])
        }()
        let low = try makeLink("127.0.0.2", "127.0.0.3"), other = try makeLink("127.0.0.4", "127.0.0.3")
        XCTAssertTrue(poll { [toLow, toOther, low, other].allSatisfy { $0.status.withLockedValue(\.up) } },
                      toLow.status.withLockedValue { $0.render() } + toOther.status.withLockedValue { $0.render() })
        let stranger = try rawConnect(from: "127.0.0.5", to: "127.0.0.3", md5: nil)
        defer { close(stranger) }
        XCTAssertEqual(readToEnd(stranger), 0, "closed at once")
        XCTAssertTrue(poll { [toLow, toOther].allSatisfy { $0.status.withLockedValue { $0.drops["unknown peer"] } == 1 } })
        try die(other, listener: true)
        XCTAssertTrue(poll { deaths.withLockedValue { $0 } == [IPv4.number("127.0.0.4")!] }, toOther.status.withLockedValue { $0.render() })
        usleep(200_000)
        XCTAssertTrue(toLow.status.withLockedValue(\.up), "the other link is untouched")
        XCTAssertEqual(deaths.withLockedValue { $0 }, [IPv4.number("127.0.0.4")!])
    }

    // MARK: raw sockets

    func rawConnect(from local: String, to remote: String, md5: [UInt8]?) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if let md5 {
            var setting = TCPSignature.Setting(peer: IPv4.number(remote)!, key: md5)
            XCTAssertEqual(setsockopt(fd, Int32(IPPROTO_TCP), TCPSignature.option, &setting, socklen_t(MemoryLayout<TCPSignature.Setting>.size)), 0,
                           String(cString: strerror(errno)))
        }
        var a = sockaddr_in(), b = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET); a.sin_addr.s_addr = IPv4.number(local)!.bigEndian
        b.sin_family = sa_family_t(AF_INET); b.sin_addr.s_addr = IPv4.number(remote)!.bigEndian
        b.sin_port = in_port_t(UInt16(port).bigEndian)
        let bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let connected = withUnsafePointer(to: &b) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, connected == 0 else { close(fd); throw XCTSkip("raw connect failed: \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Bytes read until EOF (bounded by the socket's 2 s timeout).
    func readToEnd(_ fd: Int32) -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return total }
            total += n
        }
    }
}
