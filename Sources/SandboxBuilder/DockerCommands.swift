/// The docker command lines for a deployment, as argv arrays (never shell strings). Pure
/// functions of the spec, so `builder print run` shows exactly what `builder start` runs.
public struct DockerCommands: Sendable {
    public static let managedLabel = "org.mcp-sandbox.managed=true"
    public static func deploymentLabel(_ name: String) -> String { "org.mcp-sandbox.deployment=\(name)" }

    public let spec: DeploymentSpec

    public init(spec: DeploymentSpec) { self.spec = spec }

    /// The environment variables that carry secrets into the container. They are passed by
    /// name (`--env NAME`), so their values live only in docker's own environment, never in argv.
    public var secretEnvironment: [String: String] {
        var environment = spec.serverEnvironment
        environment["MCP_BRIDGE_TOKEN"] = spec.authToken
        if !spec.previousTokens.isEmpty { environment["MCP_BRIDGE_TOKENS"] = spec.previousTokens.joined(separator: ",") }
        environment.merge(spec.tunnelSecrets) { $1 }
        environment.merge(spec.tunnelSettings) { $1 }
        return environment
    }

    public var labels: [String] { [Self.managedLabel, Self.deploymentLabel(spec.name)] }

    public func build(contextDirectory: String) -> [String] {
        var argv = ["docker", "build", "--tag", spec.imageTag, "--file", "\(contextDirectory)/Dockerfile"]
        for label in labels { argv += ["--label", label] }
        argv += ["--build-arg", "BASE_IMAGE=\(spec.baseImage)"]
        if let package = spec.package { argv += ["--build-arg", "MCP_SERVER_PACKAGE=\(package)"] }
        for key in spec.buildArguments.keys.sorted() {
            argv += ["--build-arg", "\(key)=\(spec.buildArguments[key] ?? "")"]
        }
        return argv + [contextDirectory]
    }

    /// The deployment's own bridge network, on which containers cannot talk to each other.
    public var createNetwork: [String] {
        var argv = ["docker", "network", "create", "--driver", "bridge", "--opt", "com.docker.network.bridge.enable_icc=false"]
        for label in labels { argv += ["--label", label] }
        return argv + [spec.networkName]
    }

    public var createVolume: [String]? {
        guard spec.exposure == .nginx else { return nil }
        var argv = ["docker", "volume", "create"]
        for label in labels { argv += ["--label", label] }
        return argv + [spec.volumeName]
    }

    /// The hardened `docker run`. `useGVisor` comes from `docker info` (see `RuntimeChoice`).
    public func run(useGVisor: Bool) -> [String] {
        var argv = ["docker", "run", "--detach", "--name", spec.containerName, "--hostname", spec.containerName]
        for label in labels { argv += ["--label", label] }
        argv += [
            "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges",
            "--read-only",
            "--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=64m",
            "--user", DeploymentSpec.containerUser,
            "--pids-limit", String(spec.pids),
            "--memory", spec.memory,
            "--memory-swap", spec.memory,
            "--cpus", spec.cpus,
            "--restart", "unless-stopped",
            "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
        ]
        if spec.exposure == .nginx {
            // nginx writes its pid, temp and cache files here; the certificate lives on a volume.
            argv += ["--tmpfs", "/run/mcp-sandbox:rw,noexec,nosuid,nodev,size=16m,uid=10001,gid=10001",
                     "--volume", "\(spec.volumeName):/var/lib/mcp-sandbox/tls"]
            if let certificate = spec.tlsCertificateFile, let key = spec.tlsKeyFile {
                argv += ["--volume", "\(certificate):/etc/mcp-sandbox/user-tls/cert.pem:ro",
                         "--volume", "\(key):/etc/mcp-sandbox/user-tls/key.pem:ro"]
            }
        }
        if useGVisor { argv += ["--runtime", "runsc"] }
        argv += ["--network", spec.networkName]
        if publishesPort {
            argv += ["--publish", "\(publishHost):\(spec.hostPort):\(spec.containerPort)"]
        }
        for name in secretEnvironment.keys.sorted() { argv += ["--env", name] }
        return argv + [spec.imageTag] + spec.command
    }

    /// Tunnels need no inbound port; every other exposure publishes one port.
    public var publishesPort: Bool {
        spec.exposure == .local || spec.exposure == .nginx
    }

    private var publishHost: String {
        spec.publishAddress.contains(":") ? "[\(spec.publishAddress)]" : spec.publishAddress
    }

    public var endpoint: String? {
        guard publishesPort else { return nil }
        let host = spec.publishAddress == "0.0.0.0" ? "127.0.0.1" : publishHost
        return "\(spec.endpointScheme)://\(host):\(spec.hostPort)/mcp"
    }

    public var labelFilter: [String] { ["--filter", "label=\(Self.deploymentLabel(spec.name))"] }
}
