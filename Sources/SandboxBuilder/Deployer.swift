import Foundation

/// The docker-facing commands: start, stop, status, down.
public struct Deployer: Sendable {
    public let workspace: Workspace
    public let client = DockerClient()
    private var spec: DeploymentSpec { workspace.spec }
    private var commands: DockerCommands { DockerCommands(spec: spec) }

    public init(workspace: Workspace) { self.workspace = workspace }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private func state(of container: String? = nil) async -> String? {
        let output = try? await client.capture(["docker", "container", "inspect", "--format", "{{.State.Status}}", container ?? spec.containerName])
        return output?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The deployment's containers: the server, then (MCP_NETWORK none or internal) its ingress.
    private var containerNames: [String] {
        spec.usesIngressRelay ? [spec.containerName, spec.ingressContainerName] : [spec.containerName]
    }

    /// Every container the deployment may have, whatever MCP_NETWORK says now: an ingress left
    /// from an earlier mode would still hold the published port.
    private var everyContainerName: [String] { [spec.containerName, spec.ingressContainerName] }

    private func exists(_ kind: String, _ name: String) async -> Bool {
        await client.succeeds(["docker", kind, "inspect", name])
    }

    public func start(timeout: Duration) async throws {
        guard await client.succeeds(["docker", "image", "inspect", spec.imageTag]) else {
            throw Failure(description: "no image \(spec.imageTag) yet: run `builder build` first")
        }
        var running: Set<String> = []
        var present: [String] = []
        for name in everyContainerName {
            guard let state = await state(of: name) else { continue }
            present.append(name)
            if state == "running" { running.insert(name) }
        }
        if Set(present) == Set(containerNames), running == Set(containerNames) {
            print("\(spec.containerName) is already running.")
            try await status()
            return
        }
        for name in present {
            try await client.capture(["docker", "rm", "--force", name])
        }
        if !(await exists("network", spec.networkName)) {
            try await client.capture(commands.createNetwork)
        }
        if let create = commands.createInternalNetwork, !(await exists("network", spec.internalNetworkName)) {
            try await client.capture(create)
        }
        if let create = commands.createVolume, !(await exists("volume", spec.volumeName)) {
            try await client.capture(create)
        }
        if let create = commands.createIngressVolume, !(await exists("volume", spec.ingressVolumeName)) {
            try await client.capture(create)
        }
        if !["127.0.0.1", "::1", "localhost"].contains(spec.publishAddress), commands.publishesPort {
            print("warning: MCP_PUBLISH_ADDRESS=\(spec.publishAddress) publishes the endpoint beyond this machine")
        }
        if !(await exists("volume", spec.secretsVolumeName)) {
            try await client.capture(commands.createSecretsVolume)
        }
        // Written at every start, so a changed .env takes effect.
        try await client.capture(commands.writeSecrets, standardInput: commands.secretsFile)
        let gVisor = try await RuntimeChoice.useGVisor(spec.containerRuntime, needsHostSockets: spec.usesIngressRelay, client: client)
        try await client.capture(commands.run(useGVisor: gVisor))
        try await waitUntilHealthy(timeout: timeout)
        if let ingress = commands.runIngress(useGVisor: gVisor) {
            try await client.capture(ingress)
            try await waitUntilIngressRuns()
        }
        print("\(spec.containerName) is running and healthy\(gVisor ? " (gVisor)" : "").")
        if let fingerprint = await tlsFingerprint() { print("TLS certificate SHA-256 fingerprint: \(fingerprint)") }
        if let endpoint = commands.endpoint {
            print("Endpoint: \(endpoint)   (legacy SSE: \(endpoint.dropLast(4))/sse)")
            print("Clients send: Authorization: Bearer <MCP_AUTH_TOKEN from \(workspace.envFile.lastPathComponent)>")
        }
    }

    private func waitUntilHealthy(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            last = (try? await client.capture(["docker", "inspect", "--format",
                "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", spec.containerName]))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "missing"
            if last == "running healthy" { return }
            if last.hasPrefix("exited") || last.hasPrefix("dead") || last.hasSuffix("unhealthy") || last == "missing" { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let logs = await client.captureAll(["docker", "logs", "--tail", "30", spec.containerName])
        throw Failure(description: "\(spec.containerName) did not become healthy (\(last)). Last log lines:\n\(logs)")
    }

    /// The relay has no health check of its own: it runs, or its log says why not.
    private func waitUntilIngressRuns() async throws {
        try await Task.sleep(for: .milliseconds(300))
        let state = await state(of: spec.ingressContainerName) ?? "missing"
        guard state == "running" else {
            let logs = await client.captureAll(["docker", "logs", "--tail", "30", spec.ingressContainerName])
            throw Failure(description: "\(spec.ingressContainerName) is \(state). Last log lines:\n\(logs)")
        }
    }

    public func stop() async throws {
        var stopped: [String] = []
        // The ingress first, so no client reaches a server that is going away.
        for name in everyContainerName.reversed() where await state(of: name) != nil {
            try await client.capture(["docker", "stop", "--time", "10", name])
            try await client.capture(["docker", "rm", name])
            stopped.append(name)
        }
        print(stopped.isEmpty ? "\(spec.containerName) is not running." : "Stopped and removed \(stopped.joined(separator: " and ")).")
    }

    public func status() async throws {
        guard await state() != nil else {
            print("\(spec.name): not running (image \(await client.succeeds(["docker", "image", "inspect", spec.imageTag]) ? "built" : "not built"))")
            return
        }
        let format = """
            state:    {{.State.Status}}{{if .State.Health}} ({{.State.Health.Status}}){{end}} since {{.State.StartedAt}}
            image:    {{.Config.Image}}
            runtime:  {{.HostConfig.Runtime}}
            user:     front \(DeploymentSpec.containerUser) (bridge, \(spec.exposure == .local ? "" : "\(spec.exposure.rawValue), ")secrets), server \(DeploymentSpec.serverUser) (no capability)
            caps:     dropped {{.HostConfig.CapDrop}}, kept {{.HostConfig.CapAdd}} (bridge only)  read-only root: {{.HostConfig.ReadonlyRootfs}}
            limits:   memory {{.HostConfig.Memory}} bytes, cpus {{.HostConfig.NanoCpus}} nano, pids {{.HostConfig.PidsLimit}}
            network:  {{.HostConfig.NetworkMode}}
            """
        print("\(spec.name):")
        print(try await client.capture(["docker", "inspect", "--format", format, spec.containerName]), terminator: "")
        if spec.usesIngressRelay {
            let ingress = await state(of: spec.ingressContainerName) ?? "missing"
            print("ingress:  \(spec.ingressContainerName) \(ingress) (relays the published port to the server's socket)")
        }
        if let endpoint = commands.endpoint { print("endpoint: \(endpoint)") }
        if let fingerprint = await tlsFingerprint() { print("tls sha256: \(fingerprint)") }
    }

    /// The SHA-256 fingerprint of the certificate the nginx front serves, read inside the container.
    public func tlsFingerprint() async -> String? {
        guard spec.exposure == .nginx else { return nil }
        // As the front user: the certificate's folder is the front's alone.
        let output = try? await client.capture(["docker", "exec", "--user", DeploymentSpec.containerUser, spec.containerName,
                                                "/etc/mcp-sandbox/nginx/fingerprint"])
        return output?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func down(removeImage: Bool) async throws {
        // Every name this deployment may have used, whatever MCP_NETWORK says now.
        for name in everyContainerName.reversed() {
            _ = try? await client.capture(["docker", "rm", "--force", name])
        }
        for network in [spec.networkName, spec.internalNetworkName] where await exists("network", network) {
            try await client.capture(["docker", "network", "rm", network])
        }
        for volume in [spec.volumeName, spec.ingressVolumeName, spec.secretsVolumeName] where await exists("volume", volume) {
            try await client.capture(["docker", "volume", "rm", volume])
        }
        if removeImage, await client.succeeds(["docker", "image", "inspect", spec.imageTag]) {
            try await client.capture(["docker", "image", "rm", spec.imageTag])
        }
        try? FileManager.default.removeItem(at: workspace.stateDirectory)
        print("Removed \(spec.containerName), its network, volumes and generated files\(removeImage ? ", and the image" : "").")
    }
}

/// `builder doctor`: is everything in place to build and run?
public enum Doctor {
    public static func report(envFile: String) async -> Bool {
        let client = DockerClient()
        var healthy = true
        do {
            let version = try await client.capture(["docker", "version", "--format", "{{.Server.Version}}"])
            print("✓ Docker engine \(version.trimmingCharacters(in: .whitespacesAndNewlines)) is reachable")
        } catch {
            healthy = false
            print("✗ cannot reach the Docker engine: \(error)")
        }
        let gVisor = await RuntimeChoice.gVisorArguments(client: client)
        if let gVisor {
            print("✓ gVisor (runsc) is registered with Docker (runtimeArgs: \(gVisor.joined(separator: " "))): MCP_CONTAINER_RUNTIME=auto uses it")
            if gVisor.contains(where: { $0.hasSuffix("ignore-cgroups") }) {
                print("– runsc runs with --ignore-cgroups: MCP_MEMORY, MCP_CPUS and MCP_PIDS are not enforced under gVisor")
            }
            if !RuntimeChoice.sharesHostSockets(gVisor) {
                print("– runsc lacks --host-uds=all: MCP_NETWORK=none/internal deployments fall back to runc (auto) or fail (runsc)")
            }
        } else {
            print("– gVisor (runsc) is not registered with Docker: containers use runc (apt-get install runsc, then add it to /etc/docker/daemon.json)")
        }
        do {
            let workspace = try Workspace(envFile: envFile)
            print("✓ \(envFile) is valid (deployment \(workspace.spec.name), \(workspace.spec.runtime.rawValue) on \(workspace.spec.baseImage), exposed via \(workspace.spec.exposure.rawValue))")
            let built = await client.succeeds(["docker", "image", "inspect", workspace.spec.imageTag])
            print(built ? "✓ image \(workspace.spec.imageTag) is built" : "– image \(workspace.spec.imageTag) is not built yet (builder build)")
        } catch {
            healthy = false
            print("✗ \(error)")
        }
        return healthy
    }
}
