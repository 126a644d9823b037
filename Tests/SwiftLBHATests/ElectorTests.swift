import XCTest
@testable import SwiftLBHA

/// Every transition of the elector, on an injected clock (nanoseconds).
final class ElectorTests: XCTestCase {
    let ms: Int64 = 1_000_000
    /// advert_int 100ms; our address 10.0.0.2, the peer's 10.0.0.1.
    func elector(priority: UInt8, preempt: Bool = true, preemptDelay: Int64 = 0, address: UInt32 = 0x0A00_0002) -> Elector {
        var s = Elector.Settings(priority: priority, advertInterval: 100 * ms, localAddress: address)
        s.preempt = preempt
        s.preemptDelay = preemptDelay
        return Elector(settings: s)
    }
    func advert(_ priority: UInt8, from sender: UInt32 = 0x0A00_0001) -> Elector.Advert {
        Elector.Advert(priority: priority, advertInterval: 100 * ms, sender: sender)
    }
    func timer(_ actions: [Elector.Action]) -> Int64? {
        for case .armTimer(let at) in actions { return at }
        return nil
    }

    func testStartsAsBackupAndBecomesMasterAfterMasterDownInterval() {
        var e = elector(priority: 100)
        let a = e.start(now: 0)
        XCTAssertEqual(e.state, .backup)
        // 3 × 100 ms + skew (256 − 100) × 100 ms / 256 = 300 + 60.9 ms
        XCTAssertEqual(e.masterDownInterval, 300 * ms + (156 * 100 * ms) / 256)
        XCTAssertEqual(timer(a), e.masterDownInterval)
        let b = e.timerFired(now: e.masterDownInterval)
        XCTAssertEqual(e.state, .master)
        XCTAssertEqual(Array(b.prefix(3)), [.addVIP, .gratuitousARP, .sendAdvert(priority: 100)], "announced before the old owner hears the heartbeat")
        XCTAssertEqual(timer(b), e.masterDownInterval + 100 * ms, "the next advert one interval later")
        XCTAssertTrue(e.lastTransitionReason.contains("no heartbeat from the master"))
    }

    func testHigherPrioritySkewsLess() {
        XCTAssertLessThan(elector(priority: 200).masterDownInterval, elector(priority: 100).masterDownInterval)
    }

    func testBackupStaysBackupWhileAHigherMasterAdvertises() {
        var e = elector(priority: 100)
        _ = e.start(now: 0)
        for t in stride(from: Int64(100), through: 2000, by: 100) {
            let a = e.heartbeat(advert(150), now: t * ms)
            XCTAssertEqual(e.state, .backup)
            XCTAssertEqual(timer(a), t * ms + e.masterDownInterval, "each heartbeat pushes the deadline")
        }
    }

    func testMasterAdvertisesOnEveryTimer() {
        var e = elector(priority: 255)
        _ = e.start(now: 0)
        XCTAssertEqual(e.state, .master)
        XCTAssertEqual(e.timerFired(now: 100 * ms), [.sendAdvert(priority: 255), .armTimer(at: 200 * ms)])
    }

    func testResignWithPriorityZeroIsActedOnAfterSkewOnly() {
        var e = elector(priority: 100)
        _ = e.start(now: 0)
        _ = e.heartbeat(advert(150), now: 100 * ms)
        let a = e.heartbeat(advert(0), now: 150 * ms)
        XCTAssertEqual(timer(a), 150 * ms + e.skew, "Skew_Time, not Master_Down_Interval")
        _ = e.timerFired(now: 150 * ms + e.skew)
        XCTAssertEqual(e.state, .master)
        XCTAssertEqual(e.lastTransitionReason, "the master resigned (priority 0)")
    }

    func testPreemptionTakesOverALowerMasterAtOnce() {
        var e = elector(priority: 150)
        _ = e.start(now: 0)
        let a = e.heartbeat(advert(100), now: 50 * ms)
        XCTAssertEqual(e.state, .master)
        XCTAssertTrue(a.contains(.addVIP))
        XCTAssertTrue(e.lastTransitionReason.contains("preempting"))
    }

    func testPreemptDelayWaitsBeforeTakingOver() {
        var e = elector(priority: 150, preemptDelay: 1000 * ms)
        _ = e.start(now: 0)
        _ = e.heartbeat(advert(100), now: 100 * ms)
        XCTAssertEqual(e.state, .backup)
        _ = e.heartbeat(advert(100), now: 600 * ms)
        XCTAssertEqual(e.state, .backup, "still within preempt_delay")
        _ = e.heartbeat(advert(100), now: 1100 * ms)
        XCTAssertEqual(e.state, .master)
    }

    func testNopreemptLeavesALiveLowerMasterAlone() {
        var e = elector(priority: 150, preempt: false)
        _ = e.start(now: 0)
        for t in stride(from: Int64(100), through: 1000, by: 100) { _ = e.heartbeat(advert(100), now: t * ms) }
        XCTAssertEqual(e.state, .backup)
        // …but takes over when that master falls silent.
        _ = e.timerFired(now: 1000 * ms + e.masterDownInterval)
        XCTAssertEqual(e.state, .master)
    }

    func testEqualPrioritiesAreBrokenByTheHigherAddress() {
        var high = elector(priority: 100, address: 0x0A00_0002)
        _ = high.start(now: 0)
        _ = high.heartbeat(advert(100, from: 0x0A00_0001), now: 10 * ms)
        XCTAssertEqual(high.state, .master, "10.0.0.2 beats 10.0.0.1 at equal priority")

        var low = elector(priority: 100, address: 0x0A00_0001)
        _ = low.start(now: 0)
        _ = low.timerFired(now: low.masterDownInterval)
        XCTAssertEqual(low.state, .master)
        let a = low.heartbeat(advert(100, from: 0x0A00_0002), now: low.masterDownInterval + 10 * ms)
        XCTAssertEqual(low.state, .backup)
        XCTAssertEqual(Array(a.prefix(2)), [.sendAdvert(priority: 0), .handOverVIP])
    }

    /// Two electors that never heard each other: both master. `a` outranks `b`.
    func splitBrain() -> (Elector, Elector) {
        var a = elector(priority: 150, address: 0x0A00_0002)
        var b = elector(priority: 100, address: 0x0A00_0001)
        _ = a.start(now: 0); _ = b.start(now: 0)
        _ = a.timerFired(now: a.masterDownInterval)
        _ = b.timerFired(now: b.masterDownInterval)
        return (a, b)
    }

    /// After a partition both are master; the moment they hear each other, exactly one stays,
    /// and the winner re-announces the VIP with a fresh gratuitous ARP burst.
    func testSplitBrainResolvesOnTheFirstHeartbeat() {
        var (a, b) = splitBrain()
        XCTAssertEqual([a.state, b.state], [.master, .master])
        let now = 2000 * ms
        let toB = b.heartbeat(advert(150, from: 0x0A00_0002), now: now)
        let toA = a.heartbeat(advert(100, from: 0x0A00_0001), now: now)
        XCTAssertEqual([a.state, b.state], [.master, .backup])
        XCTAssertEqual(Array(toB.prefix(2)), [.sendAdvert(priority: 0), .handOverVIP], "the loser says it yielded")
        XCTAssertTrue(toA.contains(.gratuitousARP), "the winner re-announces after the heal")
        XCTAssertTrue(toA.contains(.sendAdvert(priority: 150)))
    }

    /// The heal seen from one side only: the loser hears the winner first and stops
    /// advertising, so the winner never hears a competing master — only the loser's
    /// priority-0 "yielded" heartbeat, which must make it re-announce the VIP.
    func testTheWinnerReannouncesWhenTheLoserYieldsUnheard() {
        var (a, b) = splitBrain()
        let toB = b.heartbeat(advert(150, from: 0x0A00_0002), now: 2000 * ms)
        XCTAssertEqual(toB.first, .sendAdvert(priority: 0))
        let toA = a.heartbeat(advert(0, from: 0x0A00_0001), now: 2001 * ms)
        XCTAssertEqual(a.state, .master)
        XCTAssertEqual(toA, [.sendAdvert(priority: 150), .gratuitousARP, .armTimer(at: 2101 * ms)])
    }

    func testTrackedBackendFaultResignsAndRecovers() {
        var e = elector(priority: 255)
        _ = e.start(now: 0)
        let down = e.faultChanged(reason: "tracked backend nodes has no usable server", now: 10 * ms)
        XCTAssertEqual(e.state, .fault)
        XCTAssertEqual(Array(down.prefix(2)), [.sendAdvert(priority: 0), .removeVIP])
        XCTAssertEqual(e.timerFired(now: 500 * ms), [], "fault never advertises")
        _ = e.faultChanged(reason: nil, now: 600 * ms)
        XCTAssertEqual(e.state, .backup)
    }

    func testStartingWithAnUnhealthyTrackedBackendIsFault() {
        var e = elector(priority: 100)
        _ = e.faultChanged(reason: "proxy loop 1 does not answer", now: 0)
        _ = e.start(now: 0)
        XCTAssertEqual(e.state, .fault)
    }

    func testMasterReassertsWhenAPeerResigns() {
        var e = elector(priority: 255)
        _ = e.start(now: 0)
        XCTAssertEqual(e.heartbeat(advert(0), now: 20 * ms), [.sendAdvert(priority: 255), .gratuitousARP, .armTimer(at: 120 * ms)])
        XCTAssertEqual(e.state, .master)
    }

    func testResignKeepsTheVIPUntilThePeerIsMaster() {
        var e = elector(priority: 255)
        _ = e.start(now: 0)
        XCTAssertEqual(e.resign(now: 10 * ms), [.sendAdvert(priority: 0), .armTimer(at: 110 * ms)])
        XCTAssertTrue(e.isResigning)
        XCTAssertEqual(e.state, .master, "still the owner until the peer says it took over")
        XCTAssertEqual(e.timerFired(now: 110 * ms), [.sendAdvert(priority: 0), .armTimer(at: 210 * ms)], "keeps resigning each interval")
        XCTAssertEqual(e.heartbeat(advert(0), now: 120 * ms), [], "a peer that is stopping too does not take over")
        let handover = e.heartbeat(advert(100), now: 150 * ms)
        XCTAssertEqual(handover.first, .handOverVIP, "the peer announced itself: make-before-break")
        XCTAssertEqual(e.state, .initial)
        XCTAssertFalse(e.isResigning)
    }

    /// Preempted by a peer that announced itself (its ARP before its heartbeat): the VIP is
    /// handed over (kept a little, then removed), never dropped at once; the new master hears
    /// the priority-0 heartbeat the shell sends halfway and announces again. A fault or a stop
    /// still removes it at once: nobody announced a new owner there.
    func testAPreemptedMasterHandsTheVIPOverAndTheWinnerAnnouncesAgain() {
        var old = elector(priority: 100, address: 0x0A00_0001)
        _ = old.start(now: 0)
        _ = old.timerFired(now: old.masterDownInterval)
        var new = elector(priority: 150)
        _ = new.start(now: 1_000 * ms)
        let preempt = new.heartbeat(advert(100), now: 1_010 * ms)
        XCTAssertEqual(Array(preempt.prefix(3)), [.addVIP, .gratuitousARP, .sendAdvert(priority: 150)])
        let yielded = old.heartbeat(advert(150, from: 0x0A00_0002), now: 1_011 * ms)
        XCTAssertEqual(old.state, .backup)
        XCTAssertTrue(yielded.contains(.handOverVIP))
        XCTAssertFalse(yielded.contains(.removeVIP), "not dropped at once: a client may still be sending here")
        XCTAssertEqual(old.handOverLinger, 200 * ms, "two advert intervals")
        XCTAssertEqual(new.heartbeat(advert(0, from: 0x0A00_0001), now: 1_111 * ms),
                       [.sendAdvert(priority: 150), .gratuitousARP, .armTimer(at: 1_211 * ms)], "the halfway heartbeat: announce again")

        var faulty = elector(priority: 255)
        _ = faulty.start(now: 0)
        XCTAssertTrue(faulty.faultChanged(reason: "down", now: 10 * ms).contains(.removeVIP))
        XCTAssertEqual(elector(priority: 1).handOverLinger, 200 * ms)
        var slow = Elector.Settings(priority: 100, advertInterval: 3_000 * ms, localAddress: 1)
        slow.preempt = true
        XCTAssertEqual(Elector(settings: slow).handOverLinger, 1_000 * ms, "bounded: both hold the address meanwhile")
        var fast = Elector.Settings(priority: 100, advertInterval: 20 * ms, localAddress: 1)
        fast.preempt = true
        XCTAssertEqual(Elector(settings: fast).handOverLinger, 100 * ms, "long enough for a loaded client's late ARP")
    }

    /// A hand-over under way ends if the new master dies and we take the VIP back: the elector
    /// asks for the address again (the shell's `addVIP` cancels the linger).
    func testAHandOverIsUndoneWhenTheNewMasterDisappears() {
        var e = elector(priority: 100, address: 0x0A00_0001)
        _ = e.start(now: 0)
        _ = e.timerFired(now: e.masterDownInterval)
        XCTAssertTrue(e.heartbeat(advert(150, from: 0x0A00_0002), now: 1_000 * ms).contains(.handOverVIP))
        let back = e.timerFired(now: 1_000 * ms + e.masterDownInterval)
        XCTAssertEqual(e.state, .master)
        XCTAssertEqual(Array(back.prefix(2)), [.addVIP, .gratuitousARP])
    }

    func testStopWhileResigningReleasesTheVIP() {
        var e = elector(priority: 255)
        _ = e.start(now: 0)
        _ = e.resign(now: 0)
        XCTAssertEqual(e.stop(now: 2_000 * ms).first, .removeVIP, "the shell's bound ran out: give the VIP up anyway")
        XCTAssertEqual(e.state, .initial)
    }

    func testResignAsBackupJustStops() {
        var e = elector(priority: 100)
        _ = e.start(now: 0)
        XCTAssertFalse(e.resign(now: 0).contains(.removeVIP))
        XCTAssertEqual(e.state, .initial)
    }

    func testLoweredPriorityIsAdvertisedAtOnceAndLetsTheBackupPreempt() {
        var master = elector(priority: 150, address: 0x0A00_0001)
        _ = master.start(now: 0)
        _ = master.timerFired(now: master.masterDownInterval)
        XCTAssertEqual(master.priorityChanged(to: 90, now: 1_000 * ms), [.sendAdvert(priority: 90)])
        var backup = elector(priority: 100)
        _ = backup.start(now: 0)
        _ = backup.heartbeat(advert(90), now: 1_001 * ms)
        XCTAssertEqual(backup.state, .master, "100 outranks the lowered 90")
        let yielded = master.heartbeat(advert(100, from: 0x0A00_0002), now: 1_002 * ms)
        XCTAssertEqual(master.state, .backup)
        XCTAssertEqual(Array(yielded.prefix(2)), [.sendAdvert(priority: 0), .handOverVIP])
    }
}

/// `peerProcessDied`: the kernel's word that the master's process is gone (its peer link
/// closed and its port refused a connection) is acted on at once, by a backup only, and only
/// for the master it follows and that did not resign first.
final class ElectorPeerDeathTests: XCTestCase {
    let ms: Int64 = 1_000_000
    let master: UInt32 = 0x0A00_0001
    func backup(following sender: UInt32? = 0x0A00_0001) -> Elector {
        var e = Elector(settings: Elector.Settings(priority: 100, advertInterval: 100 * ms, localAddress: 0x0A00_0002))
        _ = e.start(now: 0)
        if let sender { _ = e.heartbeat(Elector.Advert(priority: 150, advertInterval: 100 * ms, sender: sender), now: 100 * ms) }
        return e
    }

    func testABackupTakesOverTheMomentTheMastersProcessDies() {
        var e = backup()
        let a = e.peerProcessDied(sender: master, now: 130 * ms)
        XCTAssertEqual(e.state, .master, "30 ms after the last heartbeat, not Master_Down_Interval (\(e.masterDownInterval / ms) ms)")
        XCTAssertEqual(Array(a.prefix(3)), [.addVIP, .gratuitousARP, .sendAdvert(priority: 100)], "address and ARP before the first heartbeat")
        XCTAssertTrue(a.contains(.armTimer(at: 230 * ms)), "advertising every interval from now")
        XCTAssertTrue(e.lastTransitionReason.contains("process died"), e.lastTransitionReason)
    }

    func testAResignationFirstMakesTheDeathAHandover() {
        var e = backup()
        let resign = e.heartbeat(Elector.Advert(priority: 0, advertInterval: 100 * ms, sender: master), now: 150 * ms)
        XCTAssertEqual(e.peerProcessDied(sender: master, now: 151 * ms), [], "the graceful stop is under way: its Skew_Time rules")
        XCTAssertEqual(e.state, .backup)
        for case .armTimer(let at) in resign { _ = e.timerFired(now: at) }
        XCTAssertEqual(e.state, .master)
        XCTAssertEqual(e.lastTransitionReason, "the master resigned (priority 0)")
    }

    func testAMasterWhoseBackupDiedKeepsWhatItHas() {
        var e = Elector(settings: Elector.Settings(priority: 150, advertInterval: 100 * ms, localAddress: 0x0A00_0001))
        _ = e.start(now: 0)
        _ = e.timerFired(now: e.masterDownInterval)
        XCTAssertEqual(e.state, .master)
        XCTAssertEqual(e.peerProcessDied(sender: 0x0A00_0002, now: 1000 * ms), [])
        XCTAssertEqual(e.state, .master)
    }

    func testOnlyTheFollowedMasterCounts() {
        var never = backup(following: nil)
        XCTAssertEqual(never.peerProcessDied(sender: master, now: 50 * ms), [], "a backup that never heard a master has nothing to take over")
        XCTAssertEqual(never.state, .backup)
        var other = backup()
        XCTAssertEqual(other.peerProcessDied(sender: 0x0A00_0009, now: 130 * ms), [], "not the master we follow")
        XCTAssertEqual(other.state, .backup)
    }

    func testFaultInitialAndResigningIgnoreIt() {
        var fault = backup()
        _ = fault.faultChanged(reason: "interface veth0 is down", now: 110 * ms)
        XCTAssertEqual(fault.peerProcessDied(sender: master, now: 120 * ms), [])
        XCTAssertEqual(fault.state, .fault)
        var stopped = backup()
        _ = stopped.stop(now: 110 * ms)
        XCTAssertEqual(stopped.peerProcessDied(sender: master, now: 120 * ms), [])
        XCTAssertEqual(stopped.state, .initial)
    }

    /// A master that yielded a split brain follows the winner: the winner's death counts.
    func testAYieldedMasterFollowsTheWinner() {
        var e = Elector(settings: Elector.Settings(priority: 100, advertInterval: 100 * ms, localAddress: 0x0A00_0002))
        _ = e.start(now: 0)
        _ = e.timerFired(now: e.masterDownInterval)
        _ = e.heartbeat(Elector.Advert(priority: 150, advertInterval: 100 * ms, sender: master), now: 1000 * ms)
        XCTAssertEqual(e.state, .backup)
        _ = e.peerProcessDied(sender: master, now: 1010 * ms)
        XCTAssertEqual(e.state, .master)
    }
}
