import XCTest
@testable import SwiftLBHA

/// A sync group's state, from its members' (the group's notify scripts run on its changes).
final class SyncGroupTests: XCTestCase {
    func testTheGroupAgreesOnlyWhenEveryMemberDoesAndFaultsAtTheFirstFault() {
        XCTAssertEqual(SyncGroup.agreedState([.master, .master]), .master)
        XCTAssertEqual(SyncGroup.agreedState([.backup, .backup, .backup]), .backup)
        XCTAssertNil(SyncGroup.agreedState([.master, .backup]), "between states: no group transition yet")
        XCTAssertEqual(SyncGroup.agreedState([.master, .fault]), .fault)
        XCTAssertEqual(SyncGroup.agreedState([.initial, .fault]), .fault)
        XCTAssertNil(SyncGroup.agreedState([.initial, .initial]), "not started")
        XCTAssertNil(SyncGroup.agreedState([]))
    }
}
