import Atomics
import NIOConcurrencyHelpers
import NIOEmbedded
import XCTest
@testable import SwiftLBProxy
import SwiftLBHealth

/// The queue's decisions, on an embedded loop: which waiters a freed slot, a server that stops
/// taking clients (`redistribute`) and a server that comes up (`grab`) wake, in what order, and
/// why each was woken (what the woken stream then does with its pin).
final class BackendQueueTests: XCTestCase {
    private let loop = EmbeddedEventLoop()
    private let woken = NIOLockedValueBox<[(String, BackendQueue.Waiter.Wake)]>([])

    private func waiter(_ name: String, target: Int?) -> BackendQueue.Waiter {
        BackendQueue.Waiter(loop: loop, target: target) { [woken] why in woken.withLockedValue { $0.append((name, why)) } }
    }

    /// Runs the wakes scheduled on the loop and returns them (then forgets them).
    private func drained() -> [String] {
        loop.run()
        return woken.withLockedValue { w in
            defer { w = [] }
            return w.map { "\($0.0):\($0.1)" }
        }
    }

    func testRedistributeWakesOnlyTheWaitersPinnedToThatServerAndSaysSo() {
        let queue = BackendQueue()
        let pinned1 = waiter("p1", target: 1), any = waiter("any", target: nil), pinned0 = waiter("p0", target: 0), later1 = waiter("q1", target: 1)
        for w in [pinned1, any, pinned0, later1] { queue.enqueue(w) }
        XCTAssertEqual(queue.redistribute(server: 1), 2)
        XCTAssertEqual(drained(), ["p1:redistributed", "q1:redistributed"])
        XCTAssertEqual(pinned1.wokenBy, .redistributed)
        XCTAssertNil(any.wokenBy)
        XCTAssertEqual(queue.count, 2, "the unpinned waiter and s0's stay")
        XCTAssertEqual(queue.redistribute(server: 1), 0)
    }

    func testGrabWakesUnpinnedWaitersUpToTheFreeSlotsOldestFirst() {
        let queue = BackendQueue()
        let names = ["a", "p0", "b", "c"]
        for name in names { queue.enqueue(waiter(name, target: name == "p0" ? 0 : nil)) }
        XCTAssertEqual(queue.grab(server: 2, slots: 2), 2)
        XCTAssertEqual(drained(), ["a:slot(Optional(2))", "b:slot(Optional(2))"])
        XCTAssertEqual(queue.grab(server: 2, slots: 0), 0, "a full server takes nobody")
        XCTAssertEqual(queue.grab(server: 2, slots: nil), 1, "without maxconn, every unpinned one")
        XCTAssertEqual(drained(), ["c:slot(Optional(2))"])
        XCTAssertEqual(queue.count, 1, "the waiter pinned to s0 is not another server's to take")
    }

    /// A slot freed by a server that takes no new clients (maintenance, down, a backup while
    /// actives are up) goes to the oldest client pinned to it, never to an older unpinned one
    /// who could not use it (HAProxy's process_srv_queue without px_ok).
    func testASlotOfAServerTakingNoNewClientsGoesOnlyToItsPinnedWaiter() {
        let queue = BackendQueue()
        let any = waiter("any", target: nil), pinned = waiter("p1", target: 1)
        for w in [any, pinned] { queue.enqueue(w) }
        queue.wakeOne(freed: 1, pinnedOnly: true)
        XCTAssertEqual(drained(), ["p1:slot(Optional(1))"])
        queue.wakeOne(freed: 1, pinnedOnly: true)
        XCTAssertEqual(drained(), [], "no one pinned to s1 is left; the unpinned waiter keeps its place")
        XCTAssertEqual(queue.count, 1)
    }

    func testAWaiterThatGaveUpIsSkippedAndAFreedSlotGoesToOneThatCanUseIt() {
        let queue = BackendQueue()
        let gone = waiter("gone", target: nil), pinned = waiter("p1", target: 1), any = waiter("any", target: nil)
        for w in [gone, pinned, any] { queue.enqueue(w) }
        XCTAssertTrue(gone.claim(), "its stream gave up")
        queue.wakeOne(freed: 0)
        XCTAssertEqual(drained(), ["any:slot(Optional(0))"], "s0's slot: not the one pinned to s1")
        XCTAssertEqual(any.wokenBy, .slot(0))
        queue.wakeOne(freed: 1)
        XCTAssertEqual(drained(), ["p1:slot(Optional(1))"])
        XCTAssertEqual(queue.count, 0)
    }

    /// HAProxy's process_srv_queue after a server's maxconn grew: up to its free slots, the
    /// oldest waiters pinned to it or (when it serves the backend's queue) unpinned, in order;
    /// `unpinnedCount` (HAProxy's proxy queue) follows, and a waiter that gave up and left
    /// counts no more.
    func testWakeServesPinnedAndUnpinnedWaitersUpToTheSlotsAndCountsTheUnpinned() {
        let queue = BackendQueue()
        let a = waiter("a", target: nil), p1 = waiter("p1", target: 1), p0 = waiter("p0", target: 0), b = waiter("b", target: nil), c = waiter("c", target: nil)
        for w in [a, p1, p0, b, c] { queue.enqueue(w) }
        XCTAssertEqual([queue.count, queue.unpinnedCount], [5, 3])
        XCTAssertTrue(c.claim(), "its client gave up")
        queue.remove(c)
        XCTAssertEqual([queue.count, queue.unpinnedCount], [4, 2], "gone at once, not at the next wake")
        XCTAssertEqual(queue.wake(server: 1, slots: 2, pinnedOnly: false), 2)
        XCTAssertEqual(drained(), ["a:slot(Optional(1))", "p1:slot(Optional(1))"])
        XCTAssertEqual(queue.wake(server: 1, slots: 5, pinnedOnly: true), 0, "in drain: only its own pinned waiters, none left")
        XCTAssertEqual(queue.wake(server: 1, slots: nil, pinnedOnly: false), 1, "no maxconn: every one it can take")
        XCTAssertEqual(drained(), ["b:slot(Optional(1))"])
        XCTAssertEqual([queue.count, queue.unpinnedCount], [1, 0], "s0's waiter stays")
    }

    /// A waiter that a server refused (its stream excluded it) waits for the others only: it
    /// is no sign that every server is full, so newcomers do not queue behind it (they would
    /// wait beside a free slot of the server it refuses), and that server's slot never wakes it.
    func testAWaiterThatExcludedAServerDoesNotCountAsWaitingForAny() {
        let queue = BackendQueue()
        var refusedBy0 = ServerSet()
        refusedBy0.insert(0)
        let excluding = BackendQueue.Waiter(loop: loop, target: nil, excluded: refusedBy0) { [woken] why in woken.withLockedValue { $0.append(("x", why)) } }
        queue.enqueue(excluding)
        XCTAssertEqual(queue.count, 1)
        XCTAssertEqual(queue.unpinnedCount, 0)
        XCTAssertEqual(queue.wake(server: 0, slots: 1, pinnedOnly: false), 0, "a slot of the server it refused is none for it")
        queue.enqueue(waiter("any", target: nil))
        XCTAssertEqual(queue.unpinnedCount, 1)
        XCTAssertEqual(queue.wake(server: 1, slots: 2, pinnedOnly: false), 2)
        XCTAssertEqual(drained(), ["x:slot(Optional(1))", "any:slot(Optional(1))"])
        XCTAssertEqual(queue.unpinnedCount, 0)
    }

    /// The woken waiters leave the counts only once their slots are held: a newcomer that
    /// reads them without the lock never sees the queue empty and the slot still free.
    func testWokenWaitersLeaveTheCountsOnlyAfterTheirSlotsAreHeld() {
        let queue = BackendQueue()
        let queued = ManagedAtomic<Int>(0)
        let pinned = BackendQueue.Waiter(loop: loop, target: 0, queued: queued) { _ in }
        queue.enqueue(pinned)
        let gaveUp = waiter("gave up", target: nil)
        queue.enqueue(gaveUp)
        XCTAssertTrue(gaveUp.claim())  // its owner gave up; its `remove` has not run yet
        queue.enqueue(waiter("any", target: nil))
        var seen: [Int] = []
        XCTAssertEqual(queue.wake(server: 0, slots: 2, pinnedOnly: false) { held in
            seen = [held, queue.count, queue.unpinnedCount, queued.load(ordering: .relaxed)]
        }, 2)
        XCTAssertEqual(seen, [2, 2, 1, 1], "held, then the counts as they were (without the one that gave up)")
        XCTAssertEqual([queue.count, queue.unpinnedCount, queued.load(ordering: .relaxed)], [0, 0, 0])
    }

    /// What moves the queue: a change of whether the server takes new clients, or its
    /// sticky clients leaving too (drain → DOWN, drain → maintenance: HAProxy redistributes
    /// on each entry into such a state); nothing else does, and the log line then says 0.
    func testTheServersStateChangesThatMoveItsQueue() {
        let health = ServerHealth(backend: "b", server: "s", maxconn: 1)
        health.set(.up)
        let calls = NIOLockedValueBox(0)
        health.setAvailabilityChangeAction {
            calls.withLockedValue { $0 += 1 }
            return QueueMove(requeued: 1, remaining: 0)
        }
        health.setAdmin(.drain)
        XCTAssertEqual(calls.withLockedValue { $0 }, 1, "ready → drain: no new clients")
        health.set(.down)
        XCTAssertEqual(calls.withLockedValue { $0 }, 2, "drain → DOWN: its sticky clients go too")
        health.setAdmin(.maint)
        XCTAssertEqual(calls.withLockedValue { $0 }, 2, "DOWN → maintenance changes nothing for the queue")
        XCTAssertEqual(health.lastQueueMove, QueueMove(), "and its log line moves nobody")
        health.setAdmin(.ready)
        health.set(.up)
        XCTAssertEqual(calls.withLockedValue { $0 }, 3, "UP and ready again: it takes clients (grab)")
    }
}
