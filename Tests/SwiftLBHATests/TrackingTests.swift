import SwiftLBConfig
import XCTest
@testable import SwiftLBHA

/// The fold of tracked inputs into a priority and a fault, and the rise/fall filter of a
/// script: pure functions.
final class TrackingTests: XCTestCase {
    func input(_ name: String, _ weight: Int, up: Bool) -> Tracking.Input {
        Tracking.Input(name: name, weight: weight, up: up, downReason: "\(name) is down")
    }

    func testWeightsFollowKeepalived() {
        // +20 while up, -60 while down, 0: FAULT while down.
        XCTAssertEqual(Tracking.evaluate(configured: 100, inputs: [input("a", 20, up: true), input("b", -60, up: true)]).priority, 120)
        XCTAssertEqual(Tracking.evaluate(configured: 100, inputs: [input("a", 20, up: false), input("b", -60, up: false)]).priority, 40)
        let fault = Tracking.evaluate(configured: 100, inputs: [input("a", 0, up: true), input("b", 0, up: false), input("c", 0, up: false)])
        XCTAssertEqual(fault.fault, "b is down")
        XCTAssertEqual(fault.faults, ["b is down", "c is down"])
        XCTAssertEqual(fault.priority, 100, "a fault does not move the priority")
        XCTAssertNil(Tracking.evaluate(configured: 100, inputs: [input("a", 0, up: true)]).fault)
    }

    func testFixedFaultsComeFirstAndThePriorityStaysIn1To254() {
        let outcome = Tracking.evaluate(configured: 100, inputs: [input("s", 0, up: false)], faults: ["interface eth0 is down"])
        XCTAssertEqual(outcome.faults, ["interface eth0 is down", "s is down"])
        XCTAssertEqual(Tracking.evaluate(configured: 10, inputs: [input("s", -253, up: false)]).priority, 1, "never 0: that means resigning")
        XCTAssertEqual(Tracking.evaluate(configured: 250, inputs: [input("s", 253, up: true)]).priority, 254, "never 255: that means address owner")
    }

    /// keepalived's alloc_track_script: `chk weight 5` in an instance replaces the script's
    /// weight and keeps its `reverse`; `noreverse` drops it. Read from keepalived's syntax.
    func testAnInstanceWeightKeepsTheScriptsReverseUnlessNoreverse() throws {
        let text = "vrrp_script chk {\n  script \"true\"\n  weight -20 reverse\n}\nvrrp_instance VI {\n  interface eth0\n  virtual_router_id 5\n"
            + "  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress { 10.0.0.10 }\n  auth none\n  track_script {\n    chk weight 5\n  }\n}\n"
        func priority(_ text: String, succeeding: Bool) throws -> UInt8 {
            let config = try ConfigParser.parse(text: text, file: "k.conf")
            let track = try XCTUnwrap(config.vrrp?.trackScripts.first), script = try XCTUnwrap(config.vrrpScripts["chk"])
            let input = Tracking.input("script 'chk'", track: (track.weight, track.reverse), block: (script.weight, script.reverse),
                                       up: succeeding, downReason: "failed", upReason: "succeeds")
            return Tracking.evaluate(configured: 100, inputs: [input]).priority
        }
        XCTAssertEqual(try priority(text, succeeding: true), 95, "weight 5 with the script's reverse: -5 while it succeeds")
        XCTAssertEqual(try priority(text, succeeding: false), 100)
        XCTAssertEqual(try priority(text.replacingOccurrences(of: "chk weight 5", with: "chk weight 5 noreverse"), succeeding: true), 105)
        XCTAssertEqual(try priority(text.replacingOccurrences(of: "chk weight 5", with: "chk"), succeeding: false), 120,
                       "the script's own weight -20 reverse: +20 while it fails")
    }

    func testScriptHealthRiseAndFall() {
        var h = ScriptHealth(rise: 2, fall: 3)
        XCTAssertEqual(h.state, .pending)
        XCTAssertTrue(h.record(success: true), "the first result decides at once")
        XCTAssertEqual(h.state, .ok)
        XCTAssertFalse(h.record(success: false))
        XCTAssertFalse(h.record(success: false))
        XCTAssertFalse(h.record(success: true), "a success resets the streak")
        XCTAssertFalse(h.record(success: false))
        XCTAssertFalse(h.record(success: false))
        XCTAssertTrue(h.record(success: false), "three failures in a row")
        XCTAssertEqual(h.state, .failed)
        XCTAssertFalse(h.record(success: true))
        XCTAssertTrue(h.record(success: true), "two successes in a row")
        XCTAssertEqual(h.state, .ok)

        var failing = ScriptHealth(rise: 5, fall: 5)
        XCTAssertTrue(failing.record(success: false))
        XCTAssertEqual(failing.state, .failed, "a first failure is not filtered by fall: no MASTER next to a broken service")
    }
}

/// Two electors exchanging heartbeats on an injected clock, each fed by its node's tracked
/// inputs through `Tracking` — the path a `track_script` or `track_interface` result takes in
/// the shell, without sockets: a failing check moves the VIP, its recovery brings it back.
final class TrackedElectionTests: XCTestCase {
    let ms: Int64 = 1_000_000

    /// One node: its elector, what it tracks, whether it holds the VIP, its pending timer.
    struct Node {
        var elector: Elector
        var configured: Int
        var inputs: [Tracking.Input]
        var holds = false
        var timer: Int64?
        var fault: String?
    }

    /// Heartbeats arrive 1 ms after they are sent; timers fire in time order.
    struct Pair {
        var nodes: [Node]
        var now: Int64 = 0
        var inFlight: [(at: Int64, to: Int, advert: Elector.Advert)] = []
        let addresses: [UInt32] = [0x0A4D_000B, 0x0A4D_000C]

        init(_ a: (priority: Int, inputs: [Tracking.Input]), _ b: (priority: Int, inputs: [Tracking.Input]), preempt: Bool = true) {
            nodes = [a, b].enumerated().map { index, n in
                var s = Elector.Settings(priority: UInt8(n.priority), advertInterval: 100_000_000, localAddress: [0x0A4D_000B, 0x0A4D_000C][index])
                s.preempt = preempt
                return Node(elector: Elector(settings: s), configured: n.priority, inputs: n.inputs)
            }
            for i in 0..<2 { evaluate(i) }
            for i in 0..<2 { apply(i, nodes[i].elector.start(now: now)) }
        }

        /// What the shell does once per interval and on a script change.
        mutating func evaluate(_ i: Int) {
            let outcome = Tracking.evaluate(configured: nodes[i].configured, inputs: nodes[i].inputs)
            apply(i, nodes[i].elector.priorityChanged(to: outcome.priority, now: now))
            if outcome.fault != nodes[i].fault {
                nodes[i].fault = outcome.fault
                apply(i, nodes[i].elector.faultChanged(reason: outcome.fault, now: now))
            }
        }

        mutating func apply(_ i: Int, _ actions: [Elector.Action]) {
            for action in actions {
                switch action {
                case .sendAdvert(let p):
                    inFlight.append((now + 1_000_000, 1 - i, Elector.Advert(priority: p, advertInterval: 100_000_000, sender: addresses[i])))
                case .addVIP: nodes[i].holds = true
                case .removeVIP, .handOverVIP: nodes[i].holds = false
                case .armTimer(let at): nodes[i].timer = at
                case .gratuitousARP, .notify: break
                }
            }
        }

        mutating func set(_ i: Int, input: Int, up: Bool) {
            nodes[i].inputs[input].up = up
            evaluate(i)
        }

        /// Runs the pair until `end`, evaluating the tracked inputs every 100 ms as the shell does.
        mutating func run(for duration: Int64) {
            let end = now + duration
            var nextEvaluation = (now / 100_000_000 + 1) * 100_000_000
            while true {
                let arrival = inFlight.map(\.at).min()
                let timers = nodes.indices.compactMap { i in nodes[i].timer.map { (i, $0) } }.min { $0.1 < $1.1 }
                let next = [arrival, timers?.1, nextEvaluation].compactMap { $0 }.min()!
                guard next <= end else { break }
                now = next
                if let a = arrival, a == next {
                    let k = inFlight.firstIndex { $0.at == a }!
                    let message = inFlight.remove(at: k)
                    apply(message.to, nodes[message.to].elector.heartbeat(message.advert, now: now))
                } else if let (i, at) = timers, at == next {
                    nodes[i].timer = nil
                    apply(i, nodes[i].elector.timerFired(now: now))
                } else {
                    nextEvaluation += 100_000_000
                    for i in 0..<2 { evaluate(i) }
                }
            }
            now = end
        }

        var holders: [Int] { nodes.indices.filter { nodes[$0].holds } }
    }

    func script(_ weight: Int, up: Bool = true) -> Tracking.Input {
        Tracking.Input(name: "script 'chk'", weight: weight, up: up, downReason: "script 'chk' failed (exit 1)")
    }

    func testAFailingScriptWithANegativeWeightMovesTheVIPAndItsRecoveryBringsItBack() {
        // lb1 150 with weight -60 (90 while failing), lb2 100.
        var pair = Pair((150, [script(-60)]), (100, []))
        pair.run(for: 1000 * ms)
        XCTAssertEqual(pair.holders, [0], "lb1 is master")
        pair.set(0, input: 0, up: false)
        XCTAssertEqual(pair.nodes[0].elector.priority, 90)
        pair.run(for: 10 * ms)
        XCTAssertEqual(pair.holders, [1], "lb1 advertised 90 at once; lb2 (100) preempted on that heartbeat")
        XCTAssertEqual(pair.nodes[0].elector.state, .backup)
        pair.run(for: 1000 * ms)
        XCTAssertEqual(pair.holders, [1], "stable while the script fails")
        pair.set(0, input: 0, up: true)
        pair.run(for: 200 * ms)
        XCTAssertEqual(pair.holders, [0], "with preempt, lb1 (150 again) takes the VIP back on lb2's next heartbeat")
        XCTAssertTrue(pair.nodes[0].elector.lastTransitionReason.contains("preempting"))
    }

    func testWithoutPreemptTheRecoveredNodeStaysBackup() {
        var pair = Pair((150, [script(-60)]), (100, []), preempt: false)
        pair.run(for: 1000 * ms)
        XCTAssertEqual(pair.holders, [0])
        pair.set(0, input: 0, up: false)
        pair.run(for: 500 * ms)
        XCTAssertEqual(pair.holders, [0], "nopreempt on lb2 too: a lower live master is left alone")
        pair.set(0, input: 0, up: true)
        pair.run(for: 500 * ms)
        XCTAssertEqual(pair.holders, [0])
    }

    func testAScriptOfWeightZeroIsAFaultThatHandsTheVIPOver() {
        var pair = Pair((150, [script(0)]), (100, []))
        pair.run(for: 1000 * ms)
        pair.set(0, input: 0, up: false)
        XCTAssertEqual(pair.nodes[0].elector.state, .fault)
        XCTAssertEqual(pair.nodes[0].elector.lastTransitionReason, "script 'chk' failed (exit 1)")
        pair.run(for: 500 * ms)
        XCTAssertEqual(pair.holders, [1], "lb1 resigned with priority 0 on entering FAULT; lb2 took over after its skew")
        pair.set(0, input: 0, up: true)
        pair.run(for: 500 * ms)
        XCTAssertEqual(pair.holders, [0], "the fault cleared: backup, then preemption")
    }

    func testATrackedInterfaceDownIsAFaultOrAWeight() {
        let eth1 = Tracking.Input(name: "interface eth1", weight: 0, up: true, downReason: "tracked interface eth1 is down")
        var pair = Pair((150, [eth1]), (100, []))
        pair.run(for: 1000 * ms)
        pair.set(0, input: 0, up: false)
        XCTAssertEqual(pair.nodes[0].elector.state, .fault)
        pair.run(for: 500 * ms)
        XCTAssertEqual(pair.holders, [1])

        var weighted = Pair((150, [Tracking.Input(name: "interface eth1", weight: -30, up: true, downReason: "down")]), (100, []))
        weighted.run(for: 1000 * ms)
        weighted.set(0, input: 0, up: false)
        weighted.run(for: 500 * ms)
        XCTAssertEqual(weighted.holders, [0], "150 - 30 = 120 still outranks 100")
        XCTAssertEqual(weighted.nodes[0].elector.priority, 120)
    }

    /// Active-active: two instances per node, each electing on its own. A script tracked by
    /// one instance moves that instance's VIP only.
    func testTwoInstancesElectIndependently() {
        var vipA = Pair((150, [script(-60)]), (100, []))
        var vipB = Pair((100, []), (150, []))
        vipA.run(for: 1000 * ms)
        vipB.run(for: 1000 * ms)
        XCTAssertEqual(vipA.holders, [0])
        XCTAssertEqual(vipB.holders, [1], "lb2 is master of B")
        vipA.set(0, input: 0, up: false)
        vipA.run(for: 200 * ms)
        vipB.run(for: 200 * ms)
        XCTAssertEqual(vipA.holders, [1])
        XCTAssertEqual(vipB.holders, [1], "B never moved")
    }
}
