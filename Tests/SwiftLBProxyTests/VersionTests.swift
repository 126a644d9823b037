import Foundation
import XCTest

/// `swiftlb -v` / `-vv` as `haproxy -v` / `-vv`: the versions printed are the ones the system's
/// own tools report for the same shared libraries, so a wrong import or a stale header shows.
final class VersionTests: XCTestCase {
    /// The value after `label :` on its line of the `-vv` text.
    private func field(_ text: String, _ label: String) -> String? {
        text.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label + " :") }
            .map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) }
    }

    func testDoubleVPrintsTheBuildAndTheLibrariesItRunsWith() throws {
        let vv = runCommand(Paths.swiftlb, ["-vv"])
        XCTAssertEqual(vv.status, 0, vv.err)
        XCTAssertTrue(vv.out.hasPrefix("SwiftLB version 0.1.0\n"), vv.out)
        // The tests' debug build loads the Swift runtime; the scripts' release build links it in.
        XCTAssertEqual(field(vv.out, "Swift runtime"), "shared (libswiftCore.so)", vv.out)
        let release = Paths.repository.appendingPathComponent(".build/release/swiftlb").path
        if FileManager.default.isExecutableFile(atPath: release) {
            let releaseVV = runCommand(release, ["-vv"])
            XCTAssertEqual(field(releaseVV.out, "Swift runtime"), "static (linked in)", "scripts/test.sh builds the release binary with --static-swift-stdlib: \(releaseVV.out)")
        }

        // OpenSSL: `openssl version` prints "OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 …)";
        // the library part is what a process loads, and so is SwiftLB's "Running on".
        let openssl = runCommand("/usr/bin/openssl", ["version"])
        XCTAssertEqual(openssl.status, 0, openssl.err)
        let library = openssl.out.components(separatedBy: "Library: ").last ?? openssl.out
        let token = library.split(separator: " ").prefix(2).joined(separator: " ")
        XCTAssertTrue(token.hasPrefix("OpenSSL 3."), "openssl version: \(openssl.out)")
        let running = try XCTUnwrap(field(vv.out, "Running on OpenSSL version"), vv.out)
        XCTAssertEqual(running.split(separator: " ").prefix(2).joined(separator: " "), token, vv.out)
        XCTAssertTrue(try XCTUnwrap(field(vv.out, "Built with OpenSSL version")).hasPrefix("OpenSSL 3."), vv.out)

        // PCRE2: pcre2-config (libpcre2-dev, which the build needs) names the installed library.
        let pcre2 = try XCTUnwrap(field(vv.out, "Running on PCRE2 version"), vv.out)
        let installed: String
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/pcre2-config") {
            installed = runCommand("/usr/bin/pcre2-config", ["--version"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            // "10.42-1+deb12u2" → "10.42"
            let dpkg = runCommand("/usr/bin/dpkg-query", ["-W", "-f=${Version}", "libpcre2-8-0"]).out
            installed = String(dpkg.split(separator: "-").first ?? "")
        }
        XCTAssertFalse(installed.isEmpty)
        XCTAssertEqual(pcre2.split(separator: " ").first.map(String.init), installed, vv.out)
        XCTAssertEqual(field(vv.out, "Built with PCRE2 version"), installed, "headers and library of one package")

        // The build: the test bundle sits in .build/<triple>/<configuration>/, beside this binary.
        let buildDir = URL(fileURLWithPath: Paths.swiftlb).deletingLastPathComponent()
        XCTAssertEqual(field(vv.out, "Configuration"), buildDir.lastPathComponent, vv.out)
        let triple = buildDir.deletingLastPathComponent().lastPathComponent
        if triple.contains("-linux-") { XCTAssertEqual(field(vv.out, "Target"), triple, vv.out) }
        let swift = runCommand("/usr/bin/env", ["swift", "--version"])
        if swift.status == 0, let compiler = field(vv.out, "Swift compiler") {
            // "Swift version 6.3.1 (swift-6.3.1-RELEASE)": the compiler that built the tests built swiftlb.
            XCTAssertTrue((swift.out + swift.err).contains("Swift version \(compiler.replacingOccurrences(of: " or later", with: ""))"), "\(compiler) vs \(swift.out)")
        }

        let features = try XCTUnwrap(field(vv.out, "Feature list"), vv.out).split(separator: " ")
        for feature in ["+TLS", "+PCRE2", "+VRRP", "+PROXY_PROTOCOL", "+WEBSOCKET"] {
            XCTAssertTrue(features.contains(Substring(feature)), "\(feature) in \(features)")
        }
    }

    func testTheOtherFormsAndTheSubcommandsAreUnchanged() throws {
        XCTAssertEqual(runCommand(Paths.swiftlb, ["--version"]).out, "0.1.0\n")
        XCTAssertEqual(runCommand(Paths.swiftlb, ["-v"]).out, "SwiftLB version 0.1.0\n")
        XCTAssertEqual(runCommand(Paths.swiftlb, ["-vvv"]).out, runCommand(Paths.swiftlb, ["-vv"]).out)
        let bare = runCommand(Paths.swiftlb, [])
        XCTAssertEqual(bare.status, 0)
        XCTAssertTrue(bare.out.contains("SUBCOMMANDS") && bare.out.contains("-v"), "no argument: the help, -v in it: \(bare.out)")
        // The subcommands still parse their own options (-c is not taken by the root).
        let dir = try TempDirectory()
        let missing = runCommand(Paths.swiftlb, ["check", "-c", dir.file("nope.conf")])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("Cannot open configuration file"), missing.err)
        let ctl = runCommand(Paths.swiftlb, ["ctl", "-s", dir.file("none.sock"), "show", "info"])
        XCTAssertEqual(ctl.status, 1)
        XCTAssertTrue(ctl.err.contains("cannot connect to"), ctl.err)
    }
}
