// swift-tools-version: 6.0
// imscope: a traffic recorder and protocol inspector for Socket.IO instant-messaging systems.
//
// One target per concern; every arrow points at what a target depends on, and none points back
// (Docs/architecture.md):
//
//   the layers' decoders: pure, incremental,        |  records, and what is built on them
//   no I/O, no clock                                |
//   Capture -------> CPcap, CByteScan               |  Records ----> the layers' value types
//   TCPReassembly -> Capture                        |  Rendering --> Records, JSONScan
//   HTTP1                                           |  Pipeline ---> Records, every layer
//   WebSocket -----> HTTP1, Inflate (CZlib),        |  Jobs -------> Pipeline, Rendering, Records
//                    UTF8Validation (CSimdjson),    |  imscope ----> Jobs, Pipeline, Rendering, Records
//                    Crypto                         |
//   EngineIO ------> HTTP1, JSONScan                |  Replay -----> Records, Percentiles (a capture as a
//                                                   |                script; the verdict; copies, load figures)
//   SocketIO ------> JSONScan, UTF8Validation       |  ReplayClient -> Replay, SwiftNIO (live clients)
//   IMProtocol ----> JSONScan                       |  imscope also -> Replay, ReplayClient
//
// ImscopeCore (timestamps, directions, diagnostics) is below them all; Percentiles (HDR histograms) beside it. A consumer of records (audit, stats,
// report) depends on Records and Rendering, never on Pipeline's decoders or Jobs' threads.
import PackageDescription

let optimize: [SwiftSetting] = [
    // Decoders are generic over their sinks; let the optimizer specialise across module boundaries. The decoders
    // keep their state in classes touched for every packet; Swift's dynamic exclusivity checks on them cost about a
    // tenth of the run time (measured with perf, Docs/performance.md) and are left to debug builds and the tests.
    .unsafeFlags(["-cross-module-optimization", "-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "imscope",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "imscope", targets: ["imscope"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-1 for Sec-WebSocket-Accept (RFC 6455 section 4.2.2).
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // The replay client (ReplayClient): SwiftNIO underneath both. websocket-kit is Vapor's WebSocket client on
        // NIOWebSocket (upgrade, masking, control frames, TLS through NIOSSL); async-http-client does the polling
        // transport's long-poll GETs and POSTs (connection pool, TLS, timeouts).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/vapor/websocket-kit", from: "2.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // HDR histograms for the latency percentiles of replay load runs (`--copies`, `--max-latency`).
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"]), .brew(["libpcap"])]
        ),
        // zlib for permessage-deflate (RFC 7692): raw inflate, no hand-written inflater.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        // simdjson's SIMD UTF-8 validator (RFC 6455 requires every text message checked; the byte-wise check was 8 %
        // of a full decode). A C++ library behind one C function: libsimdjson-dev.
        .target(name: "CSimdjson", linkerSettings: [.linkedLibrary("simdjson")]),
        .target(name: "ImscopeCore", swiftSettings: optimize),
        .target(name: "UTF8Validation", dependencies: ["CSimdjson"], swiftSettings: optimize),
        .target(name: "Capture", dependencies: ["CPcap", "CByteScan", "ImscopeCore"], swiftSettings: optimize),
        .target(name: "TCPReassembly", dependencies: ["Capture", "ImscopeCore"], swiftSettings: optimize),
        // SIMD byte work in C (SSE2/AVX2): the JSON string-special scan, a line-break-noting copy, unmasking; and the
        // atomic count and pause hint `--jobs` threads spin on (Swift's own Atomic needs macOS 15), and a prefetch
        // hint for the next record of a capture read in place.
        .target(name: "CByteScan"),
        .target(name: "JSONScan", dependencies: ["CByteScan"], swiftSettings: optimize),
        .target(name: "Inflate", dependencies: ["CZlib"], swiftSettings: optimize),
        .target(name: "HTTP1", dependencies: ["ImscopeCore"], swiftSettings: optimize),
        .target(
            name: "WebSocket",
            dependencies: [
                "Inflate", "HTTP1", "ImscopeCore", "UTF8Validation", "CByteScan",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: optimize
        ),
        .target(name: "EngineIO", dependencies: ["HTTP1", "ImscopeCore", "JSONScan"], swiftSettings: optimize),
        .target(
            name: "SocketIO", dependencies: ["ImscopeCore", "UTF8Validation", "JSONScan"], swiftSettings: optimize),
        // The messageType tables ship as data (TSV), so a team can pass its own with --schema FILE.
        .target(
            name: "IMProtocol", dependencies: ["ImscopeCore", "JSONScan"], resources: [.copy("Resources")],
            swiftSettings: optimize),
        // The record model: what the pipeline emits and every consumer (renderers, `--jobs`, audit, report) takes.
        .target(
            name: "Records",
            dependencies: [
                "Capture", "TCPReassembly", "HTTP1", "WebSocket", "EngineIO", "SocketIO", "IMProtocol", "ImscopeCore",
            ],
            swiftSettings: optimize),
        // Output buffers, JSON writing, the JSON Lines/JSON and text renderers, record filters.
        .target(
            name: "Rendering",
            dependencies: [
                "Records", "UTF8Validation", "Capture", "TCPReassembly", "HTTP1", "WebSocket", "EngineIO", "SocketIO",
                "IMProtocol",
                "JSONScan", "ImscopeCore",
            ],
            swiftSettings: optimize),
        // Wires the layers: packets -> TCP -> each connection's decoders -> records.
        .target(
            name: "Pipeline",
            dependencies: [
                "Records", "UTF8Validation", "Capture", "TCPReassembly", "HTTP1", "WebSocket", "EngineIO", "SocketIO",
                "IMProtocol",
                "JSONScan", "Inflate", "ImscopeCore",
            ],
            swiftSettings: optimize
        ),
        // `--jobs`: the pipeline on several threads, merged by capture order into rendered bytes or owned records.
        .target(
            name: "Jobs",
            dependencies: [
                "Pipeline", "Records", "Rendering", "Capture", "TCPReassembly", "IMProtocol", "SocketIO", "CByteScan",
                "ImscopeCore",
            ],
            swiftSettings: optimize
        ),
        // Replay's pure half: the script a capture's records make, the matching of server messages, the verdict
        // and its reports (JUnit, JSON, text). No sockets: ReplayClient runs the script.
        .target(
            name: "Replay",
            dependencies: [
                "Records", "HTTP1", "EngineIO", "SocketIO", "IMProtocol", "ImscopeCore", "UTF8Validation",
                "Percentiles",
            ]),
        // The message-flow audit: every ImMessage followed by msgId from its send to its deliveries (a consumer of
        // owned records).
        .target(
            name: "Audit", dependencies: ["Records", "HTTP1", "IMProtocol", "ImscopeCore", "SocketIO", "Percentiles"]),
        // Latency percentiles from HDR histograms (hdrhistogram-swift): replay's load figures, the audit's latencies.
        .target(name: "Percentiles", dependencies: [.product(name: "Histogram", package: "hdrhistogram-swift")]),
        // Replay's live half: every recorded client a live Engine.IO/Socket.IO client on SwiftNIO, run on the
        // recording's clock and causes. With live capture, the only code that opens sockets.
        .target(
            name: "ReplayClient",
            dependencies: [
                "Replay", "EngineIO", "SocketIO", "ImscopeCore", "Percentiles",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "WebSocketKit", package: "websocket-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
        .executableTarget(
            name: "imscope",
            dependencies: [
                "Pipeline", "Jobs", "Rendering", "Records", "Capture", "CPcap", "TCPReassembly", "WebSocket",
                "IMProtocol", "ImscopeCore", "Replay", "ReplayClient", "Audit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimize
        ),
        // The benchmark: generates protocol-valid captures and measures imscope (and tshark) on them.
        .executableTarget(
            name: "imscope-bench", dependencies: ["CZlib", "WebSocket", "ImscopeCore"],
            swiftSettings: optimize + [.swiftLanguageMode(.v5)]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "ImscopeCore"]),
        .testTarget(name: "TCPReassemblyTests", dependencies: ["TCPReassembly", "Capture", "ImscopeCore"]),
        // Shared by the decoder test tables: feeding bytes whole, one at a time and in seeded random splits.
        .target(name: "DecoderTestSupport", path: "Tests/DecoderTestSupport"),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1", "ImscopeCore", "DecoderTestSupport"]),
        .testTarget(
            name: "WebSocketTests",
            dependencies: ["WebSocket", "HTTP1", "ImscopeCore", "UTF8Validation", "DecoderTestSupport"]),
        .testTarget(name: "EngineIOTests", dependencies: ["EngineIO", "HTTP1", "ImscopeCore", "DecoderTestSupport"]),
        .testTarget(
            name: "SocketIOTests", dependencies: ["SocketIO", "JSONScan", "ImscopeCore", "DecoderTestSupport"]),
        .testTarget(name: "IMProtocolTests", dependencies: ["IMProtocol", "JSONScan", "SocketIO", "ImscopeCore"]),
        .testTarget(name: "JSONScanTests", dependencies: ["JSONScan", "DecoderTestSupport"]),
        // The whole pipeline on real captures: golden outputs (Tests/PipelineTests/Golden, read by path,
        // re-recorded with IMSCOPE_RECORD=1), owned records, --jobs against one thread, bad input.
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "Pipeline", "Jobs", "Rendering", "Records", "Capture", "TCPReassembly", "IMProtocol", "ImscopeCore",
            ],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "RenderingTests",
            dependencies: [
                "Rendering", "Records", "Capture", "IMProtocol", "ImscopeCore", "JSONScan", "CByteScan", "SocketIO",
            ]
        ),
        // The verdict's tables, and the scripts real captures make (Captures/replay).
        .testTarget(
            name: "ReplayTests",
            dependencies: [
                "Replay", "Records", "Pipeline", "Capture", "IMProtocol", "SocketIO", "ImscopeCore", "Percentiles",
            ]),
        // The live half's scheduling (the sequencer of all clients' actions); the clients themselves are tested
        // against a real server (Tests/integration/test_replay.py).
        .testTarget(name: "ReplayClientTests", dependencies: ["ReplayClient", "Replay"]),
        // The audit's readings of JSON (an ACK's verdict, a receipt's content, the CONNECT auth); the audit itself
        // is tested on real captures (Tests/integration/test_audit.py).
        .testTarget(name: "AuditTests", dependencies: ["Audit"]),
        // The merger of --jobs on its own: shards' chunks in, records out in key order.
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "Pipeline", "Records", "Rendering", "ImscopeCore"]),
    ]
)
