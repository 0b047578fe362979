import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Forwards raw bytes from every connection accepted on `route.listen` to a fresh connection to
/// `route.target`, in both directions, until both sides have finished.
///
/// This is how a sandbox without a network stays reachable: inside the container the bridge
/// relays a Unix socket on a shared volume to its own loopback port, and a tiny ingress
/// container relays its published TCP port to that socket. Bytes pass untouched (TLS included),
/// half-closes are forwarded, and each direction waits for the slower side (NIO backpressure).
public struct RelayService: Service {
    let route: RelayRoute
    let logger: Logger

    public init(route: RelayRoute, logger: Logger) {
        self.route = route
        var logger = logger
        logger[metadataKey: "relay"] = "\(route)"
        self.logger = logger
    }

    typealias ByteChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    public func run() async throws {
        let server = try await listen()
        logger.notice("relay listening")
        // Stop accepting on shutdown; open connections end with the task group.
        do {
            try await cancelWhenGracefulShutdown {
                try await server.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await connection in connections {
                            group.addTask { await relay(connection) }
                        }
                    }
                }
            }
        } catch is CancellationError where Task.isShuttingDownGracefully || Task.isCancelled {
            // An orderly stop, not a failure.
        }
    }

    /// Every relayed socket: half-closes are passed on rather than closing the whole connection.
    private static func wrap(_ channel: any Channel) -> EventLoopFuture<ByteChannel> {
        channel.eventLoop.makeCompletedFuture {
            try ByteChannel(wrappingChannelSynchronously: channel, configuration: ByteChannel.Configuration(isOutboundHalfClosureEnabled: true))
        }
    }

    private func listen() async throws -> NIOAsyncChannel<ByteChannel, Never> {
        var bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        switch route.listen {
        case .unix(let path):
            // A stale socket from an earlier run (e.g. after a container restart) is replaced.
            return try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: Self.wrap)
        case .tcp(let host, let port):
            bootstrap = bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            return try await bootstrap.bind(host: host, port: port, childChannelInitializer: Self.wrap)
        }
    }

    private func connectToTarget() async throws -> ByteChannel {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connectTimeout(.seconds(10))
        switch route.target {
        case .unix(let path):
            return try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: Self.wrap)
        case .tcp(let host, let port):
            bootstrap = bootstrap.channelOption(.tcpOption(.tcp_nodelay), value: 1)
            return try await bootstrap.connect(host: host, port: port, channelInitializer: Self.wrap)
        }
    }

    private func relay(_ accepted: ByteChannel) async {
        do {
            try await accepted.executeThenClose { clientInbound, clientOutbound in
                let target = try await connectToTarget()
                try await target.executeThenClose { targetInbound, targetOutbound in
                    try await withThrowingTaskGroup(of: Void.self) { pumps in
                        pumps.addTask { try await Self.pump(clientInbound, into: targetOutbound, of: target.channel) }
                        pumps.addTask { try await Self.pump(targetInbound, into: clientOutbound, of: accepted.channel) }
                        try await pumps.waitForAll()
                    }
                }
            }
        } catch {
            // A reset or an unreachable target ends this connection only; the client sees it closed.
            logger.debug("relay connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Copies one direction; at end of input it half-closes the other side, as the sender did.
    private static func pump(_ input: NIOAsyncChannelInboundStream<ByteBuffer>, into output: NIOAsyncChannelOutboundWriter<ByteBuffer>,
                             of channel: any Channel) async throws {
        for try await chunk in input {
            try await output.write(chunk)
        }
        // Closing a channel whose input already ended closes it fully and drops unsent bytes, so
        // first wait until everything written so far has reached the socket (an empty write
        // completes after the writes queued before it).
        try await channel.writeAndFlush(ByteBuffer()).get()
        output.finish()
    }
}
