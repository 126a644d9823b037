import Foundation
import NIOCore
import NIOPosix
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
            configuration = try ConfigParser.parse(text: text, file: file, acceptingPending: true, environment: [:], facts: BuildFacts(sampleCompiler: ACLSamples.compiler))
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
        input.userlists = configuration.userlists
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
        case .continue, .allow, .useService, .reject:
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
    let config = try ConfigParser.parse(text: "frontend fe\n    mode http\n" + text, file: "test.cfg", acceptingPending: true, environment: [:],
                                        facts: BuildFacts(sampleCompiler: ACLSamples.compiler))
    let fe = config.frontends[0]
    let rules = phase == .request ? fe.httpRequestRules : phase == .response ? fe.httpResponseRules : fe.httpAfterResponseRules
    return try HTTPRuleSet(rules, phase: phase, proxyName: fe.name, file: config.file, httpErrors: config.httpErrors)
}

/// Things a server records on its event loop, read by the test thread.
final class LockedList<Element>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Element] = []
    func append(_ item: Element) { lock.lock(); items.append(item); lock.unlock() }
    var last: Element? { lock.lock(); defer { lock.unlock() }; return items.last }
    var count: Int { lock.lock(); defer { lock.unlock() }; return items.count }
    var all: [Element] { lock.lock(); defer { lock.unlock() }; return items }
}

/// A loopback server's one exchange: records the request head (and the PROXY header a
/// `ProxyProtocolHandler` before it announced), answers 200 with `saw=<source>` and closes.
final class RecordAndAnswer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    struct Exchange {
        var head: String
        var proxy: ProxyProtocolReceived?
    }
    private let recorded: LockedList<Exchange>
    private var proxy: ProxyProtocolReceived?
    private var received = ""
    init(_ recorded: LockedList<Exchange>) { self.recorded = recorded }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ProxyProtocolReceived { proxy = e }
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += String(buffer: unwrapInboundIn(data))
        guard let end = received.range(of: "\r\n\r\n") else { return }
        recorded.append(Exchange(head: String(received[..<end.upperBound]), proxy: proxy))
        let body = "saw=\(proxy?.source?.ipAddress ?? "?")"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")))
            .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

/// A loopback server answering each connection with `RecordAndAnswer` (after a
/// `ProxyProtocolHandler` when `acceptProxy`); closed and shut down by the caller.
final class RecordingServer {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let recorded = LockedList<RecordAndAnswer.Exchange>()
    private(set) var channel: (any Channel)!
    var port: Int { channel.localAddress!.port! }

    init(acceptProxy: Bool = false) throws {
        let recorded = self.recorded
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if acceptProxy { try channel.pipeline.syncOperations.addHandler(ProxyProtocolHandler(timeout: .seconds(5))) }
                    try channel.pipeline.syncOperations.addHandler(RecordAndAnswer(recorded))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// The `defaults` section of every configuration these tests give haproxy and SwiftLB alike.
let haproxyDefaults = "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s"

/// `haproxyDefaults`, frontend `fe` on `port` with `rules` (indented lines), backend `be`
/// (`backendLines` first) with one server `s` on loopback `serverPort`.
func oneServerConfig(port: Int, rules: String, backendLines: String = "", serverPort: Int) -> String {
    """
    \(haproxyDefaults)
    frontend fe
        bind 127.0.0.1:\(port)
    \(rules)
        default_backend be
    backend be
    \(backendLines)
        server s 127.0.0.1:\(serverPort)

    """
}

/// Starts Debian's haproxy on `config` (which must pass `haproxy -c`) and waits until it
/// listens on `port`; the caller stops it.
func startHAProxy(_ config: String, port: Int, in directory: TempDirectory, name: String = "haproxy") throws -> ChildProcess {
    // haproxy refuses a file whose last line has no newline.
    let path = try directory.write("\(name).cfg", config.hasSuffix("\n") ? config : config + "\n")
    let check = runCommand("/usr/sbin/haproxy", ["-c", "-f", path])
    guard check.status == 0 else { throw HarnessError("haproxy refuses the configuration: \(check.out)\(check.err)") }
    let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", path], logDirectory: directory, name: name)
    guard waitForPort(port) else { throw HarnessError("haproxy did not listen: \(haproxy.stderr)") }
    return haproxy
}

/// A slow HTTP server: a haproxy whose `mode tcp` frontend on `ports` holds each new connection
/// `holdMilliseconds` (`inspect-delay`, `WAIT_END`), then hands it to an HTTP frontend that
/// answers 200 and keeps the connection (later requests on it are not held).
func startHoldingServer(ports: [Int], holdMilliseconds: Int, in directory: TempDirectory, name: String = "holding") throws -> ChildProcess {
    let answer = freePort()
    return try startHAProxy("""
        defaults
            timeout connect 2s
            timeout client 20s
            timeout server 20s
            maxconn 2000
        frontend hold
            mode tcp
            \(ports.map { "bind 127.0.0.1:\($0)" }.joined(separator: "\n    "))
            tcp-request inspect-delay \(holdMilliseconds)ms
            tcp-request content accept if WAIT_END
            default_backend answer
        backend answer
            mode tcp
            server a 127.0.0.1:\(answer)
        frontend answer
            mode http
            bind 127.0.0.1:\(answer)
            http-request return status 200
        """, port: ports.last!, in: directory, name: name)
}
