// swift-tools-version:6.2
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "mcp-sandbox",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mcp-bridge", targets: ["mcp-bridge"]),
        .executable(name: "builder", targets: ["builder"]),
        .library(name: "MCPBridge", targets: ["MCPBridge"]),
        .library(name: "MCPConnect", targets: ["MCPConnect"]),
        .library(name: "SandboxBuilder", targets: ["SandboxBuilder"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        // TLS for `mcp-bridge connect` only (the server side never terminates TLS: nginx does).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // HTTP/1 parts as swift-http-types values, for the bridge's own connection handler.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // No default traits: FullFoundation would link swift-corelibs-foundation (and its ICU) for
        // features the bridge does not use; ConfigurationSupport is unused too.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Without its Foundation trait: the bridge links FoundationEssentials only (no ICU data).
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2", traits: []),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        // `builder serve`: the OpenAPI contract's runtime and its Hummingbird transport (the
        // generated code is committed: see scripts/generate-openapi), and SQLite for its state.
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        // Back-pressured hand-over of a deployment's response to the client (the front door).
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
    ],
    targets: [
        // capget/capset and prctl, which Swift cannot call directly (raw syscalls, C varargs).
        .target(name: "CPrivileges"),
        .target(
            name: "MCPBridge",
            dependencies: [
                "CPrivileges",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            // Async functions run on their caller's executor: a request's task on its event loop
            // no longer hops (and asks for its preferred executor) at every call (bench/NOTES.md).
            swiftSettings: strictSettings + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        // `mcp-bridge connect`: a remote server as local stdio (HTTP client, TLS, both transports).
        .target(
            name: "MCPConnect",
            dependencies: [
                "MCPBridge",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "mcp-bridge",
            dependencies: [
                "MCPBridge",
                "MCPConnect",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "SandboxBuilder",
            dependencies: [
                "MCPBridge",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        // `builder serve`: the management API, its front door, timers and SQLite state.
        .target(
            name: "SandboxService",
            dependencies: [
                "SandboxBuilder", "MCPBridge", "MCPConnect",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "builder",
            dependencies: [
                "SandboxBuilder", "SandboxService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // libFuzzer targets and their replay tool (scripts/fuzz builds mcp-fuzz with -sanitize=fuzzer).
        .target(
            name: "FuzzTargets",
            dependencies: [
                "MCPBridge", "SandboxBuilder",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "mcp-fuzz", dependencies: ["FuzzTargets"], swiftSettings: strictSettings),
        .testTarget(
            name: "SandboxBuilderTests",
            dependencies: ["SandboxBuilder"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SandboxServiceTests",
            dependencies: [
                "SandboxService", "SandboxBuilder",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FuzzTargetsTests",
            dependencies: ["FuzzTargets"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MCPBridgeTests",
            dependencies: ["MCPBridge"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MCPConnectTests",
            dependencies: ["MCPConnect", "MCPBridge"],
            swiftSettings: strictSettings
        ),
    ]
)
