// swift-tools-version:6.0
import PackageDescription

// Module map (see docs/architecture.md). Dependencies flow one way:
//   CSodium -> Sodium -> {HyperLog, SwarmEngine}; CompactEncoding -> {HyperLog, SwarmEngine};
//   IRCServer, HyperLog, SwarmEngine -> PearBridge -> pearircd.
// IRCServer, HyperLog and SwarmEngine never import PearBridge.
// The release pearircd (`make run`, the benchmarks) carries the Swift runtime and Foundation inside it: it runs where
// no Swift toolchain is installed, and it maps far less at start (27.7 -> about 18 MiB resident, docs/benchmarks.md),
// because the dynamic loader no longer binds thousands of symbols across six Swift libraries. How:
// - `-static-stdlib` links the runtime statically; it leaves out Foundation's own static dependencies, which the
//   group names (they refer to each other, hence --start-group);
// - lld with packed relative relocations (DT_RELR): the relocation table shrinks from 2.7 MB to 23 KB;
// - no exported symbol table (`-static-stdlib` asks for one): nothing dlopens pearircd, and the backtracer reads
//   the ELF symbols itself. The binary stays position independent.
// Debug builds (the tests) keep the shared libraries, so they link fast.
let selfContainedReleaseLinking: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-static-stdlib", "-use-ld=lld",
            "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
            "-Xlinker", "--no-export-dynamic",
            "-Xlinker", "--start-group",
            "-lFoundation", "-lFoundationInternationalization", "-lCoreFoundation", "-l_FoundationCShims",
            "-l_FoundationCollections", "-l_FoundationICU", "-lstdc++", "-lm",
            "-Xlinker", "--end-group",
        ],
        .when(platforms: [.linux], configuration: .release)
    )
]

let package = Package(
    name: "PearIRC",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pearircd", targets: ["pearircd"]),
        .library(name: "Sodium", targets: ["Sodium"]),
        .library(name: "CompactEncoding", targets: ["CompactEncoding"]),
        .library(name: "HyperLog", targets: ["HyperLog"]),
        .library(name: "SwarmEngine", targets: ["SwarmEngine"]),
        .library(name: "IRCServer", targets: ["IRCServer"]),
        .library(name: "PearBridge", targets: ["PearBridge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Already in the graph through swift-nio; named for its Deque.
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        // The web front end's HTTPS and IRC-over-WebSocket listener (issue 21).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.0.0"),
        // Operators' figures: counters and gauges (swift-metrics), shown at /metrics in Prometheus's text format.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(name: "Sodium", dependencies: ["CSodium"]),
        .target(name: "CompactEncoding"),
        // An event loop as Swift concurrency's serial and task executor, shared by the IRC and the peer side.
        .target(name: "LoopExecutors", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        .target(
            name: "HyperLog",
            dependencies: [
                "Sodium", "CompactEncoding",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // A child process for the crash-safety test: appends until killed, printing every acknowledged length.
        .executableTarget(name: "hyperlog-crash-child", dependencies: ["HyperLog"], path: "Tests/HyperLogCrashChild"),
        // Test networks on one machine: network namespaces with random loss, and relays that add delay (the kernel
        // here has no netem). For the lossy-path tests and `pear-bench udx-lossy`.
        .target(
            name: "NetworkLab",
            dependencies: [
                "LoopExecutors", "SwarmEngine", "CompactEncoding", "Sodium",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SwarmEngine",
            dependencies: [
                "Sodium", "CompactEncoding", "LoopExecutors",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "IRCServer",
            dependencies: [
                "LoopExecutors",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                // PBKDF2 for SCRAM-SHA-256 credentials.
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "PearBridge",
            dependencies: [
                "IRCServer", "HyperLog", "SwarmEngine", "Sodium", "CompactEncoding", "LoopExecutors",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The web front end: HTTPS (Hummingbird) with IRC over WebSocket into the IRC core, kept out of IRCServer so the
        // IRC front end stays plain SwiftNIO.
        .target(
            name: "WebFrontEnd",
            dependencies: [
                "IRCServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The browser client, compiled into the binary (a self-contained `pearircd` needs no files beside it).
            resources: ["index.html", "style.css", "app.js", "connection.js", "commands.js", "irc.js", "state.js", "view.js"]
                .map { .embedInCode("Client/\($0)") }
        ),
        .executableTarget(
            name: "pearircd",
            dependencies: [
                "PearBridge", "IRCServer", "WebFrontEnd", "SwarmEngine", "Sodium", "CompactEncoding",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            linkerSettings: selfContainedReleaseLinking
        ),

        // The memory floor of any NIO server (`pear-bench floor`): a minimal IRC listener, linked as pearircd is.
        .executableTarget(
            name: "nio-floor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            linkerSettings: selfContainedReleaseLinking
        ),

        // Benchmarks: run with `swift run -c release pear-bench`; figures go to docs/benchmarks.md.
        .executableTarget(
            name: "pear-bench",
            dependencies: [
                "HyperLog", "Sodium", "CompactEncoding", "SwarmEngine", "PearBridge", "IRCServer", "NetworkLab",
                "LoopExecutors",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Test support: the Holepunch reference vectors, copied unchanged from ../shared/vectors.
        .target(
            name: "TestVectors",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/TestVectors",
            resources: [.copy("Vectors")]
        ),
        .testTarget(name: "SodiumTests", dependencies: ["Sodium", "TestVectors"]),
        .testTarget(name: "CompactEncodingTests", dependencies: ["CompactEncoding", "TestVectors"]),
        .testTarget(
            name: "HyperLogTests",
            dependencies: [
                "HyperLog", "Sodium", "CompactEncoding", "TestVectors", "hyperlog-crash-child",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "SwarmEngineTests",
            dependencies: [
                "SwarmEngine", "Sodium", "CompactEncoding", "TestVectors", "NetworkLab",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // SHA-256, to check what the Node reference peer reports receiving.
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "WebFrontEndTests",
            dependencies: [
                "WebFrontEnd", "IRCServer", "TestVectors",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "IRCServerTests",
            dependencies: [
                "IRCServer", "TestVectors",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "PearBridgeTests",
            dependencies: [
                "PearBridge", "Sodium", "SwarmEngine", "IRCServer", "HyperLog", "TestVectors", "pearircd", "NetworkLab",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
