import XCTest
@testable import SwiftLBConfig

/// `fcgi-app` sections: read, their keywords checked by name, ignored with a warning; what
/// would use one (`use-fcgi-app`) is refused — SwiftLB does not speak FastCGI.
final class FastCGISectionTests: XCTestCase {
    private let app = "fcgi-app php\n    docroot /var/www\n    index index.php\n    path-info ^(/.+\\.php)(/.*)?$\n    option keep-conn\n"

    func testAnUnusedApplicationIsReadAndIgnoredWithAWarning() throws {
        let config = try ConfigParser.parse(text: "frontend fe\n    bind :80\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n" + app, file: "t.cfg")
        XCTAssertEqual(config.backends["b"]?.servers.count, 1)
        let warning = try XCTUnwrap(config.warnings.first)
        XCTAssertEqual(warning.line, 6)
        XCTAssertTrue(warning.message.contains("fcgi-app 'php' is read and ignored"), warning.message)
    }

    func testATypoAndUseFcgiAppAreErrorsWithTheirLines() {
        let text = "frontend fe\n    bind :80\n    default_backend b\nbackend b\n    use-fcgi-app php\n    server s 127.0.0.1:1\n" + app + "    docrot /x\n"
        XCTAssertThrowsError(try ConfigParser.parse(text: text, file: "t.cfg")) { error in
            let errors = (error as? ConfigErrors)?.errors ?? []
            XCTAssertEqual(errors.map(\.line), [5, 12], "\(errors)")
            XCTAssertEqual(errors.first?.keyword, "use-fcgi-app")
            XCTAssertTrue(errors.last?.message.contains("did you mean 'docroot'") ?? false, "\(errors)")
        }
    }
}
