import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import SwiftLBConfig
import XCTest
@testable import SwiftLBHA

/// `track_file`: the number as keepalived reads it and its effect on an instance, as pure
/// functions; then the reader against real files (init_file, re-reads, a file removed).
final class TrackedFileTests: XCTestCase {
    func parse(_ text: String) -> Int64? { FileTrackValue.parse(Array(text.utf8)) }

    /// strtol(text, NULL, 0): white space, sign, 0x and leading-0 octal, digits up to the
    /// first other character; nothing is 0; past 32 bits is ignored (nil).
    func testTheNumberIsReadAsStrtolReadsIt() {
        XCTAssertEqual(parse("42\n"), 42)
        XCTAssertEqual(parse("  -7 trailing words"), -7)
        XCTAssertEqual(parse("+3"), 3)
        XCTAssertEqual(parse("0x1F"), 31)
        XCTAssertEqual(parse("010"), 8, "a leading 0 is octal")
        XCTAssertEqual(parse("09"), 0, "9 is not an octal digit")
        XCTAssertEqual(parse("0xg"), 0)
        XCTAssertEqual(parse(""), 0, "an empty (or missing) file")
        XCTAssertEqual(parse("maintenance"), 0)
        XCTAssertEqual(parse("2147483648"), 2_147_483_648, "INT32_MAX + 1 is kept, as keepalived keeps it")
        XCTAssertNil(parse("2147483649"))
        XCTAssertNil(parse("-2147483649"))
        XCTAssertNil(parse("99999999999999999999999"))
    }

    /// Weight 0: non-zero is FAULT (reverse: zero is). Otherwise value × weight, reversed by
    /// `reverse`; −254 or below is FAULT, above 253 counts as 253.
    func testTheEffectFollowsKeepalived() {
        XCTAssertNil(FileTrackValue.effect(value: 1, weight: 0, reverse: false))
        XCTAssertEqual(FileTrackValue.effect(value: 0, weight: 0, reverse: false), 0)
        XCTAssertNil(FileTrackValue.effect(value: 0, weight: 0, reverse: true))
        XCTAssertEqual(FileTrackValue.effect(value: 5, weight: 0, reverse: true), 0)
        XCTAssertEqual(FileTrackValue.effect(value: 3, weight: 10, reverse: false), 30)
        XCTAssertEqual(FileTrackValue.effect(value: 3, weight: 10, reverse: true), -30)
        XCTAssertEqual(FileTrackValue.effect(value: -2, weight: 10, reverse: false), -20)
        XCTAssertEqual(FileTrackValue.effect(value: 100, weight: 10, reverse: false), 253)
        XCTAssertEqual(FileTrackValue.effect(value: -253, weight: 1, reverse: false), -253)
        XCTAssertNil(FileTrackValue.effect(value: -254, weight: 1, reverse: false))
        XCTAssertNil(FileTrackValue.effect(value: 2_147_483_648, weight: -254, reverse: false), "no overflow")

        func outcome(_ value: Int64, _ weight: Int, reverse: Bool = false) -> Tracking.Outcome {
            Tracking.evaluate(configured: 100, inputs: [FileTrackValue.input("f", value: value, weight: weight, reverse: reverse)])
        }
        XCTAssertEqual(outcome(3, 10).priority, 130)
        XCTAssertEqual(outcome(-6, 10).priority, 40)
        XCTAssertEqual(outcome(0, 10).priority, 100)
        XCTAssertNil(outcome(0, 0).fault)
        XCTAssertEqual(outcome(1, 0).fault, "file 'f' reads 1: FAULT")
        XCTAssertEqual(outcome(-300, 1).fault, "file 'f' reads -300 (× 1): FAULT")
        XCTAssertEqual(outcome(200, 2).priority, 254, "the priority stays within 1…254")
        XCTAssertEqual(FileTrackValue.input("f", value: 3, weight: -10, reverse: false).effect, "-30 now")
    }

    /// The reader with real files: init_file creates a missing file (and leaves an existing
    /// one unless `overwrite`), a rewrite is read when written and reported, a slow writer is
    /// read once it closes the file, a removed file reads 0.
    func testTheReaderInitialisesAndFollowsRealFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tracked-file-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func block(_ name: String, _ initial: VRRPTrackFile.Initial?) -> VRRPTrackFile {
            var f = VRRPTrackFile(name: name, line: 1)
            f.path = dir.appendingPathComponent(name).path
            f.initial = initial
            return f
        }
        try "7\n".write(toFile: dir.appendingPathComponent("kept").path, atomically: true, encoding: .utf8)
        try "7\n".write(toFile: dir.appendingPathComponent("over").path, atomically: true, encoding: .utf8)
        let settings = ["new": block("new", .init(value: -4, overwrite: false)), "kept": block("kept", .init(value: 1, overwrite: false)),
                        "over": block("over", .init(value: 2, overwrite: true))]
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        var all = settings
        all["idle"] = block("idle", .init(value: 5, overwrite: false))   // declared, tracked by no instance
        let reader = TrackedFiles(settings: all, watched: Set(settings.keys), loop: group.next(), logger: Logger(label: "tracked-file-test"))
        let changes = NIOLockedValueBox<[[String]]>([])
        reader.onChange = { names in changes.withLockedValue { $0.append(names) } }
        try reader.start().wait()
        defer { try? reader.stop().wait() }
        func value(_ name: String) -> Int64 { (try? group.next().submit { reader.value(name) }.wait()) ?? -999 }
        XCTAssertEqual(try String(contentsOfFile: settings["new"]!.path, encoding: .utf8), "-4\n", "written as keepalived writes it")
        XCTAssertEqual([value("new"), value("kept"), value("over")], [-4, 7, 2])
        XCTAssertEqual(changes.withLockedValue { $0 }, [["kept", "new", "over"]], "start() returns after the first values")
        XCTAssertEqual(try String(contentsOfFile: all["idle"]!.path, encoding: .utf8), "5\n", "init_file applies to every block, as in keepalived")
        XCTAssertEqual(value("idle"), 0, "a block no instance tracks is not read")

        try "12\n".write(toFile: settings["kept"]!.path, atomically: true, encoding: .utf8)
        XCTAssertTrue(poll(2) { changes.withLockedValue { $0.last } == ["kept"] }, "\(changes.withLockedValue { $0 })")
        XCTAssertEqual(value("kept"), 12)
        XCTAssertEqual(reader.statusLine("kept"), "track_file kept: \(settings["kept"]!.path) reads 12, weight 1, re-read when written (inotify)\n")
        // `cmd > file`: the shell truncates the file, the command writes it later. keepalived
        // reads it when it is closed; read in between, it would be 0 for a moment.
        let before = changes.withLockedValue { $0.count }
        for _ in 0..<2 {
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/bin/sh")
            writer.arguments = ["-c", "sh -c 'sleep 0.6; echo 12' > \(settings["kept"]!.path)"]
            try writer.run()
            writer.waitUntilExit()
        }
        XCTAssertEqual(changes.withLockedValue { Array($0[before...]) }, [], "the same value rewritten slowly is no change")
        XCTAssertEqual(value("kept"), 12)
        try FileManager.default.removeItem(atPath: settings["new"]!.path)
        XCTAssertTrue(poll(2) { value("new") == 0 }, "a removed file reads 0")
        try FileManager.default.moveItem(atPath: settings["kept"]!.path, toPath: settings["kept"]!.path + ".old")
        XCTAssertTrue(poll(2) { value("kept") == 0 }, "a file moved away reads 0")
        try "99999999999\n".write(toFile: settings["over"]!.path, atomically: true, encoding: .utf8)
        usleep(600_000)
        XCTAssertEqual(value("over"), 2, "a number past 32 bits is ignored: the value stays")
    }
}
