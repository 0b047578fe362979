import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import MCPBridge
import NIOSSL
import OpenAPIHummingbird
import ServiceLifecycle

/// `builder serve`: the management API, the front door and the timers on one port, with its
/// state in SQLite. Runs until SIGTERM or SIGINT, then stops taking requests and lets
/// operations under way finish.
public enum ManagementService {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func run(_ configuration: ServiceConfiguration) async throws {
        try configuration.validate()
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let logger = Logger(label: "mcp-sandbox.serve")

        let files = FileManager.default
        do {
            try files.createDirectory(at: configuration.stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // Ours alone even if it existed: it holds the key digest and every deployment's record.
            try files.setAttributes([.posixPermissions: 0o700], ofItemAtPath: configuration.stateDirectory.path)
        } catch {
            throw Failure(description: "--state-dir: cannot create \(configuration.stateDirectory.path): \(error)")
        }
        let keys: APIKeyring
        do {
            keys = try APIKeyring.load(environment: configuration.environment, keyFile: configuration.apiKeyFile,
                                       stateDirectory: configuration.stateDirectory)
        } catch {
            throw Failure(description: "\(error)")
        }
        let store = try await StateStore.open(directory: configuration.stateDirectory, logger: logger)
        let serviceID: String
        if let stored = try await store.meta("service_id") {
            serviceID = stored
        } else {
            serviceID = SecureRandom.hex(byteCount: 6)
            try await store.setMeta("service_id", serviceID)
        }
        let metrics = ServiceMetrics()
        let manager = DeploymentManager(configuration: configuration, store: store, serviceID: serviceID, metrics: metrics, logger: logger)
        do {
            try await manager.reconcile()
        } catch {
            throw Failure(description: "cannot reconcile with the Docker engine (is it running? `builder doctor` checks): \(error)")
        }

        let limiter = FailedAuthLimiter(limit: configuration.failedAuthLimit)
        let addresses = ClientAddress(trustedProxies: Set(configuration.trustedProxies))
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: ProblemMiddleware(logger: logger))
        router.add(middleware: APIKeyMiddleware(keys: keys, limiter: limiter, addresses: addresses, metrics: metrics))
        let address = PublicAddress(configuration.baseURL)
        let handler = APIHandler(manager: manager, metrics: metrics, address: address, serviceID: serviceID)
        try handler.registerHandlers(on: router)
        FrontDoor(manager: manager, limiter: limiter, addresses: addresses, metrics: metrics,
                  maxRequestBytes: configuration.maxRequestBytes, logger: logger).register(on: router)

        let server: HTTPServerBuilder
        if let certificate = configuration.tlsCertificateFile, let key = configuration.tlsKeyFile {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
                let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
                server = try .tls(.http1(), tlsConfiguration: tls)
            } catch {
                throw Failure(description: "--tls-cert/--tls-key: cannot load \(certificate) and \(key): \(error)")
            }
        } else {
            server = .http1()
        }
        let generatedKey = keys.generatedKey
        let stateDirectory = configuration.stateDirectory.path
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "mcp-sandbox"),
            services: [TimerService(manager: manager, interval: configuration.timerInterval)],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                var bound = configuration
                bound.port = port
                address.set(bound.baseURL)
                logger.info("serving", metadata: ["address": "\(configuration.host)", "port": "\(port)", "state": "\(stateDirectory)"])
                // stdout, once: the key is never written anywhere else in clear.
                var lines = ""
                if let generatedKey {
                    lines += "API key (shown only now; its SHA-256 is in \(stateDirectory)/api-key.sha256): \(generatedKey)\n"
                }
                lines += "Listening on \(configuration.usesTLS ? "https" : "http")://\(configuration.host):\(port)\n"
                FileHandle.standardOutput.write(Data(lines.utf8))
            },
            logger: logger)
        try await app.runService()
        logger.info("stopping: no new requests; waiting for operations under way")
        await manager.drain()
        await store.close()
        logger.info("stopped")
    }
}

/// Runs due timers every `interval`, and every ten seconds removes docker objects that have no
/// deployment (left by a docker command that outlived a killed service).
struct TimerService: Service {
    let manager: DeploymentManager
    let interval: Duration

    func run() async throws {
        var ticks = 0
        let sweepEvery = max(1, Int(Duration.seconds(10) / interval))
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await manager.tick()
            ticks += 1
            if ticks % sweepEvery == 0 { try? await manager.collectGarbage() }
        }
    }
}
