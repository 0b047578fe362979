import ArgumentParser
import FoundationEssentials
import Logging
import MCPBridge
import MCPConnect

/// `mcp-bridge connect URL`: a remote MCP server as a local stdio server, for clients that only
/// launch stdio servers.
struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp-bridge connect",
        abstract: "Present a remote MCP server (Streamable HTTP or legacy HTTP+SSE) as a local stdio server.",
        discussion: """
            Reads MCP messages on stdin and writes the server's on stdout; logs go to stderr. The bearer token comes from MCP_BRIDGE_TOKEN or --token-file, never from a flag value. MCP_BRIDGE_URL, MCP_BRIDGE_FINGERPRINT and MCP_BRIDGE_CA_FILE stand in for the URL, --fingerprint and --ca-file (flags win), so a client's configuration can pass them in its env block.
            """
    )

    @Argument(help: ArgumentHelp("The server's endpoint, e.g. https://127.0.0.1:8443/mcp (or MCP_BRIDGE_URL).", valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("File holding the bearer token (first non-comment line).", valueName: "path"))
    var tokenFile: String?

    @Option(name: .customLong("header"), help: ArgumentHelp("Extra request header \"Name: value\" (repeatable); ${NAME} in the value is read from the environment.", valueName: "header"))
    var headers: [String] = []

    @Option(help: ArgumentHelp("Trust only certificates issued by the CA certificates in this PEM file (host name still checked).", valueName: "path"))
    var caFile: String?

    @Option(help: ArgumentHelp("Accept exactly the certificate with this SHA-256 fingerprint (as `builder start` prints it).", valueName: "sha256"))
    var fingerprint: String?

    @Flag(help: "Do not verify the server's certificate at all (warned about on every start).")
    var insecure = false

    @Option(help: "Transport: auto (Streamable HTTP, then legacy HTTP+SSE on 400/404/405), streamable or sse.")
    var transport: ConnectConfiguration.Transport = .auto

    @Option(help: ArgumentHelp("Give up connecting after this long.", valueName: "duration"))
    var connectTimeout = "10s"

    @Option(help: ArgumentHelp("Largest message accepted from either side.", valueName: "size"))
    var maxMessageBytes = "16MiB"

    @Option(help: "Most requests waiting for an answer at once; more are answered with an error.")
    var maxInFlight = 256

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .notice

    func run() async throws {
        var settings = ConnectSettings()
        settings.url = url
        settings.tokenFile = tokenFile
        settings.headers = headers
        settings.caFile = caFile
        settings.fingerprint = fingerprint
        settings.insecure = insecure
        settings.transport = transport
        settings.connectTimeout = connectTimeout
        settings.maxMessageBytes = maxMessageBytes
        settings.maxInFlight = maxInFlight
        let configuration: ConnectConfiguration
        do {
            configuration = try settings.configuration(environment: ProcessInfo.processInfo.environment)
        } catch let invalid as ConnectSettings.Invalid {
            throw ValidationError(invalid.description)
        }
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        try await ConnectRelay(configuration: configuration, logger: Logger(label: "mcp-bridge-connect")).run()
    }
}

extension ConnectConfiguration.Transport: ExpressibleByArgument {}
