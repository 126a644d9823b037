#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import SwiftLBConfig

/// `http_auth(USERLIST)`: whether a request's `Authorization: Basic …` names a user of the
/// list with its password — the clear `insecure-password`, or a `password` crypt(3) hash
/// checked by hashing the offered password with the stored hash as setting (glibc's crypt,
/// from libcrypt: SHA-512 `$6$`, SHA-256 `$5$`, MD5 `$1$`, yescrypt `$y$`, DES).
enum BasicAuth {
    /// The user and password of an `Authorization` value, when it is Basic and well formed.
    static func credentials(_ value: String) -> (user: String, password: String)? {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: parts[1].trimmingBlanks()),
              let text = String(validating: Array(data), as: UTF8.self), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The user `head`'s credentials name, when they are right for `list`; nil otherwise.
    static func authenticatedUser(_ head: MessageHead?, list: Userlist?) -> String? {
        guard let list, let value = head?.values(of: "authorization").last, let (user, password) = credentials(value),
              let entry = list.users[user], matches(password, entry.password) else { return nil }
        return user
    }

    static func matches(_ offered: String, _ stored: Userlist.Password) -> Bool {
        switch stored {
        case .insecure(let text): return constantTimeEqual(Array(offered.utf8), Array(text.utf8))
        case .hashed(let hash): return Crypt.hash(offered, setting: hash).map { constantTimeEqual(Array($0.utf8), Array(hash.utf8)) } ?? false
        }
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// crypt(3) from libcrypt, loaded when first needed (SwiftLB does not link it). The reentrant
/// `crypt_rn` works in a buffer of the caller's, so event loops hash at once: a SHA-512 `$6$`
/// hash costs about a millisecond, and a process-wide lock around `crypt` made every loop wait
/// for every other loop's authentications.
enum Crypt {
    private typealias Function = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer, Int32) -> UnsafeMutablePointer<CChar>?
    private static let function: Function? = {
        guard let handle = dlopen("libcrypt.so.1", RTLD_NOW) ?? dlopen("libcrypt.so", RTLD_NOW), let symbol = dlsym(handle, "crypt_rn") else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
    }()
    /// `sizeof(struct crypt_data)` in libxcrypt (32768); crypt_rn refuses a smaller buffer.
    private static let workspaceSize = 32768

    /// `password` hashed with `setting` (a stored hash), or nil when libcrypt is missing or
    /// refuses the setting.
    static func hash(_ password: String, setting: String) -> String? {
        guard let function else { return nil }
        let workspace = UnsafeMutableRawPointer.allocate(byteCount: workspaceSize, alignment: 16)
        defer {
            workspace.initializeMemory(as: UInt8.self, repeating: 0, count: workspaceSize)  // it held the password
            workspace.deallocate()
        }
        workspace.initializeMemory(as: UInt8.self, repeating: 0, count: workspaceSize)
        guard let result = function(password, setting, workspace, Int32(workspaceSize)) else { return nil }
        let text = String(cString: result)
        return text.hasPrefix("*") ? nil : text  // "*0"/"*1": crypt's failure tokens
    }
}
