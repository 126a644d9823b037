import CLibSSL
import CPCRE2
import FoundationEssentials
import Glibc
import SwiftLBConfig
import SwiftLBProxy

/// What `swiftlb -vv` prints, after `haproxy -vv`: an operator (or a bug report) needs to
/// know which build runs and which C libraries it really loaded — the OpenSSL and PCRE2 a
/// binary runs with are the system's shared libraries, which an upgrade changes under it.
/// The "built with" values are what the headers said at compile time; the "running on"
/// ones are asked of the loaded libraries.
enum BuildInfo {
    /// The compiler that built this binary (only a lower bound can be tested at compile time).
    static var swiftCompiler: String {
        #if compiler(>=6.5)
        return "6.5 or later"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }

    /// SwiftPM defines DEBUG in debug builds only.
    static var configuration: String {
        #if DEBUG
        return "debug"
        #else
        return "release"
        #endif
    }

    /// Whether the Swift runtime is linked into the binary (`--static-swift-stdlib`: the
    /// scripts' release build, scripts/lib/deps.sh) or loaded as libswiftCore.so — what this
    /// process has mapped, read from /proc/self/maps.
    static var swiftRuntime: String {
        guard let file = fopen("/proc/self/maps", "r") else { return "unknown" }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            if strstr(line, "/libswiftCore.so") != nil { return "shared (libswiftCore.so)" }
        }
        return "static (linked in)"
    }

    static var targetTriple: String {
        #if arch(x86_64)
        let arch = "x86_64"
        #elseif arch(arm64)
        let arch = "aarch64"
        #else
        let arch = "unknown"
        #endif
        #if os(Linux)
        return "\(arch)-unknown-linux-gnu"
        #elseif os(macOS)
        return "\(arch)-apple-macosx"
        #else
        return "\(arch)-unknown"
        #endif
    }

    /// `OpenSSL_version(OPENSSL_VERSION)` of the libssl/libcrypto loaded now.
    static var runningOpenSSL: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }

    static var builtOpenSSL: String { OPENSSL_VERSION_TEXT }

    /// `pcre2_config(PCRE2_CONFIG_VERSION)` of the libpcre2-8 loaded now: "10.42 2022-12-11".
    static var runningPCRE2: String {
        let length = pcre2_config_8(UInt32(PCRE2_CONFIG_VERSION), nil)
        guard length > 0 else { return "unknown" }
        var buffer = [UInt8](repeating: 0, count: Int(length))
        _ = pcre2_config_8(UInt32(PCRE2_CONFIG_VERSION), &buffer)
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    static var builtPCRE2: String { "\(PCRE2_MAJOR).\(PCRE2_MINOR)" }

    /// Whether the loaded PCRE2 can JIT-compile (SwiftLB asks for it on every regex).
    static var pcre2JIT: Bool {
        var jit: UInt32 = 0
        return pcre2_config_8(UInt32(PCRE2_CONFIG_JIT), &jit) >= 0 && jit == 1
    }

    /// What this build does, as `+NAME` words like HAProxy's "Feature list". Every one is
    /// compiled in unconditionally; the list says what the binary offers, not what lb.conf uses.
    static var features: [String] {
        ["+TLS", "+PCRE2", pcre2JIT ? "+PCRE2_JIT" : "-PCRE2_JIT", "+VRRP", "+PROXY_PROTOCOL", "+WEBSOCKET",
         "+TCP_MODE", "+PROMETHEUS_EXPORTER", "+STATS_PAGE", "+RUNTIME_API", "+SYSTEMD_NOTIFY", "+SYSLOG", "+EPOLL"]
    }

    /// What `.if feature(NAME)` answers: HAProxy's names for what SwiftLB really has (a file
    /// written for HAProxy asks `feature(OPENSSL)`, not `feature(TLS)`), then SwiftLB's own
    /// feature words; what SwiftLB lacks (Lua, QUIC, device detection…) is `-NAME`.
    static var haproxyFeatures: [String] {
        ["+OPENSSL", "+PCRE2", pcre2JIT ? "+PCRE2_JIT" : "-PCRE2_JIT", "+ZLIB", "+EPOLL", "+THREAD", "+GETADDRINFO",
         "+PROMEX", "-LUA", "-QUIC", "-51DEGREES", "-DEVICEATLAS", "-WURFL", "-OT", "-SLZ", "-LINUX_SPLICE",
         "-PCRE", "-ENGINE"] + features
    }

    /// The facts `.if` conditions read: HAProxy 2.6.12's version (the language SwiftLB speaks),
    /// the features above and the OpenSSL really loaded; and what the default `maxconn` is
    /// derived from: the descriptor limit at boot, `-L NAME`; and `-i ID` for keepalived's `@ID` lines.
    static func configFacts(localPeer: String?, configID: String?) -> BuildFacts {
        var facts = BuildFacts(features: haproxyFeatures, sslLibrary: runningOpenSSL, sampleCompiler: ACLSamples.compiler)
        facts.descriptorsAtBoot = DescriptorLimit.atBoot
        facts.localPeer = localPeer
        facts.configID = configID
        return facts
    }

    /// The whole `-vv` text; `version` is the command's version string.
    static func report(version: String) -> String {
        """
        SwiftLB version \(version)
        Build options :
          Swift compiler : \(swiftCompiler)
          Configuration : \(configuration)
          Swift runtime : \(swiftRuntime)
          Target : \(targetTriple)

        Feature list : \(features.joined(separator: " "))

        Built with OpenSSL version : \(builtOpenSSL)
        Running on OpenSSL version : \(runningOpenSSL)
        Built with PCRE2 version : \(builtPCRE2)
        Running on PCRE2 version : \(runningPCRE2)
        PCRE2 library supports JIT : \(pcre2JIT ? "yes" : "no")

        Available polling systems : epoll (SwiftNIO)

        """
    }
}
