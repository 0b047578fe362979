import Foundation
/// The docker command lines for a deployment, as argv arrays (never shell strings). Pure
/// functions of the spec, so `builder print run` shows exactly what `builder start` runs.
public struct DockerCommands: Sendable {
    public static let managedLabel = "org.mcp-sandbox.managed=true"
    public static func deploymentLabel(_ name: String) -> String { "org.mcp-sandbox.deployment=\(name)" }

    public let spec: DeploymentSpec

    public init(spec: DeploymentSpec) { self.spec = spec }

    /// The secrets of the container. They reach it in a file on the deployment's secrets volume
    /// (see `writeSecrets`), never as container environment: `docker inspect` and every
    /// `docker exec` (the health check too) would show those, and under some gVisor releases
    /// the MCP server could read any process's start-up environment.
    public var secretEnvironment: [String: String] {
        spec.serverEnvironment.merging(frontSecretEnvironment) { $1 }
    }

    /// The front's own secrets (tokens, tunnel credentials and settings), without the server's.
    public var frontSecretEnvironment: [String: String] {
        var environment = ["MCP_BRIDGE_TOKEN": spec.authToken]
        if !spec.previousTokens.isEmpty { environment["MCP_BRIDGE_TOKENS"] = spec.previousTokens.joined(separator: ",") }
        environment.merge(spec.tunnelSecrets) { $1 }
        environment.merge(spec.tunnelSettings) { $1 }
        return environment
    }

    public var labels: [String] { [Self.managedLabel, Self.deploymentLabel(spec.name)] + spec.extraLabels }

    /// The secrets file's content: NUL-separated `NAME=VALUE` entries (values may span lines).
    public var secretsFile: [UInt8] { Self.secretsFile(secretEnvironment) }

    public static func secretsFile(_ environment: [String: String]) -> [UInt8] {
        Array(environment.keys.sorted().map { "\($0)=\(environment[$0] ?? "")\0" }.joined().utf8)
    }

    public var createSecretsVolume: [String] { create(["volume", "create"], spec.secretsVolumeName) }

    /// Writes `secretsFile` (given on standard input) into the secrets volume: a throwaway
    /// container of the deployment's image, as root with no capability and no network, so the
    /// file is root-owned, mode 0400, in a 0700 folder. Only the bridge, before it leaves root,
    /// can read it; the values never touch argv, the container config or the host's disk
    /// outside Docker's volume store.
    public var writeSecrets: [String] {
        var argv = ["docker", "run", "--rm", "--interactive", "--name", "\(spec.containerName)-secrets"]
        for label in labels { argv += ["--label", label] }
        return argv + [
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only", "--user", "0:0",
            "--network", "none", "--pids-limit", "16", "--memory", "32m", "--log-driver", "none",
            "--volume", "\(spec.secretsVolumeName):/secrets", "--entrypoint", "/bin/sh", spec.imageTag,
            "-c", "umask 077 && cat > /secrets/env.new && chmod 0400 /secrets/env.new && mv -f /secrets/env.new /secrets/env && chmod 0700 /secrets",
        ]
    }

    /// `docker build`, or with build secrets `docker buildx build` (BuildKit) handing them over
    /// as the file `secretsFile` (never as values on the command line).
    public func build(contextDirectory: String, secretsFile: String? = nil) -> [String] {
        // --force-rm: a failed step leaves no stopped build container behind.
        var argv = secretsFile == nil ? ["docker", "build", "--force-rm"] : ["docker", "buildx", "build", "--load"]
        argv += ["--tag", spec.imageTag, "--file", "\(contextDirectory)/Dockerfile"]
        if let secretsFile { argv += ["--secret", "id=\(DockerfileRenderer.buildSecretID),src=\(secretsFile)"] }
        for label in labels { argv += ["--label", label] }
        argv += ["--build-arg", "BASE_IMAGE=\(spec.baseImage)"]
        if let package = spec.package { argv += ["--build-arg", "MCP_SERVER_PACKAGE=\(package)"] }
        for key in spec.buildArguments.keys.sorted() {
            argv += ["--build-arg", "\(key)=\(spec.buildArguments[key] ?? "")"]
        }
        return argv + [contextDirectory]
    }

    /// The build secrets as the install step sources them: `NAME='value'` lines, each value
    /// single-quoted for the shell.
    public var buildSecretsFile: String {
        spec.buildSecrets.keys.sorted().map { name in
            "\(name)='" + (spec.buildSecrets[name] ?? "").replacingOccurrences(of: "'", with: #"'\''"#) + "'\n"
        }.joined()
    }

    /// The deployment's own bridge network, on which containers cannot talk to each other.
    public var createNetwork: [String] {
        create(["network", "create", "--driver", "bridge", "--opt", "com.docker.network.bridge.enable_icc=false"], spec.networkName)
    }

    /// MCP_NETWORK=internal: a network with no way out, on which the server container is alone.
    /// `--internal` makes the host drop forwarded traffic; without an address on the bridge
    /// (`inhibit_ipv4`) the host's own services are not reachable through the gateway either.
    public var createInternalNetwork: [String]? {
        guard spec.network == .internal else { return nil }
        return create(["network", "create", "--driver", "bridge", "--internal",
                       "--opt", "com.docker.network.bridge.enable_icc=false", "--opt", "com.docker.network.bridge.inhibit_ipv4=true"],
                      spec.internalNetworkName)
    }

    /// The volume that carries the front's Unix socket from the server container to the ingress.
    public var createIngressVolume: [String]? {
        guard spec.usesIngressRelay else { return nil }
        return create(["volume", "create"], spec.ingressVolumeName)
    }

    public var createVolume: [String]? {
        guard spec.exposure == .nginx else { return nil }
        return create(["volume", "create"], spec.volumeName)
    }

    /// A labelled docker object, so `status`, `stop` and `down` find it.
    private func create(_ command: [String], _ name: String) -> [String] {
        ["docker"] + command + labels.flatMap { ["--label", $0] } + [name]
    }

    /// The flags every container of a deployment runs with; only the user, capabilities and
    /// limits differ.
    private func lockedDown(user: String, capabilities: [String], pids: String, memory: String, cpus: String) -> [String] {
        ["--cap-drop", "ALL"] + capabilities.flatMap { ["--cap-add", $0] } + [
            "--security-opt", "no-new-privileges",
            "--read-only",
            "--user", user,
            "--pids-limit", pids,
            "--memory", memory,
            "--memory-swap", memory,
            "--cpus", cpus,
            "--restart", "unless-stopped",
            "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
        ]
    }

    /// The image's own health check, run on demand: Docker 20.10 first probes only `--interval`
    /// (5 s) after the start (it has no `--start-interval`), so `builder start` asks itself
    /// while Docker still says "starting". Like Docker's probe, it is a `docker exec`, which sees
    /// no secret (they are in files, not the environment).
    public var healthProbe: [String] {
        ["docker", "exec", spec.containerName, "/usr/local/bin/mcp-bridge", "--healthcheck", "--port", String(DeploymentSpec.bridgePort)]
    }

    /// The hardened `docker run`. `useGVisor` comes from `docker info` (see `RuntimeChoice`).
    public func run(useGVisor: Bool) -> [String] {
        var argv = ["docker", "run", "--detach", "--name", spec.containerName, "--hostname", spec.containerName]
        for label in labels { argv += ["--label", label] }
        // Root at the start only: PID 1 and the bridge drop to the front user at once (see
        // `Privileges`), the bridge keeping just what it needs to start the server as another user.
        argv += lockedDown(user: "0:0", capabilities: DeploymentSpec.bridgeCapabilities,
                           pids: String(spec.pids), memory: spec.memory, cpus: spec.cpus)
        // /tmp is the server's (sticky, world-writable); /run/mcp-sandbox is the front's alone:
        // nginx state and the token map, tunnel configs.
        argv += ["--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=64m,mode=1777",
                 "--tmpfs", "\(DeploymentSpec.frontRunDirectory):rw,noexec,nosuid,nodev,size=16m,uid=10001,gid=10001,mode=0700"]
        if spec.exposure == .nginx {
            // The certificate and key live on a volume owned by the front user, mode 0700.
            argv += ["--volume", "\(spec.volumeName):/var/lib/mcp-sandbox/tls"]
            if let certificate = spec.tlsCertificateFile, let key = spec.tlsKeyFile {
                argv += ["--volume", "\(certificate):/etc/mcp-sandbox/user-tls/cert.pem:ro",
                         "--volume", "\(key):/etc/mcp-sandbox/user-tls/key.pem:ro"]
            }
        }
        if useGVisor { argv += ["--runtime", "runsc"] }
        switch spec.network {
        case .isolated:
            argv += ["--network", spec.networkName]
            if publishesPort {
                argv += ["--publish", publish]
            }
        case .none, .internal:
            // No published port is possible here: the bridge relays the socket to its front port.
            argv += ["--network", spec.network == .none ? "none" : spec.internalNetworkName,
                     "--volume", "\(spec.ingressVolumeName):\(DeploymentSpec.ingressDirectory)",
                     "--env", "MCP_BRIDGE_RELAY=unix:\(DeploymentSpec.ingressSocket),127.0.0.1:\(spec.containerPort)"]
        }
        argv += ["--volume", "\(spec.secretsVolumeName):\(DeploymentSpec.secretsDirectory):ro",
                 "--env", "MCP_BRIDGE_SECRETS_FILE=\(DeploymentSpec.secretsFile)"]
        if !spec.serverEnvironment.isEmpty {
            // Names only: the bridge passes exactly these (and a minimal base) to the server.
            argv += ["--env", "MCP_BRIDGE_PASS_ENV=\(spec.serverEnvironment.keys.sorted().joined(separator: ","))"]
        }
        return argv + [spec.imageTag] + spec.command
    }

    /// The ingress of MCP_NETWORK=none or internal: the same image running only the bridge's relay,
    /// on the deployment's ICC-off network, publishing the port. It holds no secret (auth happens
    /// behind it), mounts the socket volume read-only, and is as locked down as the server.
    public func runIngress(useGVisor: Bool) -> [String]? {
        guard spec.usesIngressRelay else { return nil }
        var argv = ["docker", "run", "--detach", "--name", spec.ingressContainerName, "--hostname", spec.ingressContainerName]
        for label in labels { argv += ["--label", label] }
        argv += ["--label", Self.ingressRoleLabel]
        argv += lockedDown(user: DeploymentSpec.containerUser, capabilities: [], pids: "32", memory: "64m", cpus: "0.5")
        // The image's HEALTHCHECK probes the bridge port, which the ingress does not serve for nginx.
        argv += ["--no-healthcheck"]
        if useGVisor { argv += ["--runtime", "runsc"] }
        argv += [
            "--network", spec.networkName,
            "--publish", publish,
            "--volume", "\(spec.ingressVolumeName):\(DeploymentSpec.ingressDirectory):ro",
            "--entrypoint", "/usr/local/bin/mcp-bridge",
            spec.imageTag,
            "--log-format", "json", "--relay", "0.0.0.0:\(spec.containerPort),unix:\(DeploymentSpec.ingressSocket)",
        ]
        return argv
    }

    public static let ingressRoleLabel = "org.mcp-sandbox.role=ingress"

    /// Tunnels need no inbound port; every other exposure publishes one port.
    public var publishesPort: Bool {
        spec.exposure == .local || spec.exposure == .nginx
    }

    /// The one published port: host address and port to the front's port in the container.
    private var publish: String { "\(publishHost):\(spec.hostPort):\(spec.containerPort)" }

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
