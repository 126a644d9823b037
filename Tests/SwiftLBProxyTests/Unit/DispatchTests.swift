import NIOCore
import NIOPosix
import SwiftLBConfig
import XCTest
@testable import SwiftLBProxy

/// The dispatcher's decisions, on a real event loop with real sockets on loopback and no HTTP:
/// a sticky pin wins while its server is usable, redispatch or not when it is not, a full
/// backend queues and a freed slot wakes the queue, a failed connect is retried on another
/// server until `retries` runs out.
final class DispatchTests: XCTestCase {
    var group: MultiThreadedEventLoopGroup!
    var listeners: [any Channel] = []

    override func setUp() { group = MultiThreadedEventLoopGroup(numberOfThreads: 1) }
    override func tearDown() {
        for l in listeners { try? l.close().wait() }
        try? group.syncShutdownGracefully()
    }

    /// A port that accepts connections (and does nothing with them).
    private func listeningPort() throws -> Int {
        let channel = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        listeners.append(channel)
        return channel.localAddress!.port!
    }

    private func runtime(_ backend: String) throws -> ProxyRuntime {
        let text = """
            defaults
                mode http
                timeout connect 1s
            frontend fe
                bind 127.0.0.1:1
                default_backend app
            \(backend)
            """
        return try ProxyRuntime(configuration: ConfigParser.parse(text: text, file: "dispatch-test.conf"))
    }

    /// Records what the dispatcher reports back (touched only on the loop).
    final class Owner: DispatchOwner, @unchecked Sendable {
        var connected: [(ServerConnection, Int)] = []
        var failed: [(Dispatch.Failure, Int)] = []
        var woke = 0
        var wantsWake = true
        func dispatchConnected(_ connection: ServerConnection, generation: Int) { connected.append((connection, generation)) }
        func dispatchConnectFailed(_ failure: Dispatch.Failure, generation: Int) { failed.append((failure, generation)) }
        func dispatchQueueWoke() -> Bool { woke += 1; return wantsWake }
    }

    /// Loop-bound state handed across the test's closures (used only on the loop).
    final class Box<T>: @unchecked Sendable {
        var value: T
        init(_ value: T) { self.value = value }
    }

    private func loopState(_ rt: ProxyRuntime, on loop: any EventLoop) throws -> Box<LoopState> {
        try loop.submit { Box(LoopState(eventLoop: loop, holder: RuntimeHolder(rt), logFD: 1)) }.wait()
    }

    /// Waits (bounded) on the loop until `done` says so.
    private func wait(_ loop: any EventLoop, until done: @escaping @Sendable () -> Bool) throws {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if try loop.submit(done).wait() { return }
            usleep(10_000)
        }
        XCTFail("timed out")
    }

    func testAPinnedServerWinsWhileUsableAndRedispatchDecidesAfter() throws {
        let ports = try (0..<3).map { _ in try listeningPort() }
        let rt = try runtime("backend app\n    option redispatch\n" + ports.enumerated().map { "    server s\($0.offset) 127.0.0.1:\($0.element)" }.joined(separator: "\n"))
        let backend = rt.backends[0]
        let loop = group.next()
        let state = try loopState(rt, on: loop)
        let owner = Owner()
        let chosen: String? = try loop.submit {
            var d = Dispatch(backend: backend, client: nil, pinned: backend.servers[2])
            guard case .connecting = d.next(loop: state.value, owner: owner, freshConnection: false) else { return nil }
            return d.server?.name
        }.wait()
        XCTAssertEqual(chosen, "s2")
        // Down: with redispatch another server takes the client.
        backend.servers[2].health.setAdmin(.maint)
        let other: String? = try loop.submit {
            var d = Dispatch(backend: backend, client: nil, pinned: backend.servers[2])
            _ = d.next(loop: state.value, owner: owner, freshConnection: false)
            return d.server?.name
        }.wait()
        XCTAssertNotNil(other)
        XCTAssertNotEqual(other, "s2")
        try wait(loop) { owner.connected.count == 2 }
    }

    func testWithoutRedispatchAStickyClientOfADownServerFails() throws {
        let port = try listeningPort()
        let rt = try runtime("backend app\n    server a 127.0.0.1:\(port)\n    server b 127.0.0.1:\(port)")
        let backend = rt.backends[0]
        backend.servers[0].health.setAdmin(.maint)
        let loop = group.next()
        let state = try loopState(rt, on: loop)
        let outcome: String = try loop.submit {
            var d = Dispatch(backend: backend, client: nil, pinned: backend.servers[0])
            if case .failed(let f) = d.next(loop: state.value, owner: Owner(), freshConnection: false) { return "\(f)" }
            return "dispatched"
        }.wait()
        XCTAssertEqual(outcome, "stickyServerDown")
    }

    func testAFailedConnectIsRetriedOnAnotherServerUntilRetriesRunOut() throws {
        // Two closed ports (bound then released): every connect is refused.
        let closed = try (0..<2).map { _ -> Int in
            let c = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
            let p = c.localAddress!.port!
            try c.close().wait()
            return p
        }
        let rt = try runtime("backend app\n    retries 1\n    server a 127.0.0.1:\(closed[0])\n    server b 127.0.0.1:\(closed[1])")
        let backend = rt.backends[0]
        let loop = group.next()
        let state = try loopState(rt, on: loop)
        let owner = Owner()
        let dispatch = Box(Dispatch(backend: backend, client: nil))
        try loop.submit { _ = dispatch.value.next(loop: state.value, owner: owner, freshConnection: false) }.wait()
        try wait(loop) { owner.failed.count == 1 }
        let (first, retried, second): (String?, Bool, String?) = try loop.submit {
            let first = dispatch.value.server?.name
            let retried = dispatch.value.retry(excludeCurrent: true)
            _ = dispatch.value.next(loop: state.value, owner: owner, freshConnection: false)
            return (first, retried, dispatch.value.server?.name)
        }.wait()
        XCTAssertTrue(retried)
        XCTAssertNotEqual(first, second, "the retry goes to the other server")
        try wait(loop) { owner.failed.count == 2 }
        XCTAssertEqual(owner.failed.map(\.0), [.connectFailed, .connectFailed])
        let again = try loop.submit { dispatch.value.retry(excludeCurrent: true) }.wait()
        XCTAssertFalse(again, "retries 1: two attempts, then the stream must answer")
        try loop.submit { dispatch.value.release() }.wait()
    }

    func testAFullBackendQueuesAndAFreedSlotWakesTheQueue() throws {
        let port = try listeningPort()
        let rt = try runtime("backend app\n    server a 127.0.0.1:\(port) maxconn 1")
        let backend = rt.backends[0]
        let loop = group.next()
        let state = try loopState(rt, on: loop)
        let holder = Owner(), waiter = Owner()
        let first = Box(Dispatch(backend: backend, client: nil))
        let second = Box(Dispatch(backend: backend, client: nil))
        let steps: (String, String) = try loop.submit {
            let a = first.value.next(loop: state.value, owner: holder, freshConnection: false)
            let b = second.value.next(loop: state.value, owner: waiter, freshConnection: false)
            return ("\(a)", "\(b)")
        }.wait()
        XCTAssertEqual(steps.0, "connecting")
        XCTAssertEqual(steps.1, "queued")
        XCTAssertTrue(try loop.submit { second.value.isQueued }.wait())
        try loop.submit { first.value.release() }.wait()
        try wait(loop) { waiter.woke == 1 }
        try loop.submit { second.value.release() }.wait()
    }

    /// A woken waiter leaves its server's queue at its wake (HAProxy's
    /// pendconn_process_next_strm), not when its stream runs: a pinned newcomer in between finds
    /// a free slot and nobody waiting, and takes it instead of queueing beside it.
    func testAWokenWaiterNoLongerHoldsBackAPinnedNewcomer() throws {
        let port = try listeningPort()
        let rt = try runtime("backend app\n    server a 127.0.0.1:\(port) maxconn 2")
        let backend = rt.backends[0], server = backend.servers[0]
        let loop = group.next()
        let state = try loopState(rt, on: loop)
        let owners = (0..<4).map { _ in Owner() }
        let dispatches = (0..<4).map { _ in Box(Dispatch(backend: backend, client: nil, pinned: server)) }
        let steps: [String] = try loop.submit {
            var steps = (0..<3).map { "\(dispatches[$0].value.next(loop: state.value, owner: owners[$0], freshConnection: false))" }
            // Both holders end in one turn of the loop: the waiter is woken with one slot (its
            // wake runs on a later turn), the other slot is free.
            dispatches[0].value.release()
            dispatches[1].value.release()
            steps.append("queued \(server.queued.load(ordering: .relaxed))")
            steps.append("\(dispatches[3].value.next(loop: state.value, owner: owners[3], freshConnection: false))")
            return steps
        }.wait()
        XCTAssertEqual(steps, ["connecting", "connecting", "queued", "queued 0", "connecting"])
        try wait(loop) { owners[2].woke == 1 }
        try loop.submit {
            _ = dispatches[2].value.wokeFromQueue()
            for d in dispatches { d.value.release() }
        }.wait()
        XCTAssertEqual([server.active.load(ordering: .relaxed), server.queued.load(ordering: .relaxed)], [0, 0])
    }

    /// A freed slot is held only for a waiter that takes it: with clients queued only for
    /// another server, b's freed slot is not held for them even for a moment (a newcomer
    /// queueing meanwhile would find b full and wait beside an idle server; `smax` would
    /// count them).
    func testAFreedSlotIsHeldOnlyForAWaiterThatTakesIt() throws {
        let port = try listeningPort()
        let rt = try runtime("backend app\n    server a 127.0.0.1:\(port) maxconn 1\n    server b 127.0.0.1:\(port) maxconn 3")
        let backend = rt.backends[0], (a, b) = (backend.servers[0], backend.servers[1])
        let loop = group.next()
        let state = try loopState(rt, on: loop)
        let owner = Owner()
        let pins = [a, a, a, b]
        let dispatches = pins.map { Box(Dispatch(backend: backend, client: nil, pinned: $0)) }
        let steps: [String] = try loop.submit {
            let steps = dispatches.map { "\($0.value.next(loop: state.value, owner: owner, freshConnection: false))" }
            dispatches[3].value.release()  // b's slot: nobody queued can use it
            return steps
        }.wait()
        XCTAssertEqual(steps, ["connecting", "queued", "queued", "connecting"])
        XCTAssertEqual(b.mostActive.load(ordering: .relaxed), 1, "b never had more than one client, nor a slot held for one")
        XCTAssertEqual(b.active.load(ordering: .relaxed), 0)
        XCTAssertEqual(owner.woke, 0)
        try loop.submit { for d in dispatches { d.value.release() } }.wait()
    }

    func testNonIdempotentOrBodiedRequestsAreNeverReplayable() {
        let backend = try! runtime("backend app\n    server a 127.0.0.1:1").backends[0]
        func exchange(_ method: HTTPMethodName, body: BodyFramer.Mode?) -> HTTPExchange {
            HTTPExchange(dispatch: Dispatch(backend: backend, client: nil),
                         method: method, clientMinor: 1, closeClient: false, upstreamHead: ByteBuffer(), requestFramer: body.map(BodyFramer.init),
                         facts: nil, responseLimits: .init(), log: AccessLogRecord(frontend: ""), start: .now())
        }
        XCTAssertTrue(exchange(.get, body: nil).isReplayable)
        XCTAssertTrue(exchange(.delete, body: nil).isReplayable)
        XCTAssertFalse(exchange(.post, body: nil).isReplayable)
        XCTAssertFalse(exchange(.get, body: .length(3)).isReplayable)
        XCTAssertFalse(exchange(.put, body: .chunked).isReplayable)
    }
}
