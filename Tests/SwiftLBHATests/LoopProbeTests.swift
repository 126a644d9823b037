import Atomics
import NIOEmbedded
import XCTest
@testable import SwiftLBHA

/// The proxy-loop probe on an injected clock and embedded loops: a loop that answers is never
/// late however late the observer itself runs; a loop that does not answer is late once its
/// oldest ping has waited past the limit.
final class LoopProbeTests: XCTestCase {
    final class Clock: Sendable {
        let now = ManagedAtomic<UInt64>(1_000_000_000)
        func advance(ms: UInt64) { now.wrappingIncrement(by: ms * 1_000_000, ordering: .relaxed) }
    }

    func testAnObserverThatRunsLateDoesNotBlameALoopThatAnswers() throws {
        let clock = Clock()
        let loop = EmbeddedEventLoop()
        let probe = LoopProbe(loops: [loop], clock: { clock.now.load(ordering: .relaxed) })
        probe.ping()
        loop.run()  // the proxy loop answers at once
        // The VRRP loop was starved: its next evaluation comes 900 ms later, three times
        // the 300 ms limit. The old probe compared with the last answer and said FAULT.
        clock.advance(ms: 900)
        XCTAssertEqual(probe.lateLoops(limit: 300_000_000), [])
        probe.ping()
        loop.run()
        clock.advance(ms: 5_000)
        XCTAssertEqual(probe.lateLoops(limit: 300_000_000), [])
    }

    func testALoopThatDoesNotAnswerIsLateFromItsOldestPing() throws {
        let clock = Clock()
        let busy = EmbeddedEventLoop(), wedged = EmbeddedEventLoop()
        let probe = LoopProbe(loops: [busy, wedged], clock: { clock.now.load(ordering: .relaxed) })
        probe.ping()
        busy.run()
        for _ in 0..<3 {  // evaluations every 100 ms; the wedged loop runs nothing
            clock.advance(ms: 100)
            XCTAssertEqual(probe.lateLoops(limit: 300_000_000), [])
            probe.ping()  // not sent again to the wedged loop: its first ping still counts
            busy.run()
        }
        clock.advance(ms: 50)
        XCTAssertEqual(probe.lateLoops(limit: 300_000_000), ["proxy event loop 1 has not answered for 350 ms"])
        wedged.run()  // it answers (one task: the one ping it was sent)
        XCTAssertEqual(probe.lateLoops(limit: 300_000_000), [])
    }
}
