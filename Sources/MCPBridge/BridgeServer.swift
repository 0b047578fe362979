#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Wires the session manager and the HTTP server into one service group that owns
/// SIGTERM/SIGINT: on a signal, sessions end first (children walk the shutdown ladder and
/// streams close), then the HTTP server stops.
public struct BridgeServer: Sendable {
    public let configuration: BridgeConfiguration
    public let logger: Logger
    public let registry: PrometheusCollectorRegistry?

    /// Logged once at start when the MCP server command cannot run at all (its executable is
    /// missing or not executable): `/readyz` answers 503 for good, and `builder start` reads this
    /// line to fail at once instead of waiting out the image health check's start period.
    public static let commandCannotStartMessage = "the MCP server command cannot be started; /readyz will answer 503"

    public init(configuration: BridgeConfiguration, logger: Logger, registry: PrometheusCollectorRegistry? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.registry = registry
    }

    public func run() async throws {
        // A child that dies while we write to its stdin must not take the bridge with it.
        signal(SIGPIPE, SIG_IGN)
        let metrics = BridgeMetrics()
        let manager = SessionManager(configuration: configuration.sessions, metrics: metrics, logger: logger)
        let pool = ChildPool(command: configuration.sessions.command, configuration: configuration.pool,
                             session: configuration.sessions.session, logger: logger)
        let responder = BridgeResponder(configuration: configuration, manager: manager, pool: pool, metrics: metrics, registry: registry)
        let logger = self.logger
        let report = LimitReport(logger: logger)
        let limits = DescriptorBudget.fit(
            configuration.connections,
            // Every child holds pipes: sessions, warm spares and the 2026-07-28 pool alike.
            sessions: configuration.sessions.maximumSessions + configuration.sessions.warmSpares + configuration.pool.maximum, logger: logger)
        let cap = ConnectionCap(maximum: limits.maximumConnections, report: report)
        let channel = BridgeHTTPChannel(limits: limits, report: report, cap: cap, bodyLimit: configuration.maximumMessageBytes,
                                        respond: { await responder.respond(to: $0, context: $1) })
        let server = Server(
            childChannelSetup: channel,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                let address = channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                logger.notice("mcp-bridge listening", metadata: ["address": "\(address)"])
            },
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        )
        if let reason = manager.unreadyReason {
            logger.warning("\(Self.commandCannotStartMessage)", metadata: ["reason": "\(reason)"])
        }
        let group = ServiceGroup(
            configuration: .init(
                // Shut down in reverse: sessions first (streams close), then HTTP, then sidecars.
                services: configuration.sidecars.map {
                    // A sidecar's exit ends the bridge, but gracefully: children still walk the ladder.
                    .init(service: SidecarService(argv: $0, environment: configuration.sidecarEnvironment,
                                                 secrets: configuration.sidecarSecrets, logger: logger),
                          successTerminationBehavior: .gracefullyShutdownGroup,
                          failureTerminationBehavior: .gracefullyShutdownGroup)
                } + configuration.relays.map {
                    .init(service: RelayService(route: $0, logger: logger), failureTerminationBehavior: .gracefullyShutdownGroup)
                } + [.init(service: server), .init(service: manager), .init(service: pool)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE || error.errnoCode == EACCES || error.errnoCode == EADDRNOTAVAIL {
            throw ListenFailure(host: configuration.host, port: configuration.port, errnoCode: error.errnoCode)
        }
    }

    /// The listening socket could not be opened: which address, why, and what to do.
    public struct ListenFailure: Error, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var errnoCode: Int32

        public var description: String {
            let reason = String(cString: strerror(errnoCode))
            let advice: String
            switch errnoCode {
            case EADDRINUSE: advice = "another process holds this port: stop it, or choose another with --port"
            case EACCES: advice = "ports below 1024 need privileges: choose --port 1024 or higher"
            default: advice = "this machine has no such address: check --host"
            }
            return "cannot listen on \(host):\(port): \(reason); \(advice)"
        }
    }

    /// Relays only, no MCP server: the ingress container of a sandbox without a network.
    public static func runRelays(_ routes: [RelayRoute], logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: routes.map { .init(service: RelayService(route: $0, logger: logger), failureTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
