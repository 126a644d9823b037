import SwiftLBConfig
import XCTest
@testable import SwiftLBProxy

/// How lb.conf takes the names HAProxy computes per request: `use_backend` with a log-format
/// (static names still checked when parsed), `server … sni EXPRESSION` (a host name or
/// `str()` stays a constant), and the errors for what does not compile — file, line, keyword —
/// from `swiftlb check`'s path (parse with SwiftLB's sample compiler, then the runtime build).
final class DynamicNameConfigTests: XCTestCase {
    private let facts = BuildFacts(sampleCompiler: ACLSamples.compiler)

    private func build(_ body: String) throws -> ProxyRuntime {
        let text = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n" + body
        return try ProxyRuntime(configuration: ConfigParser.parse(text: text, file: "dyn.conf", facts: facts))
    }

    /// The one error of building `body`.
    private func error(_ body: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        do {
            _ = try build(body)
            XCTFail("accepted", file: file, line: line)
        } catch let errors as ConfigErrors {
            XCTAssertEqual(errors.errors.count, 1, "\(errors)", file: file, line: line)
            return errors.errors.first
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return nil
    }

    func testLogFormatNamesAreRulesStaticNamesAreChecked() throws {
        let runtime = try build("""
            frontend fe
                bind 127.0.0.1:1
                use_backend %[req.hdr(host),lower,word(1,.)] if { hdr(x) -m found }
                use_backend be_%[path,field(2,/)]
                use_backend be_a if { path /a }
                default_backend be_a
            backend be_a
                server s 127.0.0.1:2
            """)
        let rules = try XCTUnwrap(runtime.frontends.first?.rules.rules)
        XCTAssertEqual(rules.count, 3)
        guard case .named = rules[0].target, case .named = rules[1].target, case .backend(let b) = rules[2].target else {
            return XCTFail("\(rules.map(\.target))")
        }
        XCTAssertEqual(b.name, "be_a")
        // A static name that is no backend stays an error of the parse.
        let missing = error("frontend fe\n    bind 127.0.0.1:1\n    use_backend be_x\nbackend be_a\n    server s 127.0.0.1:2\n")
        XCTAssertEqual(missing?.line, 8)
        XCTAssertEqual(missing?.keyword, "use_backend")
        XCTAssertTrue(missing?.message.contains("no backend named 'be_x'") ?? false, "\(String(describing: missing))")
    }

    func testAWrongBackendExpressionNamesFileLineAndKeyword() {
        let e = error("frontend fe\n    bind 127.0.0.1:1\n    default_backend be_a\n    use_backend %[req.hdr(host),nosuchconverter]\nbackend be_a\n    server s 127.0.0.1:2\n")
        XCTAssertEqual(e?.file, "dyn.conf")
        XCTAssertEqual(e?.line, 9)
        XCTAssertEqual(e?.keyword, "use_backend")
        XCTAssertTrue(e?.message.contains("nosuchconverter") ?? false, "\(String(describing: e))")
        let variable = error("frontend fe\n    bind 127.0.0.1:1\n    use_backend be_%ci\nbackend be_a\n    server s 127.0.0.1:2\n")
        XCTAssertEqual(variable?.keyword, "use_backend")
        XCTAssertTrue(variable?.message.contains("'%ci'") ?? false, "\(String(describing: variable))")
    }

    /// HAProxy 2.6 resolves `default_backend` once ("unable to find default backend").
    func testDefaultBackendTakesNoLogFormat() {
        let e = error("frontend fe\n    bind 127.0.0.1:1\n    default_backend %[req.hdr(host)]\nbackend be_a\n    server s 127.0.0.1:2\n")
        XCTAssertEqual(e?.line, 8)
        XCTAssertEqual(e?.keyword, "default_backend")
        XCTAssertTrue(e?.message.contains("use_backend") ?? false, "\(String(describing: e))")
    }

    /// A backend without `mode` (none in defaults either) that only a `mode tcp` frontend's
    /// computed names can reach runs in tcp, HAProxy's default; one an HTTP frontend names
    /// keeps http.
    func testBackendsOnlyComputedTCPNamesReachRunInTCP() throws {
        let config = try ConfigParser.parse(text: """
            frontend sni
                mode tcp
                bind 127.0.0.1:1
                use_backend be_%[req.ssl_sni,field(1,.)]
            frontend web
                mode http
                bind 127.0.0.1:2
                default_backend be_web
            backend be_a
                server s 127.0.0.1:3
            backend be_web
                mode http
                server s 127.0.0.1:4
            """, file: "dyn.conf", facts: facts)
        XCTAssertEqual(config.backends["be_a"]?.options.mode, .tcp)
        XCTAssertEqual(config.backends["be_web"]?.options.mode, .http)
    }

    func testSNIExpressionsAndConstants() throws {
        let config = try ConfigParser.parse(text: """
            backend be
                server e 127.0.0.1:1 ssl verify none sni req.hdr(host)
                server f 127.0.0.1:1 ssl verify none sni ssl_fc_sni
                server c 127.0.0.1:1 ssl verify none sni str(www.example.com)
                server h 127.0.0.1:1 ssl verify none sni www.example.com
                server l 127.0.0.1:1 ssl verify none sni str(Www.Example.com),lower
            """, file: "dyn.conf", facts: facts)
        let tls = try XCTUnwrap(config.backends["be"]).servers.map { $0.parameters.tls! }
        XCTAssertEqual(tls.map(\.sniExpression), ["req.hdr(host)", "ssl_fc_sni", nil, nil, "str(Www.Example.com),lower"])
        XCTAssertEqual(tls.map(\.sni), [nil, nil, "www.example.com", "www.example.com", nil])
        // Servers with the same expression share one evaluation per request.
        let runtime = try build("""
            frontend fe
                bind 127.0.0.1:1
                default_backend be
            backend be
                server a 127.0.0.1:2 ssl verify none sni req.hdr(host)
                server b 127.0.0.1:2 ssl verify none sni req.hdr(host)
                server c 127.0.0.1:2 ssl verify none sni str(c.example)
            """)
        let be = try XCTUnwrap(runtime.backends.first)
        XCTAssertEqual(be.serverNames.expressions.count, 1)
        XCTAssertEqual(be.servers.map { be.serverNames.slot(of: $0) }, [0, 0, nil])
        XCTAssertTrue(be.needsFacts)
    }

    func testAWrongSNIExpressionNamesFileLineAndKeyword() {
        do {
            _ = try ConfigParser.parse(text: "backend be\n    server s 127.0.0.1:1 ssl verify none sni req.hdr(host),nosuchconverter\n", file: "dyn.conf", facts: facts)
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error.errors.first?.file, "dyn.conf")
            XCTAssertEqual(error.errors.first?.line, 2)
            XCTAssertEqual(error.errors.first?.keyword, "server")
            XCTAssertTrue(error.errors.first?.message.contains("nosuchconverter") ?? false, "\(error)")
        }
    }
}
