import Foundation
import MCPBridge

/// One deployment, read from a `.env` and validated once: everything the renderers and the
/// docker argv builders need. Secrets stay in `secrets` and only ever travel by name.
public struct DeploymentSpec: Sendable, Equatable {
    public enum Runtime: String, Sendable, CaseIterable { case node, python, custom }
    public enum Base: String, Sendable, CaseIterable { case alpine, slim }
    public enum Exposure: String, Sendable, CaseIterable { case nginx, ngrok, pinggy, local }
    public enum Network: String, Sendable, CaseIterable { case isolated, none, `internal` }
    public enum ContainerRuntime: String, Sendable, CaseIterable { case auto, runsc, runc }

    public var name: String
    public var runtime: Runtime
    /// npm spec or PyPI requirement (pinned), or OS packages for `custom`.
    public var package: String?
    /// argv of the MCP server inside the image.
    public var command: [String]
    public var base: Base
    public var baseImage: String
    public var exposure: Exposure
    public var hostPort: Int
    public var publishAddress: String
    public var memory: String
    public var cpus: String
    public var pids: Int
    public var network: Network
    public var containerRuntime: ContainerRuntime
    /// Variables for the MCP server (from `SERVER_ENV_<NAME>`), passed at run time only.
    public var serverEnvironment: [String: String]
    /// Non-secret build arguments (from `BUILD_ARG_<NAME>`): visible in `docker history`.
    public var buildArguments: [String: String]
    /// Build-time secrets (from `BUILD_SECRET_<NAME>`): handed to the install step through a
    /// BuildKit secret mount, in no layer, no history and no command line.
    public var buildSecrets: [String: String]
    public var authToken: String
    /// Further accepted tokens during a rotation (`MCP_AUTH_TOKENS_PREVIOUS`, comma-separated).
    public var previousTokens: [String]
    /// A certificate and key on the host to use instead of the generated self-signed pair (nginx).
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// Tunnel settings: secrets travel by name like the others.
    public var tunnelSecrets: [String: String]
    public var tunnelSettings: [String: String]
    /// Labels added to every docker object of the deployment besides the standard two (the
    /// management service marks its own objects this way); never read from a `.env`.
    public var extraLabels: [String] = []

    /// The front's identity: the bridge, nginx and tunnel agents, which hold the secrets. The
    /// ingress container runs as this user too.
    public static let frontIdentity = ProcessIdentity(uid: 10001, gid: 10001)
    /// The MCP server's identity: every child of the bridge, with no capability and no group of
    /// the front's.
    public static let serverIdentity = ProcessIdentity(uid: 10002, gid: 10002)
    /// The identities as docker's `--user` and the bridge's `--user`/`--child-user` take them.
    public static var containerUser: String { frontIdentity.description }
    public static var serverUser: String { serverIdentity.description }
    /// The server container starts as root only so the bridge can start children as
    /// `serverUser`: PID 1 drops to `containerUser` at once, and the bridge keeps just these.
    public static let bridgeCapabilities = ["SETUID", "SETGID", "KILL"]
    /// tmpfs for the front's files (nginx state, token map, tunnel configs): front-only.
    public static let frontRunDirectory = "/run/mcp-sandbox"
    public static let bridgePort = 8000
    public static let nginxPort = 8443

    /// `memory` in bytes (docker's units: b, k, m, g are binary).
    public var memoryBytes: Int64 {
        let lowered = memory.lowercased()
        let unit = lowered.last.flatMap { "bkmg".contains($0) ? $0 : nil }
        let number = Int64(unit == nil ? lowered : String(lowered.dropLast())) ?? 0
        let shift: Int64 = switch unit { case "k": 10; case "m": 20; case "g": 30; default: 0 }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? .max : bytes
    }

    public var imageTag: String { "mcp-sandbox/\(name):latest" }
    public var containerName: String { "mcp-\(name)" }
    public var networkName: String { "mcp-\(name)-net" }
    public var volumeName: String { "mcp-\(name)-tls" }
    /// Holds the secrets file the bridge reads as root at start (root-owned, 0400, in a 0700 folder).
    public var secretsVolumeName: String { "mcp-\(name)-secrets" }
    public static let secretsDirectory = "/var/lib/mcp-sandbox/secrets"
    public static var secretsFile: String { "\(secretsDirectory)/env" }

    // Without egress (MCP_NETWORK none or internal) Docker cannot publish a port of the server's
    // container, so a small ingress container on the deployment network publishes it and relays
    // each connection over a Unix socket on a shared volume; the server container keeps no route out.
    public var usesIngressRelay: Bool { network != .isolated }
    public var ingressContainerName: String { "mcp-\(name)-ingress" }
    public var ingressVolumeName: String { "mcp-\(name)-socket" }
    /// The `--internal` network of MCP_NETWORK=internal: the server container is alone on it.
    public var internalNetworkName: String { "mcp-\(name)-internal" }
    public static let ingressDirectory = "/var/lib/mcp-sandbox/ingress"
    public static let ingressSocket = "\(ingressDirectory)/front.sock"
    /// The port inside the container that is published.
    public var containerPort: Int { exposure == .nginx ? Self.nginxPort : Self.bridgePort }
    public var endpointScheme: String { exposure == .nginx ? "https" : "http" }

    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var variable: String
        public var message: String
        public var description: String { "\(variable): \(message)" }
    }

    /// Default upstream images: real tags, overridable with `MCP_BASE_IMAGE`.
    public static func defaultBaseImage(runtime: Runtime, base: Base) -> String {
        switch (runtime, base) {
        case (.node, .alpine): return "node:22-alpine"
        case (.node, .slim): return "node:22-bookworm-slim"
        case (.python, .alpine): return "python:3.12-alpine"
        case (.python, .slim): return "python:3.12-slim-bookworm"
        case (.custom, .alpine): return "alpine:3.20"
        case (.custom, .slim): return "debian:bookworm-slim"
        }
    }

    /// Reads and checks every variable; all problems are reported together.
    public init(environment values: [String: String]) throws(ProblemList) {
        var problems: [Problem] = []
        func value(_ key: String) -> String? {
            guard let raw = values[key]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        func choice<T: RawRepresentable<String> & CaseIterable>(_ key: String, default fallback: T) -> T {
            guard let raw = value(key) else { return fallback }
            if let parsed = T(rawValue: raw.lowercased()) { return parsed }
            problems.append(Problem(variable: key, message: "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(raw)'"))
            return fallback
        }

        name = value("MCP_NAME") ?? ""
        if name.isEmpty {
            problems.append(Problem(variable: "MCP_NAME", message: "is required (the deployment name, e.g. time)"))
        } else if !Self.isValidName(name) {
            problems.append(Problem(variable: "MCP_NAME", message: "use 1-40 lowercase letters, digits, '-' or '_', starting with a letter or digit; got '\(name)'"))
        }
        runtime = choice("MCP_SERVER_RUNTIME", default: Runtime.python)
        base = choice("MCP_BASE", default: Base.slim)
        exposure = choice("MCP_EXPOSE", default: Exposure.local)
        network = choice("MCP_NETWORK", default: Network.isolated)
        containerRuntime = choice("MCP_CONTAINER_RUNTIME", default: ContainerRuntime.auto)
        if network != .isolated, exposure == .ngrok || exposure == .pinggy {
            // The tunnel agent runs in the container and must dial out; these networks forbid that.
            problems.append(Problem(variable: "MCP_NETWORK", message: "'\(network.rawValue)' allows no egress, but MCP_EXPOSE=\(exposure.rawValue) runs a tunnel agent that must reach the internet; use MCP_NETWORK=isolated, or MCP_EXPOSE=local or nginx"))
        }
        baseImage = value("MCP_BASE_IMAGE") ?? Self.defaultBaseImage(runtime: runtime, base: base)
        package = value("MCP_SERVER_PACKAGE")

        switch runtime {
        case .python:
            if let package, !Self.isPinnedPythonRequirement(package) {
                problems.append(Problem(variable: "MCP_SERVER_PACKAGE", message: "pin the PyPI requirement to one version, e.g. mcp-server-time==2026.10.10; got '\(package)'"))
            } else if package == nil {
                problems.append(Problem(variable: "MCP_SERVER_PACKAGE", message: "is required for the python runtime (a pinned PyPI requirement)"))
            }
        case .node:
            if let package, !Self.isPinnedNPMSpec(package) {
                problems.append(Problem(variable: "MCP_SERVER_PACKAGE", message: "pin the npm package to one version, e.g. @modelcontextprotocol/server-filesystem@2025.8.21; got '\(package)'"))
            } else if package == nil {
                problems.append(Problem(variable: "MCP_SERVER_PACKAGE", message: "is required for the node runtime (a pinned npm package spec)"))
            }
        case .custom:
            if value("MCP_BASE_IMAGE") == nil, package == nil {
                problems.append(Problem(variable: "MCP_BASE_IMAGE", message: "the custom runtime needs an image that contains the server, or OS packages in MCP_SERVER_PACKAGE"))
            }
            if let package, let odd = package.split(whereSeparator: { $0 == " " || $0 == "\t" }).first(where: { !Self.isPinnedOSPackage(String($0)) }) {
                problems.append(Problem(variable: "MCP_SERVER_PACKAGE", message: "pin each OS package to one version, e.g. curl=7.88.1-10+deb12u8 (apt) or curl=8.9.1-r2 (apk), separated by spaces; got '\(odd)'"))
            }
        }

        var command: [String] = []
        if let line = value("MCP_SERVER_COMMAND") {
            do {
                command = try ShellWords.split(line)
            } catch {
                problems.append(Problem(variable: "MCP_SERVER_COMMAND", message: "\(error)"))
            }
        } else if runtime == .python, let package {
            command = [Self.requirementName(package)]
        } else {
            problems.append(Problem(variable: "MCP_SERVER_COMMAND", message: "is required for the \(runtime.rawValue) runtime (the server's command and arguments)"))
        }
        self.command = command

        authToken = values["MCP_AUTH_TOKEN"] ?? ""
        if authToken.count < 16 {
            problems.append(Problem(variable: "MCP_AUTH_TOKEN", message: "set a random token of at least 16 characters (builder init generates one)"))
        }
        previousTokens = (values["MCP_AUTH_TOKENS_PREVIOUS"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for (variable, tokens) in [("MCP_AUTH_TOKEN", [authToken]), ("MCP_AUTH_TOKENS_PREVIOUS", previousTokens)]
        where tokens.contains(where: { $0.range(of: "^[\(AcceptedTokens.characters)]*$", options: .regularExpression) == nil }) {
            problems.append(Problem(variable: variable, message: "tokens may only contain \(AcceptedTokens.characters)"))
        }
        tlsCertificateFile = value("MCP_TLS_CERT_FILE")
        tlsKeyFile = value("MCP_TLS_KEY_FILE")
        if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
            problems.append(Problem(variable: "MCP_TLS_CERT_FILE", message: "set both MCP_TLS_CERT_FILE and MCP_TLS_KEY_FILE, or neither"))
        }
        tunnelSecrets = [:]
        tunnelSettings = [:]
        switch exposure {
        case .pinggy:
            if let token = value("MCP_PINGGY_TOKEN") { tunnelSecrets["PINGGY_TOKEN"] = token }
            if let host = value("MCP_PINGGY_HOST") { tunnelSettings["PINGGY_HOST"] = host }
            if let port = value("MCP_PINGGY_PORT") {
                if let number = Int(port), (1...65535).contains(number) {
                    tunnelSettings["PINGGY_PORT"] = String(number)
                } else {
                    problems.append(Problem(variable: "MCP_PINGGY_PORT", message: "expected the ssh port of MCP_PINGGY_HOST (1-65535; pinggy listens on 443), got '\(port)'"))
                }
            }
            if let key = value("MCP_PINGGY_HOST_KEY") {
                if key.range(of: #"^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+=*$"#, options: .regularExpression) == nil {
                    problems.append(Problem(variable: "MCP_PINGGY_HOST_KEY", message: "use the server's public host key as TYPE BASE64, e.g. ssh-ed25519 AAAAC3Nza… (ssh-keyscan -p 443 a.pinggy.io prints it; check it out of band)"))
                } else {
                    tunnelSettings["PINGGY_HOST_KEY"] = key
                }
            }
        case .ngrok:
            if let token = value("MCP_NGROK_AUTHTOKEN") {
                tunnelSecrets["NGROK_AUTHTOKEN"] = token
            } else {
                problems.append(Problem(variable: "MCP_NGROK_AUTHTOKEN", message: "is required for MCP_EXPOSE=ngrok (your ngrok agent authtoken)"))
            }
            if let url = value("MCP_NGROK_URL") { tunnelSettings["NGROK_URL"] = url }
        case .local, .nginx:
            break
        }
        hostPort = 8000
        if let raw = value("MCP_PORT") {
            if let port = Int(raw), (1...65535).contains(port) {
                hostPort = port
            } else {
                problems.append(Problem(variable: "MCP_PORT", message: "must be a port number between 1 and 65535; got '\(raw)'"))
            }
        }
        publishAddress = value("MCP_PUBLISH_ADDRESS") ?? "127.0.0.1"
        memory = value("MCP_MEMORY") ?? "512m"
        if memory.range(of: #"^[0-9]+[bkmg]?$"#, options: [.regularExpression, .caseInsensitive]) == nil {
            problems.append(Problem(variable: "MCP_MEMORY", message: "use a docker memory size such as 512m or 1g; got '\(memory)'"))
        }
        cpus = value("MCP_CPUS") ?? "1.0"
        if Double(cpus).map({ $0 > 0 && $0 <= 512 }) != true {
            problems.append(Problem(variable: "MCP_CPUS", message: "use a positive number of CPUs such as 0.5 or 2; got '\(cpus)'"))
        }
        pids = 128
        if let raw = value("MCP_PIDS") {
            if let limit = Int(raw), limit >= 8 {
                pids = limit
            } else {
                problems.append(Problem(variable: "MCP_PIDS", message: "use a process limit of at least 8; got '\(raw)'"))
            }
        }
        var serverEnvironment: [String: String] = [:]
        var buildArguments: [String: String] = [:]
        var buildSecrets: [String: String] = [:]
        for (key, value) in values {
            if key.hasPrefix("SERVER_ENV_"), key.count > "SERVER_ENV_".count {
                let inner = String(key.dropFirst("SERVER_ENV_".count))
                if ChildEnvironment.isFrontVariable(inner) {
                    problems.append(Problem(variable: key, message: "\(inner) belongs to the front (MCP_BRIDGE_*, MCP_SANDBOX_*, MCP_AUTH_*, NGROK_*, PINGGY_*) and never reaches the server; rename it"))
                } else if inner.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) == nil {
                    problems.append(Problem(variable: key, message: "'\(inner)' is not a valid environment variable name (letters, digits and _, not starting with a digit)"))
                }
                serverEnvironment[inner] = value
            } else if key.hasPrefix("BUILD_ARG_"), key.count > "BUILD_ARG_".count {
                let inner = String(key.dropFirst("BUILD_ARG_".count))
                if Self.looksSecret(name: inner, value: value) {
                    problems.append(Problem(variable: key, message: "build arguments show in `docker history` and on the build's command line, and this looks like a credential; pass it as BUILD_SECRET_\(inner) instead"))
                }
                buildArguments[inner] = value
            } else if key.hasPrefix("BUILD_SECRET_"), key.count > "BUILD_SECRET_".count {
                let inner = String(key.dropFirst("BUILD_SECRET_".count))
                if inner.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) == nil {
                    problems.append(Problem(variable: key, message: "'\(inner)' is not a valid environment variable name (letters, digits and _, not starting with a digit)"))
                } else if Self.reservedBuildNames.contains(inner) || inner.hasPrefix("LD_") {
                    problems.append(Problem(variable: key, message: "\(inner) would change how the install step itself runs; choose another name"))
                }
                buildSecrets[inner] = value
            }
        }
        for key in values.keys where key.hasPrefix("MCP_") && !EnvTemplate.documentedSettings.contains(key) {
            let suggestion = Self.closest(to: key, among: EnvTemplate.documentedSettings).map { "did you mean \($0)? " } ?? ""
            problems.append(Problem(variable: key, message: "is not a setting builder knows (a typo would be silently ignored otherwise); \(suggestion)the settings are listed in .env.example"))
        }
        for name in Set(buildArguments.keys).intersection(buildSecrets.keys).sorted() {
            problems.append(Problem(variable: "BUILD_SECRET_\(name)", message: "BUILD_ARG_\(name) is set too; keep one"))
        }
        self.serverEnvironment = serverEnvironment
        self.buildArguments = buildArguments
        self.buildSecrets = buildSecrets
        if !problems.isEmpty { throw ProblemList(problems: problems.sorted { $0.variable < $1.variable }) }
    }

    public struct ProblemList: Error, Equatable, CustomStringConvertible {
        public var problems: [Problem]
        public var description: String { problems.map(\.description).joined(separator: "\n") }
    }

    /// The known name within two edits of `name`, if one is.
    static func closest(to name: String, among known: Set<String>) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var previous = Array(0...b.count)
            for (i, x) in a.enumerated() {
                var row = [i + 1]
                for (j, y) in b.enumerated() {
                    row.append(min(previous[j + 1] + 1, row[j] + 1, previous[j] + (x == y ? 0 : 1)))
                }
                previous = row
            }
            return previous[b.count]
        }
        let target = Array(name)
        var best: (name: String, distance: Int)?
        for candidate in known.sorted() {
            let edits = distance(target, Array(candidate))
            if edits <= 2, edits < (best?.distance ?? Int.max) { best = (candidate, edits) }
        }
        return best?.name
    }

    static func isValidName(_ name: String) -> Bool {
        name.range(of: #"^[a-z0-9][a-z0-9_-]{0,39}$"#, options: .regularExpression) != nil
    }

    static func isPinnedPythonRequirement(_ requirement: String) -> Bool {
        requirement.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!_-]+$"#, options: .regularExpression) != nil
    }

    /// Names the install step relies on, which a build secret must not replace.
    static let reservedBuildNames: Set<String> = ["PATH", "HOME", "SHELL", "IFS", "MCP_SERVER_PACKAGE", "BASE_IMAGE"]

    /// A build argument that is probably a credential: by its name, or a URL with a password.
    static func looksSecret(name: String, value: String) -> Bool {
        let upper = name.uppercased()
        if ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "APIKEY", "API_KEY", "PRIVATE"].contains(where: upper.contains) {
            return true
        }
        return value.range(of: #"://[^/@\s:]*:[^/@\s]+@"#, options: .regularExpression) != nil
    }

    /// `name=version` as apt and apk take it, with nothing a shell would expand.
    static func isPinnedOSPackage(_ word: String) -> Bool {
        word.range(of: #"^[a-z0-9][a-z0-9+._-]*=[A-Za-z0-9.+~:_-]+$"#, options: .regularExpression) != nil
    }

    static func isPinnedNPMSpec(_ spec: String) -> Bool {
        spec.range(of: #"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*@[0-9][0-9A-Za-z.+-]*$"#, options: .regularExpression) != nil
    }

    /// `mcp-server-time==1.0` → `mcp-server-time` (also the console script pip installs).
    static func requirementName(_ requirement: String) -> String {
        String(requirement.prefix { $0 != "=" && $0 != "[" })
    }
}
