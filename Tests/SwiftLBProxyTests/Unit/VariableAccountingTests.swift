import Dispatch
import SwiftLBConfig
import XCTest
@testable import SwiftLBProxy

/// `tune.vars.*-max-size` accounting of `proc.` variables, which every event loop sets.
final class VariableAccountingTests: XCTestCase {
    /// Two loops setting and unsetting one `proc.` name: each set reads what it replaces,
    /// charges and stores in one step, so the process's count ends where it began (with the
    /// read, the charge and the store apart, both loops charged the entry of one variable, or
    /// both gave it back, and the count drifted until every set-var was refused).
    func testProcVariablesSetFromTwoLoopsKeepTheCountExact() {
        let process = ProcessVariables()
        let limits = Self.limits(process: 1 << 30)
        let before = VariableAccounting.processSize.load(ordering: .relaxed)
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let stream = StreamVariables(process: process, limits: limits)
            for i in 0..<100_000 { stream.set("proc.x", i % 2 == 0 ? .string("abc") : nil) }
        }
        StreamVariables(process: process, limits: limits).set("proc.x", nil)
        XCTAssertEqual(VariableAccounting.processSize.load(ordering: .relaxed), before)
    }

    /// The limit check and the charge are one step too: two loops racing for the last entry
    /// under `proc-max-size` never both get it.
    func testTwoLoopsNeverPassTheProcessLimitTogether() {
        let processes = [ProcessVariables(), ProcessVariables()]
        for round in 0..<2_000 {
            let before = VariableAccounting.processSize.load(ordering: .relaxed)
            let limits = Self.limits(process: before + VariableAccounting.entrySize)
            DispatchQueue.concurrentPerform(iterations: 2) { loop in
                StreamVariables(process: processes[loop], limits: limits).set("proc.last", .integer(1))
            }
            let after = VariableAccounting.processSize.load(ordering: .relaxed)
            for process in processes { StreamVariables(process: process, limits: limits).set("proc.last", nil) }
            guard after == before + VariableAccounting.entrySize else {
                return XCTFail("round \(round): \(after - before) bytes charged under a limit of \(VariableAccounting.entrySize)")
            }
        }
    }

    private static func limits(process: Int) -> VariableSizeLimits {
        var limits = VariableSizeLimits()
        limits.process = process
        return limits
    }
}
