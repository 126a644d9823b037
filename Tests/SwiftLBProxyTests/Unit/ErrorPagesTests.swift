import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// Error files as HAProxy checks them when it loads them, the monitor URI's decision and the
/// `option forwardfor` decision, each as a pure function.
final class ErrorPagesTests: XCTestCase {
    private func check(_ text: String) -> Result<String, ConfigError> {
        do { return .success(String(buffer: try ErrorPages.check(Array(text.utf8), path: "/etc/e.http"))) } catch { return .failure(error) }
    }

    private func refusal(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        guard case .failure(let error) = check(text) else {
            XCTFail("accepted: \(text.debugDescription)", file: file, line: line)
            return nil
        }
        return error
    }

    func testAnErrorFileIsAWholeResponseCheckedAsHAProxyChecksIt() throws {
        XCTAssertEqual(try check("HTTP/1.1 503 Down\r\nContent-Length: 2\r\n\r\nok").get(), "HTTP/1.1 503 Down\r\nContent-Length: 2\r\n\r\nok")
        // Bare LF lines in the head are accepted (HAProxy's parser does) and sent as CRLF.
        XCTAssertEqual(try check("HTTP/1.0 403 No\nContent-Type: text/html\n\n<b>no</b>\n").get(),
                       "HTTP/1.0 403 No\r\nContent-Type: text/html\r\n\r\n<b>no</b>\n")
        // Empty: answer nothing.
        XCTAssertEqual(try check("").get(), "")

        var e = refusal("HTTP/1.1 503 Down\r\nContent-Length: 10\r\n\r\nshort")
        XCTAssertEqual(e?.line, 2)
        XCTAssertEqual(e?.file, "/etc/e.http")
        XCTAssertEqual(e?.keyword, "errorfile")
        XCTAssertTrue(e?.message.contains("(5 != 10)") ?? false, "\(String(describing: e))")
        e = refusal("HTTP/1.1 503 Down\r\nContent-Type: text/html\r\nBad Header: x\r\n\r\n")
        XCTAssertEqual(e?.line, 3)
        XCTAssertTrue(e?.message.contains("'Bad Header: x'") ?? false, "\(String(describing: e))")
        e = refusal("<html>not a response</html>\r\n\r\n")
        XCTAssertEqual(e?.line, 1)
        e = refusal("HTTP/1.1 100 Continue\r\n\r\n")
        XCTAssertTrue(e?.message.contains("invalid http status code") ?? false)
        e = refusal("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        XCTAssertTrue(e?.message.contains("chunk") ?? false)
        e = refusal("HTTP/1.1 204 No Content\r\n\r\nbody")
        XCTAssertNotNil(e)
        e = refusal("HTTP/1.1 503 Down\r\nContent-Type: text/html\r\n")
        XCTAssertTrue(e?.message.contains("empty line") ?? false)
    }

    func testProxiesGetTheirPagesFromErrorfileAndErrorfilesLines() throws {
        let dir = try TempDirectory()
        let p503 = try dir.write("503.http", "HTTP/1.1 503 Down\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown")
        let p403 = try dir.write("403.http", "HTTP/1.1 403 No\r\nContent-Length: 2\r\n\r\nno")
        let config = try ConfigParser.parse(text: """
            http-errors site
                errorfile 403 \(p403)
                errorfile 503 \(p403)
            frontend fe
                bind :8080
                errorfiles site 403
                errorfile 503 \(p503)
                default_backend be
            backend be
                errorfiles site
                server s 127.0.0.1:1
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        let rules = try ProxyRules.compile(config)
        let fe = rules.frontends["fe"]!.errorPages
        let input = SampleInput(facts: RequestFacts(head: nil, source: nil, destination: nil, isTLS: false))
        XCTAssertEqual(fe.response(for: 503, input: input).map { String(buffer: $0) }, "HTTP/1.1 503 Down\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndown")
        XCTAssertEqual(fe.page(for: 403, input: input)?.status, 403)
        XCTAssertNil(fe.response(for: 500, input: input))
        // The backend's page first, then the frontend's, then HAProxy's.
        let chain = rules.frontends["fe"]!.pages(backend: rules.backends["be"]!)
        XCTAssertEqual(chain.page(for: 503, input: input).status, 403, "the backend's section maps 503 to the 403 file")
        XCTAssertEqual(String(buffer: chain.page(for: 504, input: input).body), "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n")
    }

    func testABrokenErrorFileStopsTheConfigurationWithItsPlace() throws {
        let dir = try TempDirectory()
        let bad = try dir.write("bad.http", "HTTP/1.1 503 Down\r\nContent-Length: 99\r\n\r\ndown")
        let config = try ConfigParser.parse(text: "frontend fe\n    bind :8080\n    errorfile 503 \(bad)\n", file: "lb.conf", acceptingPending: true, environment: [:])
        XCTAssertThrowsError(try ProxyRules.compile(config)) { error in
            let e = (error as! ConfigErrors).errors
            XCTAssertEqual(e.count, 1)
            XCTAssertEqual(e.first?.description, "parsing [\(bad):2] : 'errorfile' : payload size does not match the announced content-length (4 != 99)")
        }
    }

    func testTheMonitorURIIsThePathWithItsQueryOrTheWholeTarget() throws {
        let monitor = MonitorURI(uri: "/health")
        XCTAssertTrue(monitor.matches("/health"))
        XCTAssertTrue(monitor.matches("http://lb.example/health"))
        XCTAssertFalse(monitor.matches("/health?x=1"))
        XCTAssertFalse(monitor.matches("/healthz"))
        XCTAssertTrue(MonitorURI(uri: "*").matches("*"))
        let config = try ConfigParser.parse(text: """
            frontend fe
                bind :8080
                monitor-uri /health
                acl maint hdr(x-maint) -m found
                monitor fail if maint
                mode http
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        let m = MonitorURI(config.frontends[0])!
        XCTAssertEqual(m.status(for: SampleInput(facts: try facts(try requestHead("GET /health HTTP/1.1\r\nHost: h\r\n\r\n")))), 200)
        XCTAssertEqual(m.status(for: SampleInput(facts: try facts(try requestHead("GET /health HTTP/1.1\r\nX-Maint: 1\r\n\r\n")))), 503)
        XCTAssertNil(m.status(for: SampleInput(facts: try facts(try requestHead("GET / HTTP/1.1\r\nX-Maint: 1\r\n\r\n")))))
        // A monitor URI that is not a path (HAProxy's reg-test checks/http-monitor-uri) is the
        // whole target: the absolute form matches, the bare path does not.
        let absolute = try ConfigParser.parse(text: "frontend fe\n    bind :8080\n    monitor-uri http://www.haproxy.org/health\n",
                                              file: "lb.conf", acceptingPending: true, environment: [:])
        let a = MonitorURI(absolute.frontends[0])!
        XCTAssertTrue(a.matches("http://www.haproxy.org/health"))
        XCTAssertFalse(a.matches("/health"))
    }

    func testForwardedForExceptAndIfNone() throws {
        let plain = try requestHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let forwarded = try requestHead("GET / HTTP/1.1\r\nHost: h\r\nX-Real-IP: 1.2.3.4\r\n\r\n")
        let client = try SocketAddress(ipAddress: "192.0.2.7", port: 1)
        var ff = ForwardFor()
        XCTAssertEqual(ForwardedFor.header(frontend: ff, backend: nil, client: client.ipAddress, request: plain)?.value, "192.0.2.7")
        XCTAssertEqual(ForwardedFor.header(frontend: ff, backend: nil, client: client.ipAddress, request: plain)?.name, "X-Forwarded-For")
        XCTAssertNil(ForwardedFor.header(frontend: nil, backend: nil, client: client.ipAddress, request: plain))
        ff.except = "192.0.2.0/24"
        XCTAssertNil(ForwardedFor.header(frontend: ff, backend: nil, client: client.ipAddress, request: plain))
        XCTAssertNotNil(ForwardedFor.header(frontend: ff, backend: nil, client: "198.51.100.1", request: plain))
        // The backend's except counts too; the backend names the header.
        var be = ForwardFor()
        be.header = "X-Real-IP"
        be.ifNone = true
        XCTAssertNil(ForwardedFor.header(frontend: ff, backend: be, client: client.ipAddress, request: plain))
        XCTAssertNil(ForwardedFor.header(frontend: nil, backend: be, client: client.ipAddress, request: forwarded), "if-none and the header is there")
        XCTAssertEqual(ForwardedFor.header(frontend: nil, backend: be, client: client.ipAddress, request: plain)?.name, "X-Real-IP")
        // if-none holds only when every proxy with the option says it.
        XCTAssertNotNil(ForwardedFor.header(frontend: ForwardFor(), backend: be, client: client.ipAddress, request: forwarded))
        XCTAssertEqual(ForwardedFor.header(frontend: ForwardFor(), backend: nil, client: "::1", request: plain)?.value, "::1")
    }
}
