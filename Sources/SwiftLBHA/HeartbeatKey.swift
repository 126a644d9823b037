import FoundationEssentials
import Glibc
import SwiftLBConfig

/// The shared heartbeat key from `auth_key_file`: the file's bytes, without the trailing
/// newline an editor or `echo` leaves. Read at start and by `swiftlb check`, so a missing or
/// short key is reported with the file and line of the keyword.
public enum HeartbeatKey {
    public static let minimumLength = 16

    /// nil with `auth none`. `warnings` collects non-fatal findings (a key others can read).
    /// Without a key file, keepalived's `auth_pass` gives the key: HMAC-SHA256 of the password
    /// under a fixed label, the same on every instance with the same password.
    public static func load(_ settings: VRRPSettings, configFile: String, warnings: inout [ConfigError]) throws(ConfigError) -> [UInt8]? {
        guard let path = settings.authKeyFile else { return settings.authPass.map(derived(fromPassword:)) }
        func error(_ message: String) -> ConfigError {
            ConfigError(file: configFile, line: settings.authKeyLine, keyword: "auth_key_file", message: message)
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw error("cannot read '\(path)'") }
        var key = [UInt8](data)
        while let last = key.last, last == 0x0A || last == 0x0D { key.removeLast() }
        guard key.count >= minimumLength else {
            throw error("the key in '\(path)' has \(key.count) bytes; use at least \(minimumLength) (e.g. head -c 32 /dev/urandom | base64 > \(path))")
        }
        var info = stat()
        // Group-readable is how a service group shares a secret (root:swiftlb 640, as the
        // container stack installs it); readable or writable by everyone is not.
        if stat(path, &info) == 0, info.st_mode & 0o007 != 0 {
            warnings.append(error("'\(path)' can be read by other users (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it (or 640 with a group only SwiftLB is in)"))
        }
        return key
    }
}

extension HeartbeatKey {
    /// The key of keepalived's `auth_pass` (its first 8 characters, as the parser keeps them).
    static func derived(fromPassword password: String) -> [UInt8] {
        MAC.hmac(key: Array("SwiftLB heartbeat key from keepalived auth_pass".utf8), Array(password.utf8))
    }

    /// `swiftlb check`'s view of every instance's key: each file read and checked, and the
    /// instances that will share a peer link (the same single `unicast_peer` and `udp_port`)
    /// holding the same key — the link has one. Every problem is reported, with its file and
    /// line.
    public static func checkAll(_ configuration: Configuration, warnings: inout [ConfigError]) throws(ConfigErrors) {
        var errors: [ConfigError] = []
        var linkKeys: [String: (name: String, key: [UInt8]?)] = [:]
        for v in configuration.vrrpInstances {
            let file = v.file ?? configuration.file
            let key: [UInt8]?
            do { key = try load(v, configFile: file, warnings: &warnings) } catch {
                errors.append(error)
                continue
            }
            guard v.unicastPeers.count == 1 else { continue }
            let link = "\(v.unicastPeers[0]) \(v.udpPort)"
            if let first = linkKeys[link], first.key != key {
                errors.append(ConfigError(file: file, line: v.authKeyFile == nil ? v.line : v.authKeyLine, keyword: "auth_key_file", message:
                    "vrrp '\(v.name)': it shares the peer link to \(v.unicastPeers[0]) with vrrp '\(first.name)', but not its key: use one auth_key_file for both (or another udp_port)"))
            } else if linkKeys[link] == nil {
                linkKeys[link] = (v.name, key)
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
    }
}
