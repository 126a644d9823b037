// swift-tools-version:6.0
import PackageDescription

/// SwiftLB: one process that replaces HAProxy + keepalived in front of an HTTP cluster.
/// C libraries behind thin system-library targets, one module per concern, one test target
/// per module (the architecture is described in README.md).
/// The data path's modules drop Swift's dynamic exclusivity checks in release builds (a
/// thread-local access set consulted on every class-property access: ~3 % of the CPU per
/// proxied request). Debug builds, which the tests run, keep them on. The scripts' release
/// build (scripts/lib/deps.sh, `SWIFTLB_RELEASE_BUILD`) drops them in every module, SwiftNIO's
/// too, and links the Swift runtime statically; a plain `swift build -c release` still works.
let dataPathSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "swiftlb",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "swiftlb", targets: ["swiftlb"]),
        /// For the fuzz harness in Fuzz/ (a package of its own): `CodecFuzzing` is public.
        .library(name: "SwiftLBProxy", targets: ["SwiftLBProxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        /// HTTP/2 framing, HPACK and the stream multiplexer for `bind … proto h2` / `alpn h2`.
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
    ],
    targets: [
        /// System libpcre2-8 (apt: libpcre2-dev). The shim header fixes the code unit width.
        .systemLibrary(
            name: "CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        .target(name: "SwiftLBRegex", dependencies: ["CPCRE2"]),
        /// System OpenSSL 3 (apt: libssl-dev), the library HAProxy uses on Debian. The shim
        /// header wraps the macros Swift cannot import.
        .systemLibrary(
            name: "CLibSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        /// System zlib (apt: zlib1g-dev): `compression algo gzip|deflate|raw-deflate`. The shim
        /// header wraps deflateInit2, a macro Swift cannot import.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        /// The C that OpenSSL calls back mid-handshake: session-ticket keys, kept client sessions.
        .target(name: "CSwiftLBTLSShim", dependencies: ["CLibSSL"]),
        .target(
            name: "SwiftLBTLS",
            dependencies: [
                "CLibSSL",
                "CSwiftLBTLSShim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: dataPathSettings
        ),
        .target(
            name: "SwiftLBConfig",
            dependencies: [
                "SwiftLBRegex",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SwiftLBHealth",
            dependencies: [
                "SwiftLBConfig",
                "SwiftLBRegex",
                "SwiftLBTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SwiftLBProxy",
            dependencies: [
                "CZlib",
                "SwiftLBAdmin",
                "SwiftLBLog",
                "SwiftLBConfig",
                "SwiftLBHealth",
                "SwiftLBTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: dataPathSettings
        ),
        /// The floating VIP: the elector (a pure state machine), the authenticated heartbeat
        /// codec, rtnetlink/ARP, and the UDP shell that runs them on their own thread.
        .target(
            name: "SwiftLBHA",
            dependencies: [
                "CLibSSL",
                "SwiftLBConfig",
                "SwiftLBAdmin",  // the VIP's state as the stats model has it
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        /// What an operator sees: the stats model and its renderers (HTML, HAProxy's CSV, JSON,
        /// Prometheus), HAProxy's runtime API, the control socket and a standalone stats listener.
        .target(
            name: "SwiftLBAdmin",
            dependencies: [
                "SwiftLBConfig",
                "SwiftLBTLS",
                "SwiftLBHealth",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// HAProxy's logs: the record of one stream, log-format templates (httplog, tcplog, clf,
        /// JSON), syslog targets and the per-loop writer that sends to them without blocking.
        .target(
            name: "SwiftLBLog",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: dataPathSettings
        ),
        /// `chroot DIR` for a Swift process: a private /proc for libdispatch inside the jail.
        .target(name: "CSwiftLBJail"),
        .executableTarget(
            name: "swiftlb",
            dependencies: [
                "CSwiftLBJail",
                "CLibSSL",  // `swiftlb -vv`: the OpenSSL and PCRE2 versions it runs with
                "CPCRE2",
                "SwiftLBConfig",
                "SwiftLBProxy",
                "SwiftLBAdmin",
                "SwiftLBHA",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The tests' process runner (posix_spawn, explicit child environments), shared by every test target.
        .target(name: "SwiftLBTestSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/SwiftLBTestSupport"),
        .testTarget(name: "SwiftLBConfigTests", dependencies: ["SwiftLBConfig", "SwiftLBTestSupport"]),
        .testTarget(name: "SwiftLBHATests", dependencies: ["SwiftLBHA", "SwiftLBTestSupport"]),
        .testTarget(
            name: "SwiftLBAdminTests",
            dependencies: [
                "SwiftLBTestSupport",
                "SwiftLBAdmin",
                "SwiftLBConfig",
                "SwiftLBHealth",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SwiftLBLogTests",
            dependencies: [
                "SwiftLBTestSupport",
                "SwiftLBLog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SwiftLBTLSTests",
            dependencies: [
                "SwiftLBTestSupport",
                "SwiftLBTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SwiftLBProxyTests",
            dependencies: [
                "SwiftLBTestSupport",
                "SwiftLBProxy",
                "SwiftLBConfig",
                "SwiftLBHealth",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
