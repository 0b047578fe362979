// swift-tools-version:6.1
// What SwiftNIO alone costs on the bridge's request path, for bench/NOTES.md: a one-loop NIO
// HTTP/1 server that answers like the nginx floor (`fixed`), or relays each POST body to a child
// over a pipe and answers with the child's line (`pipe`: a bridge without sessions, guards,
// tasks or checks; `task`: the same with a Swift task per request, as the bridge has). A
// measuring tool, not part of the product: bench/floor builds and runs it.
import PackageDescription

let package = Package(
    name: "nio-floor",
    dependencies: [.package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3")],
    targets: [
        .executableTarget(name: "nio-floor", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
