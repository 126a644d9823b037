import Foundation
import XCTest

/// `tune.ssl.maxrecord N`: a listener's TLS records carry at most N bytes of plaintext, in
/// SwiftLB as in haproxy on the same configuration (seen in the record headers the client
/// reads: 1400 bytes + TLS 1.3's 17 is 1417 at most, where a record otherwise holds the whole
/// 5000-byte answer).
final class TLSMaxRecordTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The lengths of the application-data records a GET's answer came in.
    private func recordLengths(_ port: Int) -> [Int] {
        let request = #"printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'; sleep 0.5"#
        let out = runCommand("/bin/sh", ["-c", "(\(request)) | openssl s_client -connect 127.0.0.1:\(port) -quiet -msg 2>&1"]).out
        let lines = out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var lengths: [Int] = []
        for (i, line) in lines.enumerated() where line.hasPrefix("<<< ") && line.contains("RecordHeader") && i + 1 < lines.count {
            let bytes = lines[i + 1].split(separator: " ")
            guard bytes.count == 5, bytes[0] == "17", let high = Int(bytes[3], radix: 16), let low = Int(bytes[4], radix: 16) else { continue }
            lengths.append(high << 8 | low)
        }
        return lengths
    }

    func testRecordsCarryAtMostMaxrecordBytes() throws {
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["site.example.test", pem]).status, 0)
        let body = try dir.write("body.txt", String(repeating: "x", count: 5000))
        for limit in [1400, nil] {
            let pair = try SideBySide({ port in
                (limit.map { "global\n    tune.ssl.maxrecord \($0)\n" } ?? "")
                    + "frontend f\n    bind 127.0.0.1:\(port) ssl crt \(pem)\n"
                    + "    http-request return status 200 content-type text/plain file \(body)\n"
            }, in: dir)
            defer { pair.stop() }
            for port in pair.ports {
                let lengths = recordLengths(port)
                if limit != nil {
                    XCTAssertEqual(lengths.max(), 1417, "port \(port): \(lengths)")
                } else {
                    XCTAssertGreaterThan(lengths.max() ?? 0, 5000, "port \(port): \(lengths)")
                }
            }
        }
    }
}
