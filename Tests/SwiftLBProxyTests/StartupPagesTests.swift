import Foundation
import XCTest

/// Once serving, swiftlb gives back the pages of its executable that only starting touched
/// (`StartupPages`): the config lexer's code is not mapped while it serves, nor after a reload
/// (whose parse maps it again); the data path's code is mapped back when it runs; the
/// relocated read-only data (RELRO) is never dropped, so the instance keeps answering.
/// Read from the outside: the executable's symbols (`nm`), its load address
/// (/proc/PID/maps) and each page's present bit (/proc/PID/pagemap).
final class StartupPagesTests: XCTestCase {
    /// A function of the executable whose name contains `fragment`, as an offset from its load base.
    private func symbolOffset(containing fragment: String, in listing: String) throws -> UInt {
        for line in listing.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count == 3, words[1] == "t" || words[1] == "T", words[2].contains(fragment),
                  let value = UInt(words[0], radix: 16), value != 0 else { continue }
            return value
        }
        throw HarnessError("no function named *\(fragment)* in \(Paths.swiftlb)")
    }

    /// The executable's load base in `pid` (its mapping at file offset 0).
    private func loadBase(_ pid: Int32) throws -> UInt {
        let binary = URL(fileURLWithPath: Paths.swiftlb).resolvingSymlinksInPath().path
        let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
        for line in maps.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count >= 6, words[2] == "00000000", words[5] == binary,
                  let start = words[0].split(separator: "-").first.flatMap({ UInt($0, radix: 16) }) else { continue }
            return start
        }
        throw HarnessError("\(binary) is not mapped in \(pid)")
    }

    /// Whether the page holding `address` is in `pid`'s page tables (pagemap bit 63).
    private func isMapped(_ pid: Int32, _ address: UInt) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/pagemap") else { return false }
        defer { try? handle.close() }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        guard (try? handle.seek(toOffset: UInt64(address / page) * 8)) != nil,
              let entry = try? handle.read(upToCount: 8), entry.count == 8 else { return false }
        let value = entry.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        return value >> 63 == 1
    }

    func testStartupCodeIsNotResidentWhileServingAndTheDataPathIs() throws {
        let dir = try TempDirectory()
        let port = freePort()
        let socket = dir.file("admin.sock")
        let config = "global\n    stats socket \(socket) level admin\n" + haproxyDefaults
            + "\nfrontend fe\n    bind 127.0.0.1:\(port)\n    http-request return status 200 content-type text/plain string ok\n"
        let lb = try SwiftLBInstance(config: config, waitPort: port, in: dir)
        defer { lb.stop() }
        let pid = lb.child.pid
        let base = try loadBase(pid)
        let symbols = runCommand("/usr/bin/nm", ["--defined-only", Paths.swiftlb]).out
        // Runs for every line of lb.conf, and never while serving.
        let lexer = base + (try symbolOffset(containing: "SwiftLBConfig11ConfigLexerO4line_6number", in: symbols))
        // Runs for every request.
        let headParser = base + (try symbolOffset(containing: "SwiftLBProxy10HeadParserV5parse", in: symbols))

        XCTAssertNotNil(waitUntil(timeout: 10) { !self.isMapped(pid, lexer) },
                        "the lexer's code page is still mapped 10 s after swiftlb listens")
        let answer = curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"])
        XCTAssertEqual(answer.out, "200", "swiftlb answers after its start-up pages went")
        XCTAssertTrue(isMapped(pid, headParser), "the request parser's page, used again, is mapped back")

        // A reload parses the file again (mapping the lexer back) and gives the pages back after.
        let reload = runCommand(Paths.swiftlb, ["ctl", "-s", socket, "reload"])
        XCTAssertTrue(reload.out.hasPrefix("Success=1"), reload.out)
        XCTAssertNotNil(waitUntil(timeout: 10) { !self.isMapped(pid, lexer) },
                        "the lexer's code page is still mapped 10 s after a reload")
        for _ in 0..<3 {
            let again = curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"])
            XCTAssertEqual(again.out, "200", "swiftlb answers after the reload gave its pages back")
        }
    }
}
