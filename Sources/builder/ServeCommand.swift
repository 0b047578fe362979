import ArgumentParser
import Foundation
import SandboxBuilder
import SandboxService

extension BuilderCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the management service: a REST API for many deployments, one front door, timers.",
            discussion: """
                API key: MCP_SANDBOX_API_KEY, or --api-key-file, or generated on the first start and shown once \
                (only its SHA-256 is kept in the state directory). The contract is openapi/openapi.yaml, served at /openapi.json.
                """)

        @Option(help: "Address to listen on (a non-loopback address needs --tls-cert/--tls-key or --allow-plain-http).")
        var host = "127.0.0.1"

        @Option(help: "Port to listen on (0 picks a free one and prints it).")
        var port = 7300

        @Option(help: ArgumentHelp("Where the state database and the generated key's digest live.", valueName: "path"))
        var stateDir = ".mcp-sandbox-service"

        @Option(help: ArgumentHelp("TLS certificate chain (PEM) for the service's port.", valueName: "path"))
        var tlsCert: String?

        @Option(help: ArgumentHelp("TLS private key (PEM).", valueName: "path"))
        var tlsKey: String?

        @Flag(help: "Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).")
        var allowPlainHttp = false

        @Option(help: ArgumentHelp("A file of accepted API keys, one per line.", valueName: "path"))
        var apiKeyFile: String?

        @Option(help: ArgumentHelp("A proxy address whose X-Forwarded-For is trusted (repeatable).", valueName: "address"))
        var trustedProxy: [String] = []

        @Option(help: "At most this many deployments.")
        var maxDeployments = 50

        @Option(help: "Image builds and starts run at most this many at once.")
        var concurrentOperations = 3

        @Option(help: "Failed key or token checks allowed per client address per minute before 429.")
        var failedAuthLimit = 10

        @Option(help: ArgumentHelp("The URL clients reach this service at (for the endpoints in responses).", valueName: "url"))
        var publicUrl: String?

        @Option(help: ArgumentHelp("How long a create or wake may wait for the bridge to become healthy.", valueName: "seconds"))
        var startTimeout = 120

        @Option(help: "Base images: 'missing' pulls an image the host lacks; 'never' refuses a deployment whose image is not already here.")
        var pull: PullPolicy = .missing

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel = "info"

        @OptionGroup var image: ImageOptions

        func run() async throws {
            var configuration = ServiceConfiguration(stateDirectory: URL(fileURLWithPath: stateDir))
            configuration.host = host
            configuration.port = port
            configuration.tlsCertificateFile = tlsCert
            configuration.tlsKeyFile = tlsKey
            configuration.allowPlainHTTP = allowPlainHttp
            configuration.apiKeyFile = apiKeyFile
            configuration.trustedProxies = trustedProxy
            configuration.maxDeployments = maxDeployments
            configuration.concurrentOperations = concurrentOperations
            configuration.failedAuthLimit = failedAuthLimit
            configuration.publicURL = publicUrl
            configuration.startTimeout = .seconds(startTimeout)
            configuration.logLevel = logLevel
            configuration.pullMissingImages = pull == .missing
            configuration.bridgeBinary = image.bridgeBinary.map { URL(fileURLWithPath: $0) }
            configuration.wheelhouse = image.wheelhouse.map { URL(fileURLWithPath: $0) }
            configuration.sourceRoot = image.sourceRoot.map { URL(fileURLWithPath: $0) } ?? Workspace.locateSourceRoot()
            do {
                try await ManagementService.run(configuration)
            } catch let error as ServiceConfiguration.Invalid {
                throw ValidationError(error.description)
            }
        }
    }

    enum PullPolicy: String, ExpressibleByArgument, CaseIterable {
        case missing, never
    }
}
