// swift-tools-version:6.0
import Foundation
import PackageDescription

/// libFuzzer harnesses for SwiftLB, apart from the main package because they are built with
/// `-sanitize=fuzzer` (which provides `main`): run scripts/fuzz.sh, not `swift build` here.
/// SwiftPM names a path dependency after its directory, whatever the checkout is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "swiftlb-fuzz",
    dependencies: [.package(path: root.path)],
    targets: [
        .executableTarget(
            name: "FuzzHTTP1",
            dependencies: [.product(name: "SwiftLBProxy", package: rootIdentity)]
        )
    ]
)
