import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// `userlist` sections and `http_auth(NAME)`: users with crypt(3) hashes (made by `openssl
/// passwd`, an independent implementation) or clear passwords, groups, Basic credentials read
/// from `Authorization`, and a reference to a list that does not exist refused with its line.
final class UserlistTests: XCTestCase {
    static let sha512 = "$6$Q9Yx1s7yZ$.tkUKLLn2g.Cx.U0CfF48.pac7mD.2kB.x6g8FABbeiSeFFkXWBvUvsuu2fSChJ78q/rSvWEv7NpWbCHyKvY51"  // openssl passwd -6 -salt Q9Yx1s7yZ secret
    static let sha256 = "$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM."  // openssl passwd -5 -salt abcdefgh secret
    static let md5 = "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1"  // openssl passwd -1 -salt abcdefgh secret

    static let config = """
        userlist admins
            group ops users carol
            user alice password \(sha512) groups ops
            user bob password \(sha256)
            user carol password \(md5)
            user dave insecure-password plain
        frontend fe
            bind :8080
            http-request auth realm Admin unless { http_auth(admins) }
            http-request return status 200 content-type text/plain string ok
            mode http

        """

    private func basic(_ user: String, _ password: String) -> String {
        "Authorization: Basic \(Data("\(user):\(password)".utf8).base64EncodedString())\r\n"
    }

    func testTheSectionIsReadAsHAProxyWritesIt() throws {
        let config = try ConfigParser.parse(text: Self.config, file: "t.cfg", acceptingPending: false, environment: [:])
        let list = try XCTUnwrap(config.userlists["admins"])
        XCTAssertEqual(list.users["alice"]?.password, .hashed(Self.sha512))
        XCTAssertEqual(list.users["dave"]?.password, .insecure("plain"))
        XCTAssertEqual(list.groups["ops"], ["alice", "carol"])
    }

    func testCredentialsAreCheckedAgainstTheHashes() throws {
        let config = try ConfigParser.parse(text: Self.config, file: "t.cfg", acceptingPending: false, environment: [:])
        let list = config.userlists["admins"]
        for (user, password, expected) in [("alice", "secret", true), ("bob", "secret", true), ("carol", "secret", true),
                                           ("dave", "plain", true), ("alice", "Secret", false), ("dave", "plai", false),
                                           ("eve", "secret", false)] {
            let head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\n" + basic(user, password) + "\r\n")
            XCTAssertEqual(BasicAuth.authenticatedUser(head, list: list) != nil, expected, "\(user):\(password)")
        }
        XCTAssertNil(BasicAuth.authenticatedUser(try requestHead("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer x\r\n\r\n"), list: list))
        XCTAssertNil(BasicAuth.credentials("Basic !!!"))
    }

    func testAuthAnswers401UnlessTheCredentialsAreRight() throws {
        let bench = try RuleBench(Self.config)
        let refused = try XCTUnwrap(try bench.answer("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        XCTAssertTrue(refused.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"), refused)
        XCTAssertTrue(refused.lowercased().contains("www-authenticate: basic realm=\"admin\"\r\n"), refused)
        let wrong = try XCTUnwrap(try bench.answer("GET / HTTP/1.1\r\nHost: h\r\n" + basic("alice", "nope") + "\r\n"))
        XCTAssertTrue(wrong.hasPrefix("HTTP/1.1 401 "), wrong)
        let right = try XCTUnwrap(try bench.answer("GET / HTTP/1.1\r\nHost: h\r\n" + basic("alice", "secret") + "\r\n"))
        XCTAssertTrue(right.hasPrefix("HTTP/1.1 200 ") && right.hasSuffix("ok"), right)
    }

    func testAnUnknownUserlistIsRefusedWithItsLine() {
        XCTAssertThrowsError(try ConfigParser.parse(text: """
            frontend fe
                bind :8080
                acl ok http_auth(admin)
                http-request auth unless ok
            userlist admins
                user a insecure-password b

            """, file: "lb.conf", acceptingPending: false, environment: [:])) { error in
            let e = (error as! ConfigErrors).errors
            XCTAssertEqual(e.map(\.line), [3])
            XCTAssertTrue(e[0].message.contains("no userlist named 'admin' (did you mean 'admins'?)"), e[0].message)
        }
        XCTAssertThrowsError(try ConfigParser.parse(text: "userlist u\n    user a password plaintext\n", file: "lb.conf", acceptingPending: false, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("crypt(3) hash"), "\(error)")
        }
    }

    /// crypt_rn hashes in the caller's buffer: event loops verifying passwords at once get each
    /// their own right answer (a shared static buffer would hand one thread another's hash).
    func testHashesComputedOnSeveralThreadsAtOnceAreEachRight() {
        let cases: [(String, String, Bool)] = [("secret", Self.sha512, true), ("wrong", Self.sha512, false),
                                               ("secret", Self.sha256, true), ("secret", Self.md5, true), ("nope", Self.md5, false)]
        let results = NIOLockedValueBox([Bool?](repeating: nil, count: cases.count * 8))
        DispatchQueue.concurrentPerform(iterations: cases.count * 8) { i in
            let (password, hash, _) = cases[i % cases.count]
            let ok = BasicAuth.matches(password, .hashed(hash))
            results.withLockedValue { $0[i] = ok }
        }
        for (i, result) in results.withLockedValue({ $0 }).enumerated() {
            XCTAssertEqual(result, cases[i % cases.count].2, "case \(i % cases.count)")
        }
    }
}
