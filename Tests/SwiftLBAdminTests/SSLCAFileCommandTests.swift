import Foundation
import SwiftLBAdmin
import XCTest

/// `new/set/commit/abort/show/del ssl ca-file|crl-file` over a real control socket, as the
/// operator (and HAProxy's reg-tests) send them: `socat`, the PEM as a `<<` payload.
final class SSLCAFileCommandTests: XCTestCase {
    let socat = "/usr/bin/socat"

    func testACAFileMadeSetAndCommittedOverTheSocketWithAPayload() async throws {
        try requireTool(socat)
        let dir = try Scratch()
        let path = dir.file("admin.sock")
        let made = runTool("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                                 "-subj", "/CN=Socket CA", "-days", "2", "-keyout", dir.file("ca.key"), "-out", dir.file("ca.crt")])
        XCTAssertEqual(made.status, 0, made.err)
        let pem = try String(contentsOfFile: dir.file("ca.crt"), encoding: .utf8)
        let log = LogCapture()
        let actions = InMemoryActions()
        let socket = try await ControlSocket.start(ControlSocketSettings(address: .unix(path: path)), api: RuntimeAPI(actions: actions, logger: log.logger),
                                                   group: testGroup, logger: log.logger)
        defer { Task { await socket.stop() } }
        func send(_ input: String) -> String {
            let r = runTool(socat, ["-t", "5", "-", "UNIX-CONNECT:\(path)"], input: input)
            XCTAssertEqual(r.status, 0, r.err)
            return r.out
        }

        XCTAssertEqual(send("new ssl ca-file test.crt\n"), "New CA file created 'test.crt'!\n\n")
        // As the reg-tests send it: printf "set ssl ca-file NAME <<\n$(cat FILE)\n\n" | socat
        XCTAssertEqual(send("set ssl ca-file test.crt <<\n\(pem)\n"), "transaction created for CA test.crt!\n\n")
        XCTAssertEqual(send("show ssl ca-file\n"), "# transaction\n*test.crt - 1 certificate(s)\n# filename\ntest.crt - 0 certificate(s)\n\n")
        XCTAssertEqual(send("set ssl ca-file test.crt <<\nnot a certificate\n\n"), "Invalid payload\nCan't update test.crt!\n\n", "bad input changes nothing")
        XCTAssertEqual(send("set ssl ca-file test.crt\n"), "'set ssl ca-file expects a filename and CAs as a payload\n\n")
        XCTAssertEqual(send("commit ssl ca-file test.crt\n"), "Committing test.crt\nSuccess!\n\n")
        let shown = send("show ssl ca-file test.crt:1\n")
        XCTAssertTrue(shown.hasPrefix("Filename: test.crt\nStatus: Unused\n \nCertificate #1:\nSerial: "), shown)
        XCTAssertTrue(shown.contains("\nSubject: /CN=Socket CA\n"), shown)
        XCTAssertEqual(send("show ssl ca-file nope.crt\n"), "Can't display the CA file : Not found!\n\n")

        // A payload in prompt mode, then more commands on the same connection; the operator
        // level can look but not change.
        let interactive = send("prompt\nset ssl ca-file test.crt <<\n\(pem)\nabort ssl ca-file test.crt\noperator\ndel ssl ca-file test.crt\nshow ssl crl-file\nquit\n")
        XCTAssertEqual(interactive, "\n> transaction created for CA test.crt!\n\n> Transaction aborted for certificate 'test.crt'!\n\n> \n> Permission denied\n\n> # filename\n\n> ")
        XCTAssertEqual(send("del ssl ca-file test.crt\n"), "CA file 'test.crt' deleted!\n\n")
        XCTAssertTrue(RuntimeAPI.answerIsFailure("Can't remove the CA file: CA file 'x' doesn't exist!\n"))
        XCTAssertFalse(RuntimeAPI.answerIsFailure("CA file 'x' deleted!\n"))
    }
}
