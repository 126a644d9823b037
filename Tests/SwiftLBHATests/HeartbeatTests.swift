import XCTest
@testable import SwiftLBHA
import SwiftLBConfig

final class HeartbeatTests: XCTestCase {
    let key = Array("correct horse battery staple".utf8)
    func beat(_ seq: UInt64, priority: UInt8 = 150) -> Heartbeat {
        Heartbeat(routerID: 51, priority: priority, intervalMilliseconds: 100, sender: 0xC0A8_7A0B, sequence: seq)
    }

    func testRoundTripWithHMAC() throws {
        let codec = HeartbeatCodec(key: key, routerID: 51)
        let bytes = codec.encode(beat(7))
        XCTAssertEqual(bytes.count, Heartbeat.size)
        XCTAssertEqual(try codec.decode(bytes).get(), beat(7))
    }

    /// keepalived's `auth_pass`: two instances with the same password derive the same key and
    /// understand each other; another password, or none, is a forger.
    func testAKeyDerivedFromAKeepalivedPasswordAuthenticates() throws {
        func settings(_ pass: String?) -> VRRPSettings {
            var v = VRRPSettings(name: "VI_1", line: 1)
            v.authPass = pass
            return v
        }
        var warnings: [ConfigError] = []
        let mine = try XCTUnwrap(try HeartbeatKey.load(settings("secret12"), configFile: "k.conf", warnings: &warnings))
        let sibling = try XCTUnwrap(try HeartbeatKey.load(settings("secret12"), configFile: "k.conf", warnings: &warnings))
        let other = try XCTUnwrap(try HeartbeatKey.load(settings("secret13"), configFile: "k.conf", warnings: &warnings))
        XCTAssertEqual(mine, sibling)
        XCTAssertEqual(mine.count, 32)
        XCTAssertNotEqual(mine, Array("secret12".utf8), "the password is not the key itself")
        let codec = HeartbeatCodec(key: mine, routerID: 51)
        XCTAssertEqual(HeartbeatCodec(key: sibling, routerID: 51).decode(codec.encode(beat(1))), .success(beat(1)))
        XCTAssertEqual(HeartbeatCodec(key: other, routerID: 51).decode(codec.encode(beat(1))), .failure(.badMAC))
        XCTAssertNil(try HeartbeatKey.load(settings(nil), configFile: "k.conf", warnings: &warnings))
    }

    func testForgedTamperedTruncatedAndForeignPacketsAreDropped() {
        let codec = HeartbeatCodec(key: key, routerID: 51)
        let forger = HeartbeatCodec(key: Array("wrong key".utf8), routerID: 51)
        XCTAssertEqual(codec.decode(forger.encode(beat(1))), .failure(.badMAC))
        var tampered = codec.encode(beat(1))
        tampered[6] = 255  // raise the priority without the key
        XCTAssertEqual(codec.decode(tampered), .failure(.badMAC))
        XCTAssertEqual(codec.decode(Array(codec.encode(beat(1)).prefix(40))), .failure(.badLength(40)))
        XCTAssertEqual(codec.decode(HeartbeatCodec(key: key, routerID: 52).encode(beat(1))), .failure(.otherRouter(52)))
        var garbage = codec.encode(beat(1))
        garbage[0] = 0
        XCTAssertEqual(codec.decode(garbage), .failure(.badMagicOrVersion))
        // auth none does not accept authenticated peers' packets as unauthenticated ones.
        XCTAssertEqual(HeartbeatCodec(key: nil, routerID: 51).decode(codec.encode(beat(1))), .failure(.badMAC))
    }

    func testReplayedAndStaleSequencesAreDropped() throws {
        let codec = HeartbeatCodec(key: key, routerID: 51)
        var guardian = ReplayGuard()
        let first = try codec.decode(codec.encode(beat(10))).get()
        XCTAssertEqual(guardian.admit(first), .success(first))
        XCTAssertEqual(guardian.admit(first), .failure(.replayed(last: 10, got: 10)))
        XCTAssertEqual(guardian.admit(beat(9)), .failure(.replayed(last: 10, got: 9)))
        XCTAssertEqual(guardian.admit(beat(11)), .success(beat(11)))
    }

    func testACaptureOlderThanAMinuteIsStaleEvenToAFreshGuard() {
        var fresh = ReplayGuard()  // e.g. the receiver restarted and forgot the sender's sequence
        let now: Int64 = 1_800_000_000_000
        let old = beat(UInt64(now - 61_000) << 20)
        XCTAssertEqual(fresh.admit(old, wallClockMilliseconds: now), .failure(.stale(ageMilliseconds: 61_000)))
        let recent = beat(UInt64(now - 50) << 20)
        XCTAssertEqual(fresh.admit(recent, wallClockMilliseconds: now), .success(recent))
    }

    func testSequencesIncreaseAcrossARestartAndWithinAMillisecond() {
        var before = SequenceSource()
        let a = before.take(wallClockMilliseconds: 1_000_000), b = before.take(wallClockMilliseconds: 1_000_000)
        var after = SequenceSource()  // restarted 1 ms later
        XCTAssertLessThan(a, b)
        XCTAssertLessThan(b, after.take(wallClockMilliseconds: 1_000_001))
    }

    /// A sender that has run for an hour is not stale: its sequences carry the current time.
    func testALongRunningSendersHeartbeatsAreNotStale() {
        var source = SequenceSource()
        let start: UInt64 = 1_800_000_000_000
        _ = source.take(wallClockMilliseconds: start)
        let now = start + 3_600_000
        var guardian = ReplayGuard()
        let late = beat(source.take(wallClockMilliseconds: now))
        XCTAssertEqual(guardian.admit(late, wallClockMilliseconds: Int64(now) + 5), .success(late))
    }
}
