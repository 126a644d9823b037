import XCTest
@testable import SwiftLBProxy

/// The stream's phases: legal paths, the log's termination letters derived from phase and
/// cause, and an impossible move ending the stream instead of the process.
final class StreamPhaseTests: XCTestCase {
    func testAServedRequestEndsWithDashes() {
        var p = StreamPhase()
        XCTAssertTrue(p.requestReceived())
        XCTAssertTrue(p.requestSent())
        XCTAssertTrue(p.responseStarted())
        p.end(.completed)
        XCTAssertEqual(p.terminationFlags, "--")
        XCTAssertEqual(p.phase, .done)
    }

    func testTerminationLettersComeFromCauseAndPhase() {
        func ended(_ moves: (inout StreamPhase) -> Void, _ cause: TerminationCause) -> String {
            var p = StreamPhase()
            moves(&p)
            p.end(cause)
            return p.terminationFlags
        }
        XCTAssertEqual(ended({ _ in }, .proxy), "PR")
        XCTAssertEqual(ended({ _ in }, .clientTimeout), "cR")
        XCTAssertEqual(ended({ _ = $0.requestReceived() }, .serverAborted), "SC")
        XCTAssertEqual(ended({ _ = $0.requestReceived(); _ = $0.queue() }, .serverTimeout), "sQ")
        XCTAssertEqual(ended({ _ = $0.requestReceived(); _ = $0.requestSent() }, .serverTimeout), "sH")
        XCTAssertEqual(ended({ _ = $0.requestReceived(); _ = $0.requestSent() }, .clientAborted), "CH")
        XCTAssertEqual(ended({ _ = $0.requestReceived(); _ = $0.requestSent(); _ = $0.responseStarted() }, .serverAborted), "SD")
        XCTAssertEqual(ended({ _ = $0.requestReceived(); _ = $0.requestSent(); _ = $0.responseStarted() }, .clientTimeout), "cD")
    }

    func testTheFirstEndWins() {
        var p = StreamPhase()
        _ = p.requestReceived()
        p.end(.serverTimeout)
        p.end(.clientAborted)
        XCTAssertEqual(p.terminationFlags, "sC")
    }

    func testARetryGoesBackToConnectingAndAQueueWakeToo() {
        var p = StreamPhase()
        XCTAssertTrue(p.requestReceived())
        XCTAssertTrue(p.queue())
        XCTAssertTrue(p.assign())
        XCTAssertTrue(p.requestSent())
        XCTAssertTrue(p.assign())  // replayed on another connection
        XCTAssertEqual(p.phase, .connecting)
    }

    func testAnImpossibleMoveEndsTheStreamWithAnInternalError() {
        var p = StreamPhase()
        p.assertsOnIllegalMove = false  // what a release build does
        XCTAssertFalse(p.responseStarted())
        XCTAssertEqual(p.phase, .done)
        XCTAssertEqual(p.terminationFlags, "IR")
    }
}
