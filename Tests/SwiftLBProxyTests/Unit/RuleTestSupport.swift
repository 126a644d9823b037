import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// A configuration parsed from lb.conf text (pending keywords accepted: the rule engine is
/// what makes them real) and its proxies' rules compiled, to run requests through them as the
/// stream will: monitor URI, frontend request rules, after-response rules, rendering.
struct RuleBench {
    let configuration: Configuration
    let frontend: ProxyRules
    let backends: [String: ProxyRules]

    init(_ text: String, file: String = "test.cfg", sourceFile: StaticString = #filePath, line: UInt = #line) throws {
        do {
            configuration = try ConfigParser.parse(text: text, file: file, acceptingPending: true, environment: [:])
        } catch {
            XCTFail("config does not parse:\n\(error)", file: sourceFile, line: line)
            throw error
        }
        let compiled = try ProxyRules.compile(configuration)
        frontend = compiled.frontends[configuration.frontends[0].name]!
        backends = compiled.backends
    }

    /// What SwiftLB answers itself for `request` (nil when the request would go to a server),
    /// written as the stream will write it; `variables` carries the stream's variables over.
    func answer(_ request: String, variables: StreamVariables = StreamVariables(), source: String = "127.0.0.1") throws -> String? {
        var head = try requestHead(request)
        let facts = RequestFacts(head: head, source: try SocketAddress(ipAddress: source, port: 40000),
                                 destination: try SocketAddress(ipAddress: "127.0.0.1", port: 8080), isTLS: false)
        var input = SampleInput(facts: facts, variables: variables)
        input.frontendName = frontend.name
        variables.beginTransaction()
        let close = head.values(of: "connection").contains { $0.lowercased().contains("close") } || head.minorVersion == 0
            && !head.values(of: "connection").contains { $0.lowercased().contains("keep-alive") }
        let headRequest = head.method == .head
        if let response = frontend.monitor?.response(for: input, pages: frontend.errorPages) {
            return String(buffer: frontend.answer(response, backend: nil, input: &input, close: close, clientMinor: head.minorVersion,
                                                  headRequest: headRequest, allocator: ByteBufferAllocator()))
        }
        switch frontend.request.evaluate(&head, &input, pages: frontend.pages(backend: nil)) {
        case .respond(let response, _):
            return String(buffer: frontend.answer(response, backend: nil, input: &input, close: close || response.requiresClose,
                                                  clientMinor: head.minorVersion, headRequest: headRequest, allocator: ByteBufferAllocator()))
        case .continue, .allow, .useService:
            return nil
        }
    }
}

/// A request or response head from text.
func requestHead(_ text: String) throws -> MessageHead {
    var parser = HeadParser(kind: .request)
    var buffer = ByteBuffer(string: text)
    guard case .head(let head) = parser.parse(&buffer) else { throw HarnessError("not a request head: \(text.debugDescription)") }
    return head
}

func responseHead(_ text: String) throws -> MessageHead {
    var parser = HeadParser(kind: .response)
    var buffer = ByteBuffer(string: text)
    guard case .head(let head) = parser.parse(&buffer) else { throw HarnessError("not a response head: \(text.debugDescription)") }
    return head
}

func serialised(_ head: MessageHead) -> String {
    var out = ByteBuffer()
    head.write(into: &out)
    return String(buffer: out)
}

/// Facts for a request from 192.0.2.7 to 127.0.0.1:8080 over plain TCP.
func facts(_ head: MessageHead, source: String = "192.0.2.7") throws -> RequestFacts {
    RequestFacts(head: head, source: try SocketAddress(ipAddress: source, port: 40000),
                 destination: try SocketAddress(ipAddress: "127.0.0.1", port: 8080), isTLS: false)
}

/// The `http-request` rules of the first frontend of `text`, compiled.
func requestRules(_ text: String, phase: HTTPRulePhase = .request) throws -> HTTPRuleSet {
    let config = try ConfigParser.parse(text: "frontend fe\n    bind :8080\n" + text, file: "test.cfg", acceptingPending: true, environment: [:])
    let fe = config.frontends[0]
    let rules = phase == .request ? fe.httpRequestRules : phase == .response ? fe.httpResponseRules : fe.httpAfterResponseRules
    return try HTTPRuleSet(rules, phase: phase, proxyName: fe.name, file: config.file, httpErrors: config.httpErrors)
}
