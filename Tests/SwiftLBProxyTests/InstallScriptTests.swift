import Foundation
import XCTest

/// `scripts/install.sh` staged into a temporary DESTDIR with the binary already built: every
/// file lands where Debian's tools look for it, the completions work in bash, the man page
/// renders and matches the command's help, the unit runs the installed binary, and a second
/// run changes nothing an operator owns.
final class InstallScriptTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private var script: String { Paths.repository.appendingPathComponent("scripts/install.sh").path }

    /// The release binary when scripts/test.sh built it, else the one the tests run.
    private var binary: String {
        let release = Paths.repository.appendingPathComponent(".build/release/swiftlb").path
        return FileManager.default.isExecutableFile(atPath: release) ? release : Paths.swiftlb
    }

    private func install(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        runCommand("/usr/bin/timeout", ["120", script, "--binary", binary] + arguments)
    }

    func testInstallIntoADestdirPutsEveryFileInPlaceAndIsIdempotent() throws {
        let destdir = dir.file("stage")
        let first = install(["--destdir", destdir])
        XCTAssertEqual(first.status, 0, first.err)
        let prefix = destdir + "/usr/local"
        let files = [
            "bin/swiftlb", "share/man/man1/swiftlb.1", "share/bash-completion/completions/swiftlb",
            "share/zsh/site-functions/_swiftlb", "share/fish/vendor_completions.d/swiftlb.fish",
            "lib/systemd/system/swiftlb.service", "share/doc/swiftlb/README.md", "share/doc/swiftlb/configuration.md",
        ].map { prefix + "/" + $0 } + [destdir + "/etc/swiftlb/lb.conf"]
        for file in files {
            XCTAssertTrue(FileManager.default.fileExists(atPath: file), "\(file) missing:\n\(first.out)")
        }
        let installed = prefix + "/bin/swiftlb"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: installed))
        XCTAssertEqual(runCommand(installed, ["-v"]).out, "SwiftLB version 0.1.0\n")

        // Bash: the script parses, and completing `swiftlb ch` and `swiftlb run --c` offers check and --config.
        let bashFile = prefix + "/share/bash-completion/completions/swiftlb"
        XCTAssertEqual(runCommand("/bin/bash", ["-n", bashFile]).status, 0)
        func complete(_ words: [String]) -> [String] {
            let line = words.joined(separator: " ")
            let program = """
                source "$1"; COMP_WORDS=(\(words.joined(separator: " "))); COMP_CWORD=\(words.count - 1)
                COMP_LINE='\(line)'; COMP_POINT=\(line.count)
                _swiftlb swiftlb '\(words.last!)' '\(words[words.count - 2])'; printf '%s\\n' "${COMPREPLY[@]}"
                """
            return runCommand("/bin/bash", ["-c", program, "bash", bashFile]).out.split(separator: "\n").map(String.init)
        }
        XCTAssertEqual(complete(["swiftlb", "ch"]), ["check"])
        XCTAssertEqual(complete(["swiftlb", "run", "--c"]), ["--config", "--config-id"])
        XCTAssertTrue(try String(contentsOfFile: prefix + "/share/zsh/site-functions/_swiftlb", encoding: .utf8).hasPrefix("#compdef swiftlb"))
        XCTAssertTrue(try String(contentsOfFile: prefix + "/share/fish/vendor_completions.d/swiftlb.fish", encoding: .utf8).contains("complete -c 'swiftlb'"))

        // The man page renders without a warning and names every subcommand.
        let man = prefix + "/share/man/man1/swiftlb.1"
        let lint = runCommand("/usr/bin/groff", ["-mandoc", "-Tutf8", "-ww", "-z", man])
        XCTAssertEqual(lint.status, 0)
        XCTAssertEqual(lint.err, "", "groff warnings")
        let page = runCommand("/usr/bin/env", ["MANPAGER=cat", "MANWIDTH=100", "/usr/bin/man", "-l", man])
        XCTAssertEqual(page.status, 0, page.err)
        XCTAssertTrue(page.out.contains("SWIFTLB(1)") && page.out.contains("swiftlb — An HTTP/1.1 load balancer"), page.out)

        // The unit runs, checks and reloads with the installed binary, and reads /etc/swiftlb/lb.conf.
        let unit = try String(contentsOfFile: prefix + "/lib/systemd/system/swiftlb.service", encoding: .utf8)
        let exec = unit.split(separator: "\n").filter { $0.hasPrefix("ExecStart") || $0.hasPrefix("ExecReload=/usr") }
        XCTAssertEqual(exec.count, 3, unit)
        XCTAssertTrue(exec.contains("ExecStart=/usr/local/bin/swiftlb run -c $CONFIG"), unit)
        for line in exec {
            let path = String(line.split(separator: "=", maxSplits: 1)[1].split(separator: " ")[0])
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: destdir + path), "\(line): \(destdir + path)")
        }
        XCTAssertTrue(unit.contains("Environment=CONFIG=/etc/swiftlb/lb.conf"), unit)

        // lb.conf is the example, readable by its owner and group only.
        let config = destdir + "/etc/swiftlb/lb.conf"
        XCTAssertEqual(FileManager.default.contents(atPath: config), FileManager.default.contents(atPath: Paths.repository.appendingPathComponent("lb.conf").path))
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: config)[.posixPermissions] as? Int), 0o640)

        // Again, over an operator's edited lb.conf: same files, the operator's file kept.
        try "# mine\n".write(toFile: config, atomically: false, encoding: .utf8)
        let before = try FileManager.default.subpathsOfDirectory(atPath: destdir).sorted()
        let second = install(["--destdir", destdir])
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertTrue(second.out.contains("kept \(config)"), second.out)
        XCTAssertEqual(try String(contentsOfFile: config, encoding: .utf8), "# mine\n")
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: destdir).sorted(), before)
    }

    func testAnotherPrefixIsWrittenIntoTheUnitAndBadArgumentsAreRefused() throws {
        let destdir = dir.file("stage")
        let r = install(["--destdir", destdir, "--prefix", "/opt/swiftlb", "--sysconfdir", "/opt/swiftlb/etc"])
        XCTAssertEqual(r.status, 0, r.err)
        let unit = try String(contentsOfFile: destdir + "/opt/swiftlb/lib/systemd/system/swiftlb.service", encoding: .utf8)
        XCTAssertTrue(unit.contains("ExecStart=/opt/swiftlb/bin/swiftlb run -c $CONFIG"), unit)
        XCTAssertTrue(unit.contains("Environment=CONFIG=/opt/swiftlb/etc/swiftlb/lb.conf"), unit)
        XCTAssertFalse(unit.contains("/usr/local/bin"), unit)
        XCTAssertTrue(FileManager.default.fileExists(atPath: destdir + "/opt/swiftlb/etc/swiftlb/lb.conf"))

        let help = runCommand(script, ["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.out.contains("--destdir DIR"), help.out)
        let unknown = runCommand(script, ["--bogus"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.err.contains("unknown argument '--bogus'"), unknown.err)
        XCTAssertEqual(runCommand(script, ["--prefix", "relative"]).status, 2)
        let missing = runCommand(script, ["--binary", dir.file("nope")])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.err.contains("is not an executable swiftlb"), missing.err)
    }

    /// docs/swiftlb.1 is generated (scripts/gen-manual.sh): every subcommand, option and help
    /// text the binary has today is in it, or it is stale.
    func testTheManPageMatchesTheCommandsHelp() throws {
        let dump = runCommand(Paths.swiftlb, ["--experimental-dump-help"])
        XCTAssertEqual(dump.status, 0, dump.err)
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(dump.out.utf8)) as? [String: Any])
        let manual = try String(contentsOf: Paths.repository.appendingPathComponent("docs/swiftlb.1"), encoding: .utf8)
        // `.It Fl c , -config Ar config`: the words of each line that lists a flag or an option.
        let flagLines = manual.split(separator: "\n").filter { $0.hasPrefix(".It Fl") || $0.hasPrefix(".Op Fl") }.map { $0.split(separator: " ") }
        var missing: [String] = []
        func visit(_ command: [String: Any]) {
            for key in ["abstract", "discussion"] {
                if let text = command[key] as? String, !manual.contains(text) { missing.append("\(command["commandName"] ?? "?") \(key)") }
            }
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["shouldDisplay"] as? Bool != false {
                if let help = argument["abstract"] as? String, !manual.contains(help) { missing.append("help: \(help)") }
                for name in argument["names"] as? [[String: Any]] ?? [] {
                    guard let n = name["name"] as? String, let kind = name["kind"] as? String else { continue }
                    let spelled = kind == "long" ? "-\(n)" : n
                    if !flagLines.contains(where: { $0.contains(Substring(spelled)) }) { missing.append(spelled) }
                }
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                if let name = sub["commandName"] as? String, !manual.contains(".It Em \(name)") { missing.append("subcommand \(name)") }
                visit(sub)
            }
        }
        visit(try XCTUnwrap(root["command"] as? [String: Any]))
        XCTAssertEqual(missing, [], "docs/swiftlb.1 is stale: run scripts/gen-manual.sh")
    }
}
