import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// Where a `server` line dials, and telling unix socket addresses apart (NIO's `==` compares
/// `sun_path` as C strings, which makes every abstract name equal).
final class ServerAddressTests: XCTestCase {
    private func server(_ path: String?, abstract: Bool = false) -> Server {
        var s = Server(name: "s", host: path == nil ? "127.0.0.1" : "", port: path == nil ? 8080 : 0, parameters: ServerParameters(), line: 1)
        s.unixPath = path
        s.unixAbstract = abstract
        return s
    }

    func testUnixAndAbstractServersDialTheirSockets() throws {
        let file = try server("/run/app.sock").socketAddress()
        XCTAssertTrue(file.isUnixDomain)
        XCTAssertEqual(file.pathname, "/run/app.sock")
        let abstract = try server("app", abstract: true).socketAddress()
        XCTAssertTrue(abstract.isUnixDomain)
        XCTAssertEqual(abstract.pathname, "", "an abstract name starts with NUL")
        let tcp = try server(nil).socketAddress()
        XCTAssertFalse(tcp.isUnixDomain)
        XCTAssertEqual(tcp.port, 8080)
    }

    func testAbstractNamesAreToldApart() throws {
        let a = try server("a", abstract: true).socketAddress(), b = try server("b", abstract: true).socketAddress()
        XCTAssertEqual(a, b, "NIO's == sees two empty C strings (why isSameSocket exists)")
        XCTAssertFalse(a.isSameSocket(as: b))
        XCTAssertTrue(a.isSameSocket(as: try server("a", abstract: true).socketAddress()))
        XCTAssertFalse(a.isSameSocket(as: try server("/a").socketAddress()))
        XCTAssertTrue(try server("/a").socketAddress().isSameSocket(as: try server("/a").socketAddress()))
        XCTAssertTrue(try server(nil).socketAddress().isSameSocket(as: try server(nil).socketAddress()))
    }
}
