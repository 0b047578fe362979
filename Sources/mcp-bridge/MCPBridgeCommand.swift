import ArgumentParser
import FoundationEssentials
import Logging
import MCPBridge
import CoreMetrics
import Prometheus

struct MCPBridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp-bridge",
        abstract: "Serve a stdio MCP server over Streamable HTTP (/mcp) and legacy HTTP+SSE (/sse, /message).",
        usage: """
            mcp-bridge [options] -- COMMAND [ARGS...]
              mcp-bridge [options] --stdio "COMMAND ARGS..."
              mcp-bridge connect URL [options]   (see mcp-bridge connect --help)
            """,
        discussion: """
            Each MCP session gets its own child process; 2026-07-28 clients (no sessions) are served by a pool of warm child processes. The bearer token comes from the MCP_BRIDGE_TOKEN environment variable or --token-file, never from a flag value, and is never passed to the child. Health: GET /healthz (alive), GET /readyz (503 when the command cannot be started), GET /metrics (Prometheus).

            Sizes take K, M or G suffixes (binary); durations take ms, s, m or h.
            """
    )

    @Option(help: "Address to listen on. A non-loopback address requires a token unless --allow-unauthenticated.")
    var host = "127.0.0.1"

    // Unconditional, so `--port -1` reaches the range check instead of reading as a flag.
    @Option(parsing: .unconditional, help: "TCP port to listen on (0 picks a free port and logs it).")
    var port = 8000

    @Option(help: ArgumentHelp("File holding the bearer token; one token per line accepts several (rotation).", valueName: "path"))
    var tokenFile: String?

    @Flag(help: "Allow serving without a token on a non-loopback address.")
    var allowUnauthenticated = false

    @Option(help: ArgumentHelp("Browser Origin allowed besides loopback origins (repeatable or comma-separated; * allows any).", valueName: "origin"))
    var allowedOrigins: [String] = []

    @Option(help: ArgumentHelp("Host header value allowed besides loopback names (repeatable or comma-separated; * allows any). Checked always on a loopback bind, otherwise only when given.", valueName: "host"))
    var allowedHosts: [String] = []

    @Flag(help: "Answer CORS preflights and add CORS headers for allowed origins.")
    var cors = false

    @Option(help: "Most concurrent sessions (each is one child process); more get 503.")
    var maxSessions = 100

    @Option(help: "MCP server processes started ahead of any client, so a new session skips the process start (each costs one idle process; not counted in --max-sessions).")
    var warmSpares = 0

    @Option(help: "Warm MCP server processes kept for 2026-07-28 clients (started by the first such request, or at start with --pool-eager).")
    var poolSize = 2

    @Option(help: "Most MCP server processes the 2026-07-28 pool grows to under load.")
    var poolMax = 8

    @Flag(help: "Start the 2026-07-28 pool with the bridge instead of with the first 2026-07-28 request.")
    var poolEager = false

    @Option(help: ArgumentHelp("How long a 2026-07-28 call the server asked client input for (sampling, elicitation, roots) waits for the client's retry.", valueName: "duration"))
    var inputTimeout = "5m"

    @Option(help: ArgumentHelp("How long a new pool process may take to answer the server/discover probe before it is treated as initialize-era.", valueName: "duration"))
    var probeTimeout = "10s"

    @Option(help: ArgumentHelp("End a session after this long with no request and no open stream.", valueName: "duration"))
    var sessionIdleTimeout = "30m"

    @Option(help: ArgumentHelp("End a session whose initialize has not completed this long after it began.", valueName: "duration"))
    var initializeTimeout = "60s"

    @Option(help: ArgumentHelp("At --max-sessions, let a new session evict the session idle longest if it has had no request and no open stream this long.", valueName: "duration"))
    var evictIdleAfter = "60s"

    @Option(help: ArgumentHelp("Answer a request the MCP server has not answered within this with a JSON-RPC error (and cancel it in the server).", valueName: "duration"))
    var requestTimeout = "10m"

    @Option(help: ArgumentHelp("Close a new connection that has not sent a complete request head within this.", valueName: "duration"))
    var headerTimeout = "10s"

    @Option(help: ArgumentHelp("Answer 408 and close when a request body has not fully arrived this long after its head.", valueName: "duration"))
    var bodyTimeout = "60s"

    @Option(help: ArgumentHelp("Close a keep-alive connection that carries no request for this long.", valueName: "duration"))
    var connectionIdleTimeout = "60s"

    @Option(help: "Most open client connections; one more is answered 503 and closed (each limit that bites is logged).")
    var maxConnections = 1024

    @Option(help: "Event loop threads for connections and the children's pipes. One keeps a request, its child's pipes and its answer on one thread (the least CPU per request); raise it only when the bridge itself is CPU-bound.")
    var eventLoops = EventLoopCount.default

    @Option(help: ArgumentHelp("Largest request body and largest message the child may write.", valueName: "size"))
    var maxMessageBytes = "16MiB"

    @Option(help: ArgumentHelp("Bytes buffered per client stream before the child's output waits for a slow reader.", valueName: "size"))
    var streamBufferBytes = "4MiB"

    @Option(help: ArgumentHelp("Reply with plain JSON when a request's only answer arrives within this window (0 = always stream SSE).", valueName: "duration"))
    var jsonReplyWindow = "10s"

    @Option(help: ArgumentHelp("Send an SSE keep-alive comment on idle streams this often.", valueName: "duration"))
    var keepaliveInterval = "15s"

    @Option(help: ArgumentHelp("Shutdown ladder step: wait this long after closing the child's stdin, and again after SIGTERM, before escalating.", valueName: "duration"))
    var shutdownGrace = "2s"

    @Option(help: ArgumentHelp("Serve every route under this path prefix (e.g. /github).", valueName: "path"))
    var basePath = ""

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format: text or json (always on stderr).")
    var logFormat: LogFormat = .text

    @Option(help: ArgumentHelp("Set an environment variable for the child (repeatable).", valueName: "NAME=VALUE"))
    var env: [String] = []

    @Option(help: ArgumentHelp("With --clean-env, pass this variable from the bridge's environment to the child (repeatable or comma-separated; MCP_BRIDGE_PASS_ENV adds more).", valueName: "NAME"))
    var passEnv: [String] = []

    @Flag(help: "Start the child from a minimal environment (PATH, HOME, LANG, LC_ALL, TZ, TMPDIR, USER) plus --pass-env names, instead of the bridge's own (also MCP_BRIDGE_CLEAN_ENV=1).")
    var cleanEnv = false

    @Option(help: ArgumentHelp("Become this user before serving (when started as root; also MCP_BRIDGE_USER). With --child-user the bridge keeps only CAP_SETUID, CAP_SETGID and CAP_KILL.", valueName: "UID[:GID]"))
    var user: String?

    @Option(help: ArgumentHelp("Run every MCP server child as this user, with no supplementary groups and no capabilities (also MCP_BRIDGE_CHILD_USER). The bridge refuses to start if it cannot.", valueName: "UID[:GID]"))
    var childUser: String?

    @Flag(help: "Print the version and exit.")
    var version = false

    @Option(help: ArgumentHelp("Working directory for the child.", valueName: "path"))
    var cwd: String?

    @Option(help: ArgumentHelp("The MCP server command as one string, split like a shell would (no shell runs).", valueName: "command"))
    var stdio: String?

    @Option(help: ArgumentHelp("Run and supervise this command beside the bridge (e.g. nginx); if it exits, the bridge exits with an error. Repeatable; split like --stdio.", valueName: "command"))
    var sidecar: [String] = []

    @Option(help: ArgumentHelp("Relay raw bytes from LISTEN to TARGET, each unix:/PATH or HOST:PORT (repeatable; MCP_BRIDGE_RELAY adds one). With no MCP server command the bridge only relays: the ingress of a sandbox without a network.", valueName: "LISTEN,TARGET"))
    var relay: [String] = []

    @Flag(help: "Probe GET /readyz (or --healthcheck-path) on 127.0.0.1:--port and exit 0 if it answers 200, 1 otherwise (for container HEALTHCHECKs: unhealthy when the MCP server cannot start).")
    var healthcheck = false

    @Option(help: ArgumentHelp("The path --healthcheck probes: /readyz, or /healthz for liveness alone (a Kubernetes livenessProbe).", valueName: "path"))
    var healthcheckPath: HealthPath = .readyz

    enum HealthPath: String, ExpressibleByArgument, CaseIterable {
        case readyz = "/readyz", healthz = "/healthz"
    }

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The MCP server command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    /// As a container's PID 1 the process first becomes a signal-forwarding, zombie-reaping
    /// supervisor and runs the bridge as its child; otherwise this is the usual entry point.
    /// Parsing and the identity switch run on the main thread, before anything starts a thread;
    /// the bridge itself then runs as a task while the main thread waits (`MainThread`).
    static func launch() -> Never {
        // `connect` is the reverse mode: no server, no privileges to drop, its own flags.
        if CommandLine.arguments.dropFirst().first == "connect" {
            let arguments = Array(CommandLine.arguments.dropFirst(2))
            MainThread.run { await ConnectCommand.main(arguments) }
        }
        let command: MCPBridgeCommand
        let environment: [String: String]
        do {
            // The environment and the secrets file, read while still root.
            environment = try LaunchEnvironment.snapshot.get()
            let parsed = try parseAsRoot()
            guard let bridge = parsed as? MCPBridgeCommand else {
                var other = parsed
                try other.run()
                exit()
            }
            command = bridge
            let identities = try command.identities(environment: environment)
            // A relay-only bridge (the ingress container) starts no MCP server.
            let mode: ProcessStartup.Mode = command.healthcheck || command.version ? .probe
                : .serve(child: command.isRelayOnly(environment: environment) ? nil : identities.child)
            try ProcessStartup.prepare(front: identities.front, mode: mode, environment: environment)
        } catch {
            fail(error)
        }
        MainThread.run {
            do {
                try await command.run(environment: environment)
            } catch {
                fail(error)
            }
        }
    }

    /// Exits with the status and message `error` calls for.
    private static func fail(_ error: any Error) -> Never {
        switch error {
        case let failure as Privileges.Failure:
            StandardError.write("mcp-bridge: \(failure)\n")
            exit(withError: ExitCode(2))
        case let failure as LaunchEnvironment.Failure:
            StandardError.write("mcp-bridge: \(failure)\n")
            exit(withError: ExitCode(2))
        case let failure as BridgeServer.ListenFailure:
            StandardError.write("mcp-bridge: \(failure)\n")
            exit(withError: ExitCode(1))
        default:
            exit(withError: error)
        }
    }

    /// `--user` / MCP_BRIDGE_USER and `--child-user` / MCP_BRIDGE_CHILD_USER; flags win.
    func identities(environment: [String: String]) throws -> (front: ProcessIdentity?, child: ProcessIdentity?) {
        func parse(_ flag: String?, _ variable: String, _ name: String) throws -> ProcessIdentity? {
            guard let text = flag ?? environment[variable].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
            do {
                return try ProcessIdentity(parsing: text)
            } catch {
                throw ValidationError("\(flag == nil ? variable : name): \(error)")
            }
        }
        return (try parse(user, "MCP_BRIDGE_USER", "--user"), try parse(childUser, "MCP_BRIDGE_CHILD_USER", "--child-user"))
    }

    enum LogFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    func validate() throws {
        if healthcheck || version { return }
        guard EventLoopCount.range.contains(eventLoops) else {
            throw ValidationError("--event-loops must be between \(EventLoopCount.range.lowerBound) and \(EventLoopCount.range.upperBound).")
        }
        let environment = (try? LaunchEnvironment.snapshot.get()) ?? ProcessInfo.processInfo.environment
        _ = try identities(environment: environment)
        if isRelayOnly(environment: environment) {
            _ = try relayRoutes(environment: environment)
        } else {
            _ = try makeConfiguration(environment: environment)
        }
    }

    /// No MCP server command but relays: run the relays alone.
    func isRelayOnly(environment: [String: String]) -> Bool {
        command.isEmpty && stdio == nil && (!relay.isEmpty || environment["MCP_BRIDGE_RELAY"].map { !$0.isEmpty } == true)
    }

    private func relayRoutes(environment: [String: String]) throws -> [RelayRoute] {
        let fromEnvironment = environment["MCP_BRIDGE_RELAY"].map { $0.isEmpty ? [] : [$0] } ?? []
        return try (relay + fromEnvironment).map { text in
            do {
                return try RelayRoute(parsing: text)
            } catch {
                throw ValidationError("--relay: \(error)")
            }
        }
    }

    func run() async throws {
        try await run(environment: try LaunchEnvironment.snapshot.get())
    }

    func run(environment: [String: String]) async throws {
        if version {
            print("mcp-bridge \(BridgeVersion.current)")
            return
        }
        if healthcheck {
            throw HealthProbe.isHealthy(port: port, path: healthcheckPath.rawValue) ? ExitCode.success : ExitCode.failure
        }
        EventLoopCount.use(eventLoops)
        let level = logLevel
        switch logFormat {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        }
        if isRelayOnly(environment: environment) {
            try await BridgeServer.runRelays(try relayRoutes(environment: environment), logger: Logger(label: "mcp-bridge"))
            return
        }
        let configuration = try makeConfiguration(environment: environment)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "mcp-bridge")
        if configuration.tokens.isEmpty {
            logger.warning("no bearer token configured: every local process can use this bridge")
        }
        try await BridgeServer(configuration: configuration, logger: logger, registry: registry).run()
    }

    /// Maps the parsed flags into the one configuration value, checking what crosses fields.
    func makeConfiguration(environment: [String: String]) throws -> BridgeConfiguration {
        let argv: [String]
        switch (stdio, command.isEmpty) {
        case (nil, true):
            throw ValidationError("Give the MCP server command after -- (mcp-bridge [options] -- COMMAND [ARGS...]) or with --stdio.")
        case (.some, false):
            throw ValidationError("Give the MCP server command either after -- or with --stdio, not both.")
        case (.some(let line), true):
            do {
                argv = try ShellWords.split(line)
            } catch {
                throw ValidationError("--stdio: \(error)")
            }
            guard !argv.isEmpty else { throw ValidationError("--stdio: the command is empty.") }
        case (nil, false):
            argv = command
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535.") }
        guard maxSessions > 0 else { throw ValidationError("--max-sessions must be at least 1.") }
        guard (0...16).contains(warmSpares) else { throw ValidationError("--warm-spares must be between 0 and 16.") }
        guard poolSize >= 1 else { throw ValidationError("--pool-size must be at least 1.") }
        guard poolMax >= poolSize else { throw ValidationError("--pool-max must be at least --pool-size (\(poolSize)).") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be at least 1.") }
        guard basePath.isEmpty || (basePath.hasPrefix("/") && !basePath.hasSuffix("/")) else {
            throw ValidationError("--base-path must start with / and not end with / (e.g. /github).")
        }

        var configuration = BridgeConfiguration(
            command: ChildCommand(executable: argv[0], arguments: Array(argv.dropFirst()), environment: try childEnvironment(from: environment),
                                  workingDirectory: cwd, user: try identities(environment: environment).child)
        )
        configuration.host = host
        configuration.port = port
        configuration.tokens = try tokens(from: environment)
        configuration.allowedOrigins = allowedOrigins.flatMap { $0.split(separator: ",").map { String($0).trimmingSpaces } }
        configuration.allowedHosts = allowedHosts.flatMap { $0.split(separator: ",").map { String($0).trimmingSpaces } }
        configuration.cors = cors
        configuration.sidecars = try sidecar.map { line in
            do {
                let argv = try ShellWords.split(line)
                guard !argv.isEmpty else { throw ValidationError("--sidecar: the command is empty.") }
                return argv
            } catch let error as ShellWords.SplitError {
                throw ValidationError("--sidecar: \(error)")
            }
        }
        configuration.relays = try relayRoutes(environment: environment)
        // Sidecars (nginx, a tunnel agent) get the launch environment without any secret and
        // without the server's own variables; their secrets arrive on standard input.
        let serverNames = usesCleanEnvironment(environment) ? Set(configuration.sessions.command.environment.keys).subtracting(ChildEnvironment.minimalBase) : []
        configuration.sidecarEnvironment = environment.filter { !LaunchEnvironment.isSecret($0.key) && !serverNames.contains($0.key) }
        configuration.sidecarSecrets = environment.filter { LaunchEnvironment.isSecret($0.key) }
        for (name, value) in configuration.sidecarSecrets where value.contains(where: \.isNewline) {
            throw ValidationError("\(name) holds a line break; secrets for sidecars are one line each.")
        }
        configuration.basePath = basePath
        configuration.maximumMessageBytes = try size(maxMessageBytes, flag: "--max-message-bytes")
        configuration.jsonReplyWindow = try duration(jsonReplyWindow, flag: "--json-reply-window", minimum: .zero)
        configuration.keepAliveInterval = try duration(keepaliveInterval, flag: "--keepalive-interval", minimum: .milliseconds(100))
        configuration.connections.headerTimeout = try duration(headerTimeout, flag: "--header-timeout", minimum: .milliseconds(100))
        configuration.connections.bodyTimeout = try duration(bodyTimeout, flag: "--body-timeout", minimum: .milliseconds(100))
        configuration.connections.idleTimeout = try duration(connectionIdleTimeout, flag: "--connection-idle-timeout", minimum: .milliseconds(100))
        configuration.connections.maximumConnections = maxConnections
        configuration.sessions.maximumSessions = maxSessions
        configuration.sessions.idleTimeout = try duration(sessionIdleTimeout, flag: "--session-idle-timeout", minimum: .seconds(1))
        configuration.sessions.initializeTimeout = try duration(initializeTimeout, flag: "--initialize-timeout", minimum: .seconds(1))
        configuration.sessions.evictIdleAfter = try duration(evictIdleAfter, flag: "--evict-idle-after", minimum: .seconds(1))
        configuration.sessions.requestTimeout = try duration(requestTimeout, flag: "--request-timeout", minimum: .seconds(1))
        configuration.sessions.session.streamBufferBytes = try size(streamBufferBytes, flag: "--stream-buffer-bytes")
        configuration.sessions.warmSpares = warmSpares
        configuration.pool.size = poolSize
        configuration.pool.maximum = poolMax
        configuration.pool.eager = poolEager
        configuration.pool.inputTimeout = try duration(inputTimeout, flag: "--input-timeout", minimum: .seconds(1))
        configuration.pool.probeTimeout = try duration(probeTimeout, flag: "--probe-timeout", minimum: .milliseconds(100))
        configuration.pool.initializeTimeout = configuration.sessions.initializeTimeout
        configuration.pool.requestTimeout = configuration.sessions.requestTimeout
        configuration.sessions.session.childLimits = ChildLimits(
            maximumMessageBytes: configuration.maximumMessageBytes,
            shutdownGrace: try duration(shutdownGrace, flag: "--shutdown-grace", minimum: .zero)
        )

        if configuration.tokens.isEmpty, !BridgeConfiguration.isLoopback(host), !allowUnauthenticated {
            throw ValidationError(
                "Refusing to listen on \(host) without a bearer token. Set MCP_BRIDGE_TOKEN or --token-file, or pass --allow-unauthenticated if something in front of the bridge authenticates."
            )
        }
        return configuration
    }

    private func tokens(from environment: [String: String]) throws -> [String] {
        var tokens: [String] = []
        if let token = environment["MCP_BRIDGE_TOKEN"], !token.isEmpty { tokens.append(token) }
        // Extra accepted tokens, for rotation without downtime: separated by commas or spaces.
        tokens += (environment["MCP_BRIDGE_TOKENS"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).map(String.init)
        if let tokenFile {
            guard let fromFile = TokenFile.tokens(atPath: tokenFile) else {
                throw ValidationError("--token-file: cannot read \(tokenFile).")
            }
            guard !fromFile.isEmpty else { throw ValidationError("--token-file: \(tokenFile) holds no token.") }
            tokens += fromFile
        }
        return tokens
    }

    /// `--clean-env` or `MCP_BRIDGE_CLEAN_ENV=1`.
    private func usesCleanEnvironment(_ environment: [String: String]) -> Bool {
        cleanEnv || environment["MCP_BRIDGE_CLEAN_ENV"] == "1"
    }

    /// The child's environment: the bridge's own (or, with --clean-env, a minimal base plus the
    /// names passed on), never a variable of the front (see `ChildEnvironment`), so the token and
    /// tunnel credentials cannot leak into the MCP server.
    private func childEnvironment(from environment: [String: String]) throws -> [String: String] {
        let clean = usesCleanEnvironment(environment)
        let passed = (passEnv + [environment["MCP_BRIDGE_PASS_ENV"] ?? ""])
            .flatMap { $0.split(separator: ",").map { String($0).trimmingSpaces } }
            .filter { !$0.isEmpty }
        if !clean, !passEnv.isEmpty {
            throw ValidationError("--pass-env only makes sense with --clean-env (the child inherits everything otherwise).")
        }
        var assignments: [(String, String)] = []
        for assignment in env {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw ValidationError("--env expects NAME=VALUE, got \(assignment).")
            }
            assignments.append((String(assignment[..<equals]), String(assignment[assignment.index(after: equals)...])))
        }
        do {
            return try ChildEnvironment.build(from: environment, clean: clean, passing: passed, setting: assignments)
        } catch let error as ChildEnvironment.Refusal {
            throw ValidationError("\(error)")
        }
    }

    private func size(_ text: String, flag: String) throws -> Int {
        guard let value = Quantities.bytes(text), value >= 1024 else {
            throw ValidationError("\(flag) expects a size of at least 1KiB such as 4MiB, got \(text).")
        }
        return value
    }

    private func duration(_ text: String, flag: String, minimum: Duration) throws -> Duration {
        guard let value = Quantities.duration(text), value >= minimum else {
            throw ValidationError("\(flag) expects a duration such as 30s or 5m (at least \(minimum)), got \(text).")
        }
        return value
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
