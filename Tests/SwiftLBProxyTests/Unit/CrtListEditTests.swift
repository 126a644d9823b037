import Foundation
import XCTest
import SwiftLBAdmin
import SwiftLBConfig
@testable import SwiftLBProxy

/// `add/del ssl crt-list` on a runtime built from lb.conf text (no socket bound): the list as
/// `show ssl crt-list -n` prints it, the SNI entries of the live TLS context of every bind
/// using the list, and HAProxy's refusals, after which nothing has changed.
final class CrtListEditTests: XCTestCase {
    var dir: TempDirectory!
    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func makeCert(_ name: String) -> String {
        let out = dir.file("\(name).pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, [name, out, "ec"]).status, 0)
        return out
    }

    /// A runtime (no socket bound) for `sections` under short defaults.
    private func runtime(_ sections: String, file: String) throws -> ProxyRuntime {
        try ProxyRuntime(configuration: ConfigParser.parse(text: """
            defaults
                mode http
                timeout connect 1s
                timeout client 1s
                timeout server 1s

            """ + sections, file: file))
    }

    func testAddAndDeleteLinesChangeTheBindsAndRefusalsChangeNothing() throws {
        let a = makeCert("a.test"), b = makeCert("b.test")
        let list = try dir.write("sites.crt-list", "\(a) a.test\n\(b) b.test\n")
        let runtime = try runtime("""
            frontend lax
                bind 127.0.0.1:1 ssl crt-list \(list)
                default_backend app
            frontend strict
                bind 127.0.0.1:2 ssl strict-sni crt-list \(list)
                default_backend app
            backend app
                server s 127.0.0.1:3
            """, file: "crtlist.conf")
        let control = runtime.certificates
        func filters(_ frontend: Int) -> [[String]] { runtime.frontends[frontend].binds[0].1!.current.entries.map(\.sniFilters) }
        func lines() -> [String] { control.crtListLines(list)!.map { $0.text(numbered: true) } }
        XCTAssertEqual(control.crtListFiles, [list])
        XCTAssertEqual(lines(), ["\(a):1 a.test", "\(b):2 b.test"])

        let (path, binds) = try control.addCrtListLine(file: list, text: "\(b) [alpn h2 ssl-min-ver TLSv1.2] extra.test !no.extra.test")
        XCTAssertEqual(path, b)
        XCTAssertEqual(binds, 2)
        XCTAssertEqual(lines(), ["\(a):1 a.test", "\(b):2 b.test", "\(b):3 [alpn h2 ssl-min-ver TLSv1.2] extra.test !no.extra.test"])
        XCTAssertEqual(filters(0), [["a.test"], ["b.test"], ["extra.test", "!no.extra.test"]])
        XCTAssertEqual(filters(1), filters(0))
        XCTAssertEqual(runtime.frontends[0].binds[0].1!.current.entries[2].settings.alpn, ["h2"])

        let before = runtime.frontends[0].binds[0].1!.current
        func refused(_ body: () throws -> Void, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try body(), file: file, line: line) { XCTAssertEqual(($0 as? RuntimeAPIError)?.message, message, file: file, line: line) }
            XCTAssertTrue(runtime.frontends[0].binds[0].1!.current === before, "a refusal rebuilds nothing", file: file, line: line)
        }
        refused({ try control.deleteCrtListEntry(file: list, path: b, line: nil) },
                "found the certificate '\(b)' in several entries, please specify a line number preceded by colons (2, 3)!")
        refused({ try control.deleteCrtListEntry(file: list, path: b, line: 7) },
                "found a certificate '\(b)' but the line number is incorrect, please specify a correct line number preceded by colons (2, 3)!")
        refused({ try control.deleteCrtListEntry(file: list, path: a, line: 1) },
                "certificate '\(a)' cannot be deleted, it is used as default certificate by the following frontends:\n\t- crtlist.conf:7")
        refused({ try control.deleteCrtListEntry(file: "/no.crt-list", path: a, line: 1) }, "crt-list '/no.crt-list' does not exist!")
        refused({ try control.deleteCrtListEntry(file: list, path: "/no.pem", line: nil) }, "certificate '/no.pem' does not exist!")
        refused({ _ = try control.addCrtListLine(file: list, text: "/no.pem x.test") }, "certificate '/no.pem' does not exist!")
        refused({ _ = try control.addCrtListLine(file: list, text: "\(a) [bogus-option] x.test") },
                "unknown crt-list option 'bogus-option'")
        XCTAssertEqual(lines().count, 3)

        try control.deleteCrtListEntry(file: list, path: b, line: 2)
        XCTAssertEqual(lines(), ["\(a):1 a.test", "\(b):3 [alpn h2 ssl-min-ver TLSv1.2] extra.test !no.extra.test"])
        XCTAssertEqual(filters(0), [["a.test"], ["extra.test", "!no.extra.test"]])
        XCTAssertFalse(runtime.frontends[0].binds[0].1!.current === before)
    }

    /// `crt site.pem` with only site.pem.rsa and site.pem.ecdsa on disk: HAProxy's bundle, one
    /// entry each; a commit on one member rebuilds the bind.
    func testABundleLoadsEachMember() throws {
        let rsa = dir.file("site.pem.rsa"), ecdsa = dir.file("site.pem.ecdsa")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["site.test", rsa, "rsa"]).status, 0)
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["site.test", ecdsa, "ec"]).status, 0)
        let runtime = try runtime("""
            frontend fe
                bind 127.0.0.1:1 ssl crt \(dir.file("site.pem"))
                default_backend app
            backend app
                server s 127.0.0.1:3
            """, file: "bundle.conf")
        let box = runtime.frontends[0].binds[0].1!
        XCTAssertEqual(box.current.entries.map(\.certificate.keyType), [.rsa, .ecdsa])
        XCTAssertTrue(runtime.certificates.isUsed(rsa) && runtime.certificates.isUsed(ecdsa))
        let before = box.current
        XCTAssertEqual(try runtime.certificates.apply(path: ecdsa), 1)
        XCTAssertFalse(box.current === before)
    }
}

