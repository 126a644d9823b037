import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// `tcp-request` rules decide in order (first match wins, none: accept), and header captures
/// are logged as HAProxy logs them.
final class TCPRulesAndCapturesTests: XCTestCase {
    func testTheFirstApplicableTCPRuleDecides() throws {
        let config = try ConfigParser.parse(text: """
            frontend fe
                bind :8080
                acl trusted src 10.0.0.0/8
                tcp-request connection accept if trusted
                tcp-request connection reject if { src 10.9.0.0/16 } || { src 192.0.2.0/24 }
                tcp-request content reject if { path_beg /admin }
                mode http
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        let rules = TCPRules(config.frontends[0].tcpRequestRules)
        func connects(_ ip: String, _ rules: TCPRules) throws -> Bool {
            var input = SampleInput.connectionLevel(source: try SocketAddress(ipAddress: ip, port: 1), destination: nil)
            return rules.acceptsConnection(&input)
        }
        XCTAssertTrue(try connects("10.9.1.1", rules), "accepted by the first rule before the reject")
        XCTAssertFalse(try connects("192.0.2.5", rules))
        XCTAssertTrue(try connects("198.51.100.1", rules), "no rule applies: accepted")
        var admin = SampleInput(facts: try facts(try requestHead("GET /admin/x HTTP/1.1\r\n\r\n")))
        var page = SampleInput(facts: try facts(try requestHead("GET /page HTTP/1.1\r\n\r\n")))
        XCTAssertFalse(rules.acceptsContent(&admin))
        XCTAssertTrue(rules.acceptsContent(&page))
        XCTAssertTrue(try connects("192.0.2.5", TCPRules([])))
    }

    /// `set-src`/`set-dst` of connection rules are the connection's (`fc_src`), of session rules
    /// the session's (`src`); `set-var` sets in the input's variables; the port actions keep the
    /// address; a sample that is no address changes nothing; the rules go on after each.
    func testAddressAndVariableActionsChangeTheInputAndGoOn() throws {
        let config = try ConfigParser.parse(text: """
            frontend fe
                bind :8080
                tcp-request connection set-src ipv4(10.0.0.1)
                tcp-request connection set-dst-port int(8443)
                tcp-request session set-src ipv4(10.1.0.1)
                tcp-request session set-dst str(not-an-address)
                tcp-request session set-var(sess.fc) fc_src
                tcp-request session set-var(sess.both) src,concat(/,sess.fc,)
                tcp-request session reject if { src 10.1.0.1 } { var(sess.fc) -m str 10.0.0.2 }
                tcp-request content switch-mode http if HTTP
                tcp-request content reject
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        let rules = TCPRules(config.frontends[0].tcpRequestRules)
        XCTAssertTrue(rules.setsVariables)
        let variables = StreamVariables(process: ProcessVariables())
        var input = SampleInput.connectionLevel(source: try SocketAddress(ipAddress: "127.0.0.1", port: 5000),
                                                destination: try SocketAddress(ipAddress: "127.0.0.2", port: 80), variables: variables)
        XCTAssertTrue(rules.acceptsConnection(&input))
        XCTAssertTrue(rules.acceptsSession(&input), "the reject's last term does not hold")
        XCTAssertEqual(input.facts.connectionSource?.ipAddress, "10.0.0.1")
        XCTAssertEqual(input.facts.connectionSource?.port, 5000, "set-src keeps the port")
        XCTAssertEqual(input.facts.source?.ipAddress, "10.1.0.1")
        XCTAssertEqual(input.facts.destination?.ipAddress, "127.0.0.2", "not an address: unchanged")
        XCTAssertEqual(input.facts.destination?.port, 8443)
        XCTAssertEqual(variables.get("sess.fc")?.text, "10.0.0.1")
        XCTAssertEqual(variables.get("sess.both")?.text, "10.1.0.1/10.0.0.1")
        // In an HTTP stream `switch-mode http` is an accept (`HTTP` holds there).
        var request = SampleInput(facts: try facts(try requestHead("GET / HTTP/1.1\r\n\r\n")))
        XCTAssertTrue(rules.acceptsContent(&request))
    }

    /// The connection rules and the session rules are apart: the session rules read the
    /// session's `src` (the PROXY header's, which the caller puts in) and the connection's
    /// `fc_src`; the connection rules never see the session rules' reject, nor these theirs.
    func testSessionRulesReadTheSessionsSourceAndTheConnectionsApart() throws {
        let config = try ConfigParser.parse(text: """
            frontend fe
                bind :8080 accept-proxy
                tcp-request connection reject if { src 192.0.2.0/24 }
                tcp-request session reject if { src 10.0.0.0/8 }
                tcp-request session set-var(sess.fc) fc_src
                tcp-request session reject if { var(sess.fc) -m str 127.0.0.9 }
                mode http
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        let rules = TCPRules(config.frontends[0].tcpRequestRules)
        XCTAssertTrue(rules.hasConnectionRules && rules.hasSessionRules && !rules.hasContentRules)
        /// The connection from `socket`, then its session from `header` (the PROXY header's).
        func outcome(socket: String, header: String) throws -> (connection: Bool, session: Bool) {
            var input = SampleInput.connectionLevel(source: try SocketAddress(ipAddress: socket, port: 4000), destination: nil,
                                                    variables: StreamVariables(process: ProcessVariables()))
            guard rules.acceptsConnection(&input) else { return (false, false) }
            XCTAssertEqual(input.facts.connectionSource?.ipAddress, socket)
            input.facts.source = try SocketAddress(ipAddress: header, port: 1111)
            return (true, rules.acceptsSession(&input))
        }
        XCTAssertTrue(try outcome(socket: "127.0.0.1", header: "192.0.2.7") == (true, true), "the connection rule reads the socket's address only")
        XCTAssertTrue(try outcome(socket: "127.0.0.1", header: "10.1.2.3") == (true, false), "the session rule reads the header's")
        XCTAssertTrue(try outcome(socket: "192.0.2.1", header: "198.51.100.1") == (false, false), "refused before the header")
        XCTAssertTrue(try outcome(socket: "127.0.0.9", header: "198.51.100.1") == (true, false), "fc_src is the socket's in a session rule")
    }

    /// The session starts once every handshake awaited is done, whatever their order, and only once.
    func testTheSessionGateOpensOnceEveryHandshakeIsDone() {
        XCTAssertTrue(SessionGate(awaitsProxyHeader: false, awaitsTLS: false).isComplete, "nothing to wait for: at once")
        var proxyOnly = SessionGate(awaitsProxyHeader: true, awaitsTLS: false)
        XCTAssertFalse(proxyOnly.isComplete)
        XCTAssertFalse(proxyOnly.finished(.tlsHandshake), "a handshake not awaited opens nothing")
        XCTAssertTrue(proxyOnly.finished(.proxyHeader))
        XCTAssertTrue(proxyOnly.isComplete)
        XCTAssertFalse(proxyOnly.finished(.proxyHeader), "only once")
        var both = SessionGate(awaitsProxyHeader: true, awaitsTLS: true)
        XCTAssertFalse(both.finished(.proxyHeader), "the header comes first, TLS is still awaited")
        XCTAssertFalse(both.isComplete)
        XCTAssertTrue(both.finished(.tlsHandshake))
        var tlsFirst = SessionGate(awaitsProxyHeader: true, awaitsTLS: true)
        XCTAssertFalse(tlsFirst.finished(.tlsHandshake))
        XCTAssertTrue(tlsFirst.finished(.proxyHeader))
        XCTAssertFalse(tlsFirst.finished(.tlsHandshake), "a second handshake event changes nothing")
    }

    func testCapturesAreTheLastOccurrenceCutAndEscaped() throws {
        let config = try ConfigParser.parse(text: """
            frontend fe
                bind :8080
                capture request header Host len 5
                capture request header User-Agent len 64
                capture request header X-None len 10
                capture response header Server len 20
                mode http
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        let captures = config.frontends[0].captures
        let request = try requestHead("GET / HTTP/1.1\r\nHost: first\r\nHost: example.com\r\nUser-Agent: a|b {x} \"q\" #1\r\n\r\n")
        let values = HeaderCaptures.capture(captures, response: false, from: request)
        XCTAssertEqual(values, ["examp", "a|b {x} \"q\" #1", ""])
        XCTAssertEqual(HeaderCaptures.logField(values), "{examp|a#7Cb #7Bx#7D #22q#22 #231|}")
        let response = try responseHead("HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n")
        XCTAssertEqual(HeaderCaptures.logField(HeaderCaptures.capture(captures, response: true, from: response)), "{nginx}")
        XCTAssertEqual(HeaderCaptures.logField([]), "")
    }
}
