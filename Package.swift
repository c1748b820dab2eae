// swift-tools-version: 6.0
// imscope: a traffic recorder and protocol inspector for Socket.IO instant-messaging systems.
//
// One target per layer; dependency arrows point one way:
//   CPcap -> Capture -> TCPReassembly -> (HTTP1 -> WebSocket -> EngineIO -> SocketIO -> IMProtocol) -> Timeline -> imscope
// ImscopeCore holds the few value types every layer shares (timestamps, directions, diagnostics).
import PackageDescription

let optimize: [SwiftSetting] = [
    // Decoders are generic over their sinks; let the optimizer specialise across module boundaries.
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))
]

let package = Package(
    name: "imscope",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "imscope", targets: ["imscope"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"]), .brew(["libpcap"])]
        ),
        .target(name: "ImscopeCore", swiftSettings: optimize),
        .target(name: "Capture", dependencies: ["CPcap", "ImscopeCore"], swiftSettings: optimize),
        .target(name: "TCPReassembly", dependencies: ["Capture", "ImscopeCore"], swiftSettings: optimize),
        .target(name: "Timeline", dependencies: ["Capture", "TCPReassembly", "ImscopeCore"], swiftSettings: optimize),
        .executableTarget(
            name: "imscope",
            dependencies: [
                "Timeline", "Capture", "TCPReassembly", "ImscopeCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimize
        ),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "ImscopeCore"]),
        .testTarget(name: "TCPReassemblyTests", dependencies: ["TCPReassembly", "Capture", "ImscopeCore"]),
        // Golden outputs live in Tests/TimelineTests/Golden and are read by path (re-recorded with IMSCOPE_RECORD=1).
        .testTarget(
            name: "TimelineTests",
            dependencies: ["Timeline", "Capture", "TCPReassembly", "ImscopeCore"],
            exclude: ["Golden"]
        ),
    ]
)
