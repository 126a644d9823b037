import Foundation
import XCTest

/// HAProxy's default mode is tcp: each file here, whose proxies write no `mode` (or get it from
/// their defaults, named or not), goes through `haproxy -c` and `swiftlb check`, and both must
/// give the same verdict and the same warnings about HTTP settings of a TCP proxy, word for word.
final class DefaultModeTests: XCTestCase {
    private let timeouts = "    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"

    private var cases: [(String, String)] {
        [
            ("a mode-less listen with HTTP settings", """
                defaults
                \(timeouts)listen li
                    bind 127.0.0.1:18001
                    option forwardfor
                    option originalto
                    option httplog
                    option http-buffer-request
                    option accept-invalid-http-request
                    option http-pretend-keepalive
                    option accept-invalid-http-response
                    http-request set-header x-a b
                    http-response set-header x-b c
                    http-after-response set-header x-c d
                    cookie SRV insert indirect nocache
                    balance uri
                    server s1 127.0.0.1:18002 cookie a
                """),
            ("a mode-less frontend and backend", """
                defaults
                \(timeouts)frontend fe
                    bind 127.0.0.1:18001
                    option httpslog
                    capture request header host len 20
                    monitor-uri /health
                    redirect scheme https if { dst_port 80 }
                    stats enable
                    default_backend be
                backend be
                    balance hdr(host)
                    option accept-invalid-http-response
                    cookie SRV insert
                    http-request set-header x-a b
                    server s1 127.0.0.1:18002 cookie a
                """),
            ("mode http in the defaults", """
                defaults
                    mode http
                \(timeouts)listen li
                    bind 127.0.0.1:18001
                    option forwardfor
                    http-request set-header x-a b
                    cookie SRV insert indirect nocache
                    server s1 127.0.0.1:18002 cookie a
                """),
            ("mode http in a named defaults section", """
                defaults web
                    mode http
                \(timeouts)defaults
                \(timeouts)frontend fe from web
                    bind 127.0.0.1:18001
                    option forwardfor
                    default_backend be
                backend be from web
                    cookie SRV insert
                    server s1 127.0.0.1:18002 cookie a
                listen plain
                    bind 127.0.0.1:18003
                    option forwardfor
                    server s1 127.0.0.1:18002
                """),
            ("a mode-less backend behind an http frontend", """
                defaults
                \(timeouts)frontend fe
                    mode http
                    bind 127.0.0.1:18001
                    use_backend be if { path /x }
                    default_backend be2
                backend be
                    server s1 127.0.0.1:18002
                backend be2
                    mode http
                    server s1 127.0.0.1:18002
                """),
            ("HTTP/2 listeners of a mode-less proxy", """
                defaults
                \(timeouts)listen l
                    bind 127.0.0.1:18444 proto h2
                    server s1 127.0.0.1:18002
                """),
            ("a tcp frontend that switches to http", """
                defaults
                \(timeouts)frontend fe
                    bind 127.0.0.1:18001
                    tcp-request content switch-mode http
                    option forwardfor
                    http-request set-header x-a b
                    default_backend be
                backend be
                    mode http
                    server s1 127.0.0.1:18002
                """),
            ("a tcp frontend using an http backend (the implicit upgrade)", """
                defaults
                \(timeouts)frontend fe
                    bind 127.0.0.1:18001
                    default_backend be
                backend be
                    mode http
                    option forwardfor
                    server s1 127.0.0.1:18002
                """),
        ]
    }

    /// The warnings about HTTP settings in a TCP proxy, without the prefixes that differ
    /// (`parsing [file:line] :`, SwiftLB's `'keyword' :`), and the alerts about modes.
    private func modeMessages(_ output: String) -> Set<String> {
        var found = Set<String>()
        for line in output.split(separator: "\n") where line.contains("HTTP mode") || line.contains("needs 'mode http'") || line.contains("(see 'mode')") || line.contains("MUX protocol 'h2'") {
            guard let start = line.range(of: "config : ") else { continue }
            var text = String(line[start.upperBound...])
            if text.hasPrefix("parsing ["), let close = text.range(of: "] : ") { text = String(text[close.upperBound...]) }
            if text.hasPrefix("'"), let close = text.range(of: "' : ", range: text.index(after: text.startIndex)..<text.endIndex) {
                text = String(text[close.upperBound...])
            }
            while text.hasSuffix(".") { text.removeLast() }
            found.insert(text)
        }
        return found
    }

    func testModeLessProxiesAreTCPWithHAProxysWarnings() throws {
        let scratch = try Scratch()
        var warned = 0
        for (index, (name, text)) in cases.enumerated() {
            let both = try CheckedBeside.check(text, named: "m\(index).cfg", in: scratch)
            XCTAssertEqual(both.weAccept, both.theyAccept, "\(name):\n\(both.said)")
            XCTAssertEqual(modeMessages(both.ours.err), modeMessages(both.theirs.err), "\(name):\n\(both.said)")
            warned += modeMessages(both.theirs.err).count
        }
        XCTAssertGreaterThan(warned, 15, "the cases do exercise HAProxy's warnings")
    }
}
