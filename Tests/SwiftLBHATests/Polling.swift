import Foundation
import XCTest

extension XCTestCase {
    /// Waits (every 5 ms, at most `timeout` s) for `condition`; its last value.
    func poll(_ timeout: TimeInterval = 5, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            usleep(5_000)
        }
        return condition()
    }
}
