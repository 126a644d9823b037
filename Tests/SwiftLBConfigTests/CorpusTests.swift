import Foundation
import XCTest
@testable import SwiftLBConfig

/// Real-world configuration shapes (Tests/fixtures/configs, each modelled on a public file its
/// header names) checked by the reference — Debian's `haproxy -c`, `keepalived -t` — and by
/// `swiftlb check`. SwiftLB must refuse what the reference refuses (except legacy lines it
/// translates, with a warning), and the share it accepts of what the reference accepts must
/// not fall below the floor recorded here and in docs/configuration.md. The share it would
/// accept once every pending keyword is active (the parser with the gate open) is tracked too.
final class CorpusTests: XCTestCase {
    /// The shares reached; raise them as keywords become active (docs/configuration.md
    /// "Corpus" tracks the same numbers).
    static let haproxyFloor = (accepted: 32, projected: 32)
    static let keepalivedFloor = (accepted: 7, projected: 9)

    private static let corpus = Binaries.repository.appendingPathComponent("Tests/fixtures/configs").path

    struct Row {
        let file: String
        let referenceAccepts: Bool
        let swiftlbAccepts: Bool
        let acceptedOncePendingIsActive: Bool
        let firstRefusal: String
        /// What still refuses it with every pending keyword active.
        var blocker = ""
    }

    /// `[ALERT] … parsing [FILE:LINE] …` → the line numbers of one file.
    private func alertLines(_ output: String, file: String) -> Set<Int> {
        var lines = Set<Int>()
        for line in output.split(separator: "\n") where line.contains("[ALERT]") {
            guard let range = line.range(of: "[\(file):") else { continue }
            let digits = line[range.upperBound...].prefix { $0.isNumber }
            if let n = Int(digits) { lines.insert(n) }
        }
        return lines
    }

    private func table(_ rows: [Row]) -> String {
        rows.map { "\($0.file): reference \($0.referenceAccepts ? "accepts" : "refuses"), swiftlb \($0.swiftlbAccepts ? "accepts" : "refuses")"
            + ", with pending active \($0.acceptedOncePendingIsActive ? "accepts" : "refuses")"
            + ($0.firstRefusal.isEmpty ? "" : " — \($0.firstRefusal)") + ($0.blocker.isEmpty ? "" : "\n    still refused for: \($0.blocker)") }
            .joined(separator: "\n")
    }

    private func files(_ kind: String, _ ext: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "\(Self.corpus)/\(kind)").filter { $0.hasSuffix(ext) }.sorted()
    }

    func testHAProxyCorpus() throws {
        let haproxy = try XCTUnwrap(Binaries.which("haproxy"), "Debian's haproxy (scripts/lib/deps.sh installs it)")
        let dir = try Scratch()
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Binaries.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["corpus.example.test", pem]).status, 0)
        var rows: [Row] = []
        let names = try files("haproxy", ".cfg")
        XCTAssertGreaterThanOrEqual(names.count, 46, "45 real-world shapes and the seed's")
        for name in names {
            let text = try String(contentsOfFile: "\(Self.corpus)/haproxy/\(name)", encoding: .utf8).replacingOccurrences(of: "@PEM@", with: pem)
            let path = try dir.write(name, text)
            let reference = runCommand(haproxy, ["-c", "-f", path], timeout: 30)
            let swiftlb = runCommand(Binaries.swiftlb, ["check", "-c", path], timeout: 30)
            let projected = parseErrors(text, file: path, pending: true)
            // 2: "Configuration file has no error but will not start (no listener)", from both.
            let referenceAccepts = reference.status == 0
            let swiftlbAccepts = swiftlb.status == 0
            if reference.status == 2 { XCTAssertEqual(swiftlb.status, 2, "\(name): no listener, so nothing to run\n\(swiftlb.out)\(swiftlb.err)") }
            let firstRefusal = swiftlb.err.split(separator: "\n").first { $0.contains("[ALERT]") }
                .map { String($0.drop { $0 != ":" }.dropFirst(2).prefix(160)) } ?? ""
            var row = Row(file: name, referenceAccepts: referenceAccepts, swiftlbAccepts: swiftlbAccepts,
                          acceptedOncePendingIsActive: projected.isEmpty, firstRefusal: firstRefusal)
            row.blocker = Set(projected.map { "'\($0.keyword)' \($0.message.prefix(90))" }).sorted().joined(separator: "; ")
            rows.append(row)
            // Nothing the reference refuses is accepted, except HAProxy 1.x lines SwiftLB
            // translates with a warning (haproxy 2.6 refuses those lines, and only those).
            if !referenceAccepts && swiftlbAccepts {
                let legacy = Set(swiftlb.err.split(separator: "\n").filter { $0.contains("was removed in HAProxy") }
                    .compactMap { line in line.range(of: "[\(path):").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) } })
                var refused = alertLines(reference.err, file: path)
                // A refused section header (`listen NAME ADDRESS`) takes its section's lines
                // with it ("'listen' or 'defaults' expected"): only the header is legacy.
                func lines(saying text: String) -> Set<Int> {
                    alertLines(reference.err.split(separator: "\n").filter { $0.contains(text) }.joined(separator: "\n"), file: path)
                }
                let headers = lines(saying: "please use the 'bind' keyword for listening addresses")
                if !headers.isEmpty && headers.isSubset(of: legacy) { refused.subtract(lines(saying: "'listen' or 'defaults' expected")) }
                XCTAssertTrue(!refused.isEmpty && refused.isSubset(of: legacy),
                              "\(name): haproxy refuses it (lines \(refused.sorted())), swiftlb accepts it\n\(reference.err)")
            }
            // SwiftLB knows every keyword of these files: a refusal names the keyword as
            // pending or unsupported, never as unknown (unless haproxy does not know it either).
            for line in swiftlb.err.split(separator: "\n") where line.contains("unknown keyword") {
                let number = line.range(of: "[\(path):").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) } ?? -1
                XCTAssertTrue(alertLines(reference.err, file: path).contains(number), "\(name): \(line)")
            }
        }
        let accepted = rows.filter(\.referenceAccepts)
        let both = accepted.filter(\.swiftlbAccepts).count
        let projected = accepted.filter(\.acceptedOncePendingIsActive).count
        let summary = "haproxy -c accepts \(accepted.count) of \(rows.count); swiftlb check accepts \(both) of those; with every pending keyword active it would accept \(projected)"
        print("Corpus (haproxy.cfg): \(summary)\n\(table(rows))")
        XCTAssertGreaterThanOrEqual(accepted.count, 20, "the corpus is meant to be mostly valid for HAProxy 2.6")
        XCTAssertGreaterThanOrEqual(both, Self.haproxyFloor.accepted, summary)
        XCTAssertGreaterThanOrEqual(projected, Self.haproxyFloor.projected, summary)

        // The seed's file is read whole (HAProxy 2.6 refuses it for its 1.x lines, which
        // SwiftLB translates with a warning).
        let seed = try XCTUnwrap(rows.first { $0.file.hasPrefix("00-") })
        let seedText = try String(contentsOfFile: dir.file(seed.file), encoding: .utf8)
        XCTAssertEqual(parseErrors(seedText, file: seed.file).map(\.description), [], "the seed's haproxy.cfg")
    }

    /// keepalived.conf with each `authentication { … }` block replaced by `auth_key_file KEY`
    /// (and one added where an instance has none).
    static func withKeyFile(_ text: String, _ key: String) -> String {
        var out: [String] = []
        var skipping = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if skipping > 0 {
                skipping += trimmed.filter { $0 == "{" }.count - trimmed.filter { $0 == "}" }.count
                out.append("")  // keep the line numbers
                continue
            }
            if trimmed.hasPrefix("authentication") {
                skipping = trimmed.filter { $0 == "{" }.count - trimmed.filter { $0 == "}" }.count
                out.append("    auth_key_file \(key)")
                continue
            }
            out.append(String(line))
            if trimmed.hasPrefix("vrrp_instance"), !text.contains("authentication") { out.append("    auth_key_file \(key)") }
        }
        return out.joined(separator: "\n")
    }

    func testKeepalivedCorpus() throws {
        let keepalived = try XCTUnwrap(Binaries.which("keepalived"), "Debian's keepalived (scripts/lib/deps.sh installs it)")
        let interfaces = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net"))?.filter { $0 != "lo" }.sorted() ?? []
        let interface = try XCTUnwrap(interfaces.first { $0.hasPrefix("eth") || $0.hasPrefix("en") } ?? interfaces.first,
                                      "keepalived -t needs a real interface")
        let dir = try Scratch()
        let key = try dir.write("vrrp.key", "0123456789abcdef0123456789abcdef\n")
        chmod(key, 0o600)
        var rows: [Row] = []
        let names = try files("keepalived", ".conf")
        XCTAssertGreaterThanOrEqual(names.count, 18)
        for name in names {
            let text = try String(contentsOfFile: "\(Self.corpus)/keepalived/\(name)", encoding: .utf8)
                .replacingOccurrences(of: "@IF@", with: interface).replacingOccurrences(of: "@KEY@", with: key)
            let path = try dir.write(name, text)
            let reference = runCommand(keepalived, ["-t", "-l", "-f", path], timeout: 30)
            // 6: valid, with keepalived's "SECURITY VIOLATION - scripts are being executed
            // but script_security not enabled" (it runs them).
            let referenceAccepts = reference.status == 0 || reference.status == 6
            let swiftlb = runCommand(Binaries.swiftlb, ["check", "-c", path], timeout: 30)
            // The one edit docs/configuration.md asks of a keepalived.conf: a key instead of
            // keepalived's clear-text PASS (or no authentication at all).
            let migrated = Self.withKeyFile(text, key)
            let projected = parseErrors(migrated, file: path, pending: true)
            let firstRefusal = swiftlb.err.split(separator: "\n").first { $0.contains("[ALERT]") }
                .map { String($0.drop { $0 != ":" }.dropFirst(2).prefix(160)) } ?? ""
            var row = Row(file: name, referenceAccepts: referenceAccepts, swiftlbAccepts: swiftlb.status == 0,
                          acceptedOncePendingIsActive: projected.isEmpty, firstRefusal: firstRefusal)
            row.blocker = Set(projected.map { "'\($0.keyword)' \($0.message.prefix(90))" }).sorted().joined(separator: "; ")
            rows.append(row)
            // Refused by design: PASS authentication, or none.
            if referenceAccepts && swiftlb.status != 0 {
                for line in swiftlb.err.split(separator: "\n") where line.contains("[ALERT]") && !line.contains("config : Fatal") && !line.contains("Error(s) found") {
                    XCTAssertTrue(["supported by SwiftLB", "no heartbeat key", ": missing '"].contains { line.contains($0) },
                                  "\(name): a refusal that is not a documented one: \(line)")
                }
            }
            if !referenceAccepts {
                XCTAssertNotEqual(swiftlb.status, 0, "\(name): keepalived -t refuses it, swiftlb accepts it\n\(reference.out)\(reference.err)")
            }
            for line in swiftlb.err.split(separator: "\n") where line.contains("unknown keyword") {
                XCTFail("\(name): keepalived's keywords are all known to SwiftLB: \(line)")
            }
        }
        let accepted = rows.filter(\.referenceAccepts)
        let both = accepted.filter(\.swiftlbAccepts).count
        let projected = accepted.filter(\.acceptedOncePendingIsActive).count
        let summary = "keepalived -t accepts \(accepted.count) of \(rows.count); swiftlb check accepts \(both) of those; "
            + "with 'auth_key_file' instead of 'authentication { … }' and every pending keyword active it would accept \(projected)"
        print("Corpus (keepalived.conf): \(summary)\n\(table(rows))")
        XCTAssertGreaterThanOrEqual(both, Self.keepalivedFloor.accepted, summary)
        XCTAssertGreaterThanOrEqual(projected, Self.keepalivedFloor.projected, summary)
    }
}
