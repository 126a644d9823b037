import XCTest
@testable import SwiftLBProxy

/// HAProxy's peers protocol on bytes: the integer encoding at the boundaries of
/// doc/peers-v2.0.txt, messages compared with what haproxy 2.6.12 put on the wire (captured on
/// loopback: its `define` and `update` of a `table t type string size 1m expire 10m` in a
/// `peers mypeers` section), round trips, the dictionary of server keys, and the session
/// machine's handshake and message handling.
final class PeerProtocolTests: XCTestCase {
    typealias Codec = PeerTableCodec

    func testIntegersAtTheDocumentedBoundaries() {
        // doc/peers-v2.0.txt: 1 byte below 240, 2 below 2288, 3 below 264432, 4 below 33818864.
        let cases: [(UInt64, [UInt8])] = [
            (0, [0x00]), (239, [0xEF]), (240, [0xF0, 0x00]), (2287, [0xFF, 0x7F]),
            (2288, [0xF0, 0x80, 0x00]), (264431, [0xFF, 0xFF, 0x7F]), (264432, [0xF0, 0x80, 0x80, 0x00]),
            (33818863, [0xFF, 0xFF, 0xFF, 0x7F]), (33818864, [0xF0, 0x80, 0x80, 0x80, 0x00]),
            (600000, [0xF0, 0xED, 0xA3, 0x01]),
        ]
        for (value, bytes) in cases {
            XCTAssertEqual(PeerCodec.encoded(value), bytes, "\(value)")
            var i = 0
            XCTAssertEqual(PeerCodec.decode(bytes[...], at: &i), value, "\(value)")
            XCTAssertEqual(i, bytes.count)
        }
        for value: UInt64 in [1 << 32, 1 << 40, UInt64.max / 3, UInt64.max] {
            var i = 0
            XCTAssertEqual(PeerCodec.decode(PeerCodec.encoded(value)[...], at: &i), value)
        }
        var i = 0
        XCTAssertNil(PeerCodec.decode([0xF0, 0x80][...], at: &i), "a truncated integer is not read")
    }

    /// HAProxy's `define` of `table t type string size 1m expire 10m` (server_id and
    /// server_key added by its `stick on` rule), byte for byte.
    private let haproxyDefine: [UInt8] = [0x0A, 0x82, 0x0E, 0x01, 0x02, 0x2F, 0x74, 0x06, 0x20, 0xF1, 0xF1, 0xFE, 0x00, 0xF0, 0xED, 0xA3, 0x01]
    /// Its update of key `c2` stuck to server 1, `srv1` (update number 1, the dictionary entry new).
    private let haproxyUpdate: [UInt8] = [0x0A, 0x80, 0x0F, 0x00, 0x00, 0x00, 0x01, 0x02, 0x63, 0x32, 0x01, 0x06, 0x01, 0x04, 0x73, 0x72, 0x76, 0x31]

    private var definition: Codec.Definition {
        Codec.Definition(id: 1, name: "/t", keyType: .string, keySize: 32,
                         dataTypes: 1 << 0 | 1 << 19, expire: 600_000)
    }

    func testOurDefinitionAndUpdateAreHAProxysBytes() {
        XCTAssertEqual(Codec.encodeDefinition(definition), haproxyDefine)
        var dictionary = PeerDictionary()
        let update = Codec.Update(id: 1, expire: nil, key: Array("c2".utf8), values: [0: .integer(1), 19: .dictionary("srv1")])
        XCTAssertEqual(Codec.encodeUpdate(update, definition: definition, dictionary: &dictionary), haproxyUpdate)
        // The same server again: its dictionary number alone.
        let again = Codec.Update(id: nil, expire: nil, key: Array("c3".utf8), values: [0: .integer(1), 19: .dictionary("srv1")])
        XCTAssertEqual(Codec.encodeUpdate(again, definition: definition, dictionary: &dictionary),
                       [0x0A, 0x81, 0x06, 0x02, 0x63, 0x33, 0x01, 0x01, 0x01])
    }

    func testHAProxysMessagesDecode() throws {
        guard case .frame(let define, let used) = PeerCodec.frame(haproxyDefine[...]) else { return XCTFail("no frame") }
        XCTAssertEqual(used, haproxyDefine.count)
        XCTAssertEqual(try Codec.decodeDefinition(define.body), definition)
        guard case .frame(let frame, _) = PeerCodec.frame(haproxyUpdate[...]) else { return XCTFail("no frame") }
        var dictionary = PeerDictionary()
        let update = try Codec.decodeUpdate(frame.body, type: .update, definition: definition, dictionary: &dictionary)
        XCTAssertEqual(update, Codec.Update(id: 1, expire: nil, key: Array("c2".utf8), values: [0: .integer(1), 19: .dictionary("srv1")]))
        // A later update naming the dictionary entry by number.
        let short = try Codec.decodeUpdate([0x02, 0x63, 0x33, 0x01, 0x01, 0x01], type: .incrementalUpdate, definition: definition, dictionary: &dictionary)
        XCTAssertEqual(short.values[19], .dictionary("srv1"))
    }

    func testFramingWaitsForWholeMessages() {
        XCTAssertEqual(PeerCodec.frame([0x0A][...]), .needMore)
        XCTAssertEqual(PeerCodec.frame(haproxyUpdate.dropLast()), .needMore)
        XCTAssertEqual(PeerCodec.frame([0x00, 0x04, 0x0A][...]), .frame(.init(messageClass: 0, type: 4, body: []), consumed: 2))
        // A length of 526576 bytes (0xF0 + 0x80 << 4 + 0x80 << 11 + 1 << 18): refused, not awaited.
        XCTAssertEqual(PeerCodec.frame([0x0A, 0x80, 0xF0, 0x80, 0x80, 0x01][...]), .tooLarge(526_576))
    }

    func testRoundTripsOfEveryKindOfValue() throws {
        var d = Codec.Definition(id: 7, name: "be", keyType: .ip, keySize: 4,
                                 dataTypes: 1 << 0 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 9 | 1 << 10 | 1 << 19 | 1 << 23, expire: 30_000,
                                 periods: [5: 10_000, 10: 1_000])
        d.arrayCounts[23] = 2
        guard case .frame(let f, _) = PeerCodec.frame(Codec.encodeDefinition(d)[...]) else { return XCTFail() }
        XCTAssertEqual(try Codec.decodeDefinition(f.body), d)
        let update = Codec.Update(id: 4_000_000_000, expire: 12_345, key: [127, 0, 0, 9], values: [
            0: .integer(3), 4: .integer(100_000), 5: .frequency(elapsed: 400, current: 7, previous: 250), 6: .integer(2),
            9: .integer(0), 10: .frequency(elapsed: 0, current: 0, previous: 0), 19: .dictionary("web-3"), 23: .array([.integer(1), .integer(2)]),
        ])
        var tx = PeerDictionary(), rx = PeerDictionary()
        let bytes = Codec.encodeUpdate(update, definition: d, dictionary: &tx)
        guard case .frame(let u, _) = PeerCodec.frame(bytes[...]) else { return XCTFail() }
        XCTAssertEqual(u.type, PeerCodec.TableMessage.updateTimed.rawValue)
        XCTAssertEqual(try Codec.decodeUpdate(u.body, type: .updateTimed, definition: d, dictionary: &rx), update)
        guard case .frame(let ack, _) = PeerCodec.frame(Codec.encodeAck(tableID: 7, update: 99)[...]) else { return XCTFail() }
        XCTAssertEqual(ack.body, [0x07, 0, 0, 0, 99])
        XCTAssertEqual(try Codec.decodeAck(ack.body).update, 99)
        XCTAssertThrowsError(try Codec.decodeUpdate([0, 0, 0, 1, 127], type: .update, definition: d, dictionary: &rx), "a short key is malformed")
        // Lengths as large as an integer goes are refused, not trusted.
        let huge = PeerCodec.encoded(UInt64.max)
        XCTAssertThrowsError(try Codec.decodeDefinition([1] + huge + [0x61, 6, 32, 0]))
        XCTAssertThrowsError(try Codec.decodeUpdate(huge + [0x61], type: .incrementalUpdate, definition: definition, dictionary: &rx))
        XCTAssertThrowsError(try Codec.decodeUpdate([1, 0x61, 1] + huge, type: .incrementalUpdate, definition: definition, dictionary: &rx))
        // So is a fixed key size a remote definition gives (it trapped converting to Int).
        for size in [UInt64.max, UInt64(Int.max), UInt64(Int.max) - 2] {
            let remote = Codec.Definition(id: 9, name: "bin", keyType: .binary, keySize: size, dataTypes: 0, expire: 0)
            XCTAssertThrowsError(try Codec.decodeUpdate([1, 2, 3], type: .incrementalUpdate, definition: remote, dictionary: &rx), "key size \(size)")
        }
    }

    func testTheDictionaryReusesNumbersInTurn() {
        var dictionary = PeerDictionary()
        XCTAssertEqual(dictionary.send("a"), .new(1))
        XCTAssertEqual(dictionary.send("a"), .known(1))
        for n in 2...128 { XCTAssertEqual(dictionary.send("s\(n)"), .new(n)) }
        XCTAssertEqual(dictionary.send("b"), .new(1), "the 129th value takes number 1 again")
        XCTAssertEqual(dictionary.send("a"), .new(2), "and 'a' is forgotten")
    }

    // MARK: the lesson (resync from a peer)

    func testTheLessonIsAskedOnceFinishedByItsTeacherAndRetriedAfterAPartialOne() {
        var lesson = PeerLesson()
        XCTAssertTrue(lesson.established("a"), "the first session asks")
        XCTAssertFalse(lesson.established("b"), "one teacher at a time")
        XCTAssertFalse(lesson.answered(by: "b", complete: true), "b was not asked")
        XCTAssertFalse(lesson.answered(by: "a", complete: false), "partial: still waiting")
        XCTAssertFalse(lesson.isUpToDate)
        XCTAssertTrue(lesson.askAgain("b"), "after a partial lesson any session may be asked")
        lesson.ended("b")
        XCTAssertTrue(lesson.established("a"), "the teacher went away mid-lesson: the next session asks")
        XCTAssertTrue(lesson.answered(by: "a", complete: true))
        XCTAssertTrue(lesson.isUpToDate)
        XCTAssertFalse(lesson.established("c"), "up to date: nobody is asked")
        XCTAssertFalse(lesson.timedOut())
    }

    func testWithoutATeacherTheWaitEndsAtTheTimeout() {
        var lesson = PeerLesson()
        XCTAssertTrue(lesson.established("a"))
        XCTAssertTrue(lesson.timedOut(), "two instances starting together do not wait on each other for ever")
        XCTAssertTrue(lesson.isUpToDate)
        XCTAssertFalse(lesson.answered(by: "a", complete: true), "a late lesson changes nothing")
    }

    // MARK: the table's change log

    func testTheChangeLogWakesThePeersOnceAndAgainAfterARearm() {
        final class Count: @unchecked Sendable { var n = 0 }
        let sync = StickTableSync(wireName: "/t", peers: "p", lengthWritten: false)
        let wakes = Count()
        sync.setWake { wakes.n += 1 }
        sync.changed([1])
        sync.changed([2])
        XCTAssertEqual(wakes.n, 1, "one wake-up while one is pending")
        // The wake-up handled with no session to take the changes (the bug this guards: the
        // log stayed "pending" and never woke the peers again).
        sync.rearm()
        sync.changed([3])
        XCTAssertEqual(wakes.n, 2)
        XCTAssertEqual(sync.changes(after: 1)?.map(\.number), [2, 3])
        XCTAssertEqual(sync.changes(after: 1)?.map(\.key), [[2], [3]])
        XCTAssertEqual(sync.changes(after: 3)?.count, 0)
        XCTAssertNil(sync.changes(after: 4), "ahead of the log: send the whole table")
        XCTAssertEqual(sync.lastNumber, 3)
    }

    // MARK: the session

    private let tables = ["/t": Codec.Definition(id: 1, name: "/t", keyType: .string, keySize: 32, dataTypes: 1 | 1 << 19, expire: 600_000)]

    func testAcceptingAHelloFromAKnownPeer() {
        var m = PeerSessionMachine(role: .acceptor(peers: ["A"]), localName: "B", localTables: tables)
        XCTAssertEqual(m.start(pid: 1), [])
        XCTAssertEqual(m.receive(Array("HAProxyS 2.1\nB\n".utf8)), [])
        XCTAssertEqual(m.receive(Array("A 4242 1\n".utf8)), [.send(Array("200\n".utf8)), .event(.established(peer: "A"))])
        XCTAssertEqual(m.peer, "A")
        // Then HAProxy's define and update, in one read, and a heartbeat.
        XCTAssertEqual(m.receive(haproxyDefine + haproxyUpdate + [0x00, 0x04]), [
            .event(.update(table: "/t", Codec.Update(id: 1, expire: nil, key: Array("c2".utf8), values: [0: .integer(1), 19: .dictionary("srv1")]))),
            .event(.control(.heartbeat)),
        ])
        XCTAssertEqual(m.acknowledgements(), [0x0A, 0x84, 0x05, 0x01, 0, 0, 0, 1])
        XCTAssertEqual(m.acknowledgements(), [], "acknowledged once")
    }

    func testRefusingWrongHellos() {
        func answer(_ hello: String) -> [PeerSessionMachine.Output] {
            var m = PeerSessionMachine(role: .acceptor(peers: ["A"]), localName: "B", localTables: tables)
            _ = m.start(pid: 1)
            return m.receive(Array(hello.utf8))
        }
        XCTAssertEqual(answer("HAProxyS 3.0\n"), [.send(Array("502\n".utf8)), .close(reason: "handshake refused with 502")])
        XCTAssertEqual(answer("HAProxyS 2.1\nC\n"), [.send(Array("503\n".utf8)), .close(reason: "handshake refused with 503")])
        XCTAssertEqual(answer("HAProxyS 2.1\nB\nZ 1 1\n"), [.send(Array("504\n".utf8)), .close(reason: "handshake refused with 504")])
        XCTAssertEqual(answer("GET / HTTP/1.1\n"), [.send(Array("501\n".utf8)), .close(reason: "handshake refused with 501")])
    }

    func testConnectingAndSendingUpdates() {
        var m = PeerSessionMachine(role: .connector(remote: "A"), localName: "B", localTables: tables)
        XCTAssertEqual(m.start(pid: 77), [.send(Array("HAProxyS 2.1\nA\nB 77 1\n".utf8))])
        XCTAssertEqual(m.receive(Array("200\n".utf8)), [.event(.established(peer: "A"))])
        let first = m.encodeUpdate(table: "/t", number: 1, key: Array("c2".utf8), expire: nil, values: [0: .integer(1), 19: .dictionary("srv1")])
        XCTAssertEqual(first, haproxyDefine.enumerated().map { $0.offset == 3 ? 0x01 : $0.element } + haproxyUpdate,
                       "the table's definition, then the update with its number")
        let second = m.encodeUpdate(table: "/t", number: 2, key: Array("c3".utf8), expire: nil, values: [0: .integer(1), 19: .dictionary("srv1")])
        XCTAssertEqual(second, [0x0A, 0x81, 0x06, 0x02, 0x63, 0x33, 0x01, 0x01, 0x01], "an incremental update: no number, no definition")
        let refused = PeerSessionMachine(role: .connector(remote: "A"), localName: "B", localTables: tables)
        var r = refused
        _ = r.start(pid: 1)
        XCTAssertEqual(r.receive(Array("504\n".utf8)),
                       [.event(.refused("peer 'A' answered 504 (it does not know this peer's name)")), .close(reason: "handshake refused")])
    }

    /// Whatever an established peer sends, the session answers or closes; it never traps.
    func testArbitraryBytesNeverTrapTheSession() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
            return seed
        }
        let seeds = [haproxyDefine, haproxyUpdate, [0x0A, 0x81], [0x0A, 0x85], [0x0A, 0x84], [0x0A, 0x83], [0x00, 0x00], [0xF0, 0xFF, 0xFF]]
        for _ in 0..<3000 {
            var m = PeerSessionMachine(role: .connector(remote: "A"), localName: "B", localTables: tables)
            _ = m.start(pid: 1)
            _ = m.receive(Array("200\n".utf8))
            var bytes: [UInt8] = []
            for _ in 0..<(1 + next() % 6) {
                var piece = seeds[Int(next() % UInt64(seeds.count))]
                for _ in 0..<(next() % 4) where !piece.isEmpty { piece[Int(next() % UInt64(piece.count))] = UInt8(truncatingIfNeeded: next()) }
                bytes += piece
            }
            _ = m.receive(bytes)
            _ = m.acknowledgements()
        }
    }

    func testAnUnknownTableIsIgnoredAndAMalformedMessageCloses() {
        var m = PeerSessionMachine(role: .connector(remote: "A"), localName: "B", localTables: tables)
        _ = m.start(pid: 1)
        _ = m.receive(Array("200\n".utf8))
        var other = definition
        other.name = "/u"
        XCTAssertEqual(m.receive(Codec.encodeDefinition(other) + haproxyUpdate), [], "updates of a table we do not share are dropped")
        XCTAssertEqual(m.receive([0x00, 0x00] + haproxyDefine + [0x0A, 0x80, 0x02, 0x00, 0x00]),
                       [.event(.control(.resyncRequest)), .send([0x01, 0x00]), .close(reason: "malformed message: malformed(\"update id\")")])
        // The resync request is handed up after the machine closed: a lesson sent now is nothing.
        XCTAssertEqual(m.encodeUpdate(table: "/t", number: 1, key: [0x61], expire: 0, values: [:]), [])
    }
}

