import Foundation
import MCPBridge

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

    private func inspect(_ kind: DockerObject.Kind, _ name: String) async -> DockerObject? {
        guard let json = try? await client.capture(["docker", kind.rawValue, "inspect", name]) else { return nil }
        return DockerObject(kind: kind, name: name, json: json)
    }

    private func state(of container: String? = nil) async -> String? {
        await inspect(.container, container ?? spec.containerName)?.status
    }

    /// The deployment's containers: the server, then (MCP_NETWORK none or internal) its ingress.
    private var containerNames: [String] {
        spec.usesIngressRelay ? [spec.containerName, spec.ingressContainerName] : [spec.containerName]
    }

    /// Every container the deployment may have, whatever MCP_NETWORK says now: an ingress left
    /// from an earlier mode would still hold the published port.
    private var everyContainerName: [String] { [spec.containerName, spec.ingressContainerName] }
    private var everyNetworkName: [String] { [spec.networkName, spec.internalNetworkName] }
    private var everyVolumeName: [String] { [spec.volumeName, spec.ingressVolumeName, spec.secretsVolumeName] }

    private func exists(_ kind: DockerObject.Kind, _ name: String) async -> Bool {
        await inspect(kind, name) != nil
    }

    /// Refuses to touch an object of that name that mcp-sandbox did not make for this deployment.
    private func ensureOurs(_ kind: DockerObject.Kind, _ name: String) async throws {
        guard let object = await inspect(kind, name), !object.belongs(to: spec.name) else { return }
        throw Failure(description: "a \(kind.rawValue) named \(name) exists but was not made by mcp-sandbox for deployment \(spec.name) (no org.mcp-sandbox labels); builder will not replace or remove it. Remove or rename it yourself, or change MCP_NAME in \(workspace.envFile.lastPathComponent)")
    }

    /// Limits the host cannot give are refused before anything is created.
    private func checkHostCapacity() async throws {
        guard let capacity = await client.hostCapacity() else { return }
        let file = workspace.envFile.lastPathComponent
        let cpus = capacity.cpus, total = capacity.memory
        if let wanted = Double(spec.cpus), wanted > Double(cpus) {
            throw Failure(description: "MCP_CPUS=\(spec.cpus) in \(file) is more than the \(cpus) CPUs of this Docker host; set MCP_CPUS to at most \(cpus)")
        }
        if spec.memoryBytes > total {
            throw Failure(description: "MCP_MEMORY=\(spec.memory) in \(file) is more than the \(total >> 20) MiB of memory of this Docker host; set MCP_MEMORY to at most \(total >> 20)m")
        }
    }

    /// Starts the deployment, or leaves nothing behind that this call created.
    public func start(timeout: Duration) async throws {
        try workspace.checkFiles()
        guard await client.succeeds(["docker", "image", "inspect", spec.imageTag]) else {
            throw Failure(description: "no image \(spec.imageTag) yet: run `builder build` first")
        }
        try await checkHostCapacity()
        var running: Set<String> = []
        var present: [String] = []
        for name in everyContainerName {
            guard let object = await inspect(.container, name) else { continue }
            guard object.belongs(to: spec.name) else { try await ensureOurs(.container, name); continue }
            present.append(name)
            if object.status == "running" { running.insert(name) }
        }
        if Set(present) == Set(containerNames), running == Set(containerNames) {
            print("\(spec.containerName) is already running.")
            try await status()
            return
        }
        for name in everyNetworkName { try await ensureOurs(.network, name) }
        for name in everyVolumeName { try await ensureOurs(.volume, name) }
        for name in present {
            try await client.capture(["docker", "rm", "--force", name])
        }
        var created: [(DockerObject.Kind, String)] = []
        do {
            try await launch(timeout: timeout, created: &created)
        } catch {
            await rollBack(created)
            throw error
        }
    }

    private func launch(timeout: Duration, created: inout [(DockerObject.Kind, String)]) async throws {
        func make(_ kind: DockerObject.Kind, _ name: String, _ argv: [String]?) async throws {
            guard let argv, !(await exists(kind, name)) else { return }
            try await client.capture(argv)
            created.append((kind, name))
        }
        try await make(.network, spec.networkName, commands.createNetwork)
        try await make(.network, spec.internalNetworkName, commands.createInternalNetwork)
        try await make(.volume, spec.volumeName, commands.createVolume)
        try await make(.volume, spec.ingressVolumeName, commands.createIngressVolume)
        try await make(.volume, spec.secretsVolumeName, commands.createSecretsVolume)
        // Written at every start, so a changed .env takes effect.
        try await client.capture(commands.writeSecrets, standardInput: commands.secretsFile)
        if !["127.0.0.1", "::1", "localhost"].contains(spec.publishAddress), commands.publishesPort {
            print("warning: MCP_PUBLISH_ADDRESS=\(spec.publishAddress) publishes the endpoint beyond this machine")
        }
        let gVisor = try await RuntimeChoice.useGVisor(spec.containerRuntime, needsHostSockets: spec.usesIngressRelay, client: client)
        // Listed before it runs: a `docker run` that fails to start (a taken port) leaves a
        // created container behind.
        created.append((.container, spec.containerName))
        try await client.capture(commands.run(useGVisor: gVisor))
        try await waitUntilHealthy(timeout: timeout)
        if spec.exposure == .nginx { try await waitUntilFrontListens(timeout: timeout) }
        if let ingress = commands.runIngress(useGVisor: gVisor) {
            created.append((.container, spec.ingressContainerName))
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

    /// Removes what a failed `start` created, newest first; reports what it could not.
    private func rollBack(_ created: [(DockerObject.Kind, String)]) async {
        var removed: [String] = []
        for (kind, name) in created.reversed() {
            let argv = kind == .container ? ["docker", "rm", "--force", name] : ["docker", kind.rawValue, "rm", name]
            if (try? await client.capture(argv)) != nil {
                removed.append(name)
            } else if await exists(kind, name) {
                print("warning: could not remove \(kind.rawValue) \(name) after the failed start; remove it with: docker \(kind == .container ? "" : kind.rawValue + " ")rm \(name)")
            }
        }
        if !removed.isEmpty { print("Rolled back: removed \(removed.joined(separator: ", ")).") }
    }

    private func waitUntilHealthy(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            last = "missing"
            if let object = await inspect(.container, spec.containerName) {
                last = [object.status, await health(of: object)].compactMap { $0 }.joined(separator: " ")
            }
            if last == "running healthy" { return }
            if last.hasPrefix("exited") || last.hasPrefix("dead") || last.hasPrefix("created") || last.hasSuffix("unhealthy") || last == "missing" { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw Failure(description: "\(spec.containerName) did not become healthy (\(last)). Last log lines:\n\(await lastLogLines(of: spec.containerName))")
    }

    /// The nginx front starts next to the bridge, and the health check answers for the bridge
    /// alone: "running and healthy" waits until nginx listens too, or a client connecting at once
    /// has its TLS handshake cut.
    private func waitUntilFrontListens(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let table = await client.captureAll(["docker", "exec", spec.containerName, "cat", "/proc/net/tcp", "/proc/net/tcp6"])
            if ListeningSockets.listens(on: DeploymentSpec.nginxPort, in: table) { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw Failure(description: "\(spec.containerName): the nginx front did not listen on port \(DeploymentSpec.nginxPort) within \(timeout) (the bridge is healthy). Last log lines:\n\(await lastLogLines(of: spec.containerName))")
    }

    /// The relay has no health check of its own: it runs, or its log says why not.
    private func waitUntilIngressRuns() async throws {
        try await Task.sleep(for: .milliseconds(300))
        let state = await state(of: spec.ingressContainerName) ?? "missing"
        guard state == "running" else {
            throw Failure(description: "\(spec.ingressContainerName) is \(state). Last log lines:\n\(await lastLogLines(of: spec.ingressContainerName))")
        }
    }

    /// The container's last `count` log lines (by default, a failed start's evidence).
    private func lastLogLines(of container: String, count: Int = 30) async -> String {
        await client.captureAll(["docker", "logs", "--tail", String(count), container])
    }

    public func stop() async throws {
        var stopped: [String] = []
        // The ingress first, so no client reaches a server that is going away.
        for name in everyContainerName.reversed() where await state(of: name) != nil {
            try await ensureOurs(.container, name)
            try await client.capture(["docker", "stop", "--time", "10", name])
            try await client.capture(["docker", "rm", name])
            stopped.append(name)
        }
        print(stopped.isEmpty ? "\(spec.containerName) is not running." : "Stopped and removed \(stopped.joined(separator: " and ")).")
    }

    /// Docker's verdict on the container's health or, while it has none yet ("starting": Docker
    /// 20.10 first probes 5 s after the start), the verdict of the same probe run now. A bridge
    /// that logged that its server command cannot run at all is unhealthy at once: its `/readyz`
    /// answers 503 for good, and Docker would say so only after the start period and three probes.
    private func health(of object: DockerObject) async -> String? {
        guard object.status == "running", object.health == "starting" else { return object.health }
        if await client.succeeds(commands.healthProbe) { return "healthy" }
        let log = await lastLogLines(of: spec.containerName, count: 200)
        return log.contains(BridgeServer.commandCannotStartMessage) ? "unhealthy" : "starting"
    }

    /// Works whatever state the deployment is in: missing, created, running, unhealthy, exited.
    public func status() async throws {
        guard let object = await inspect(.container, spec.containerName) else {
            print("\(spec.name): not running (image \(await client.succeeds(["docker", "image", "inspect", spec.imageTag]) ? "built" : "not built"))")
            return
        }
        let format = """
            image:    {{.Config.Image}}
            limits:   memory {{.HostConfig.Memory}} bytes, cpus {{.HostConfig.NanoCpus}} nano, pids {{.HostConfig.PidsLimit}}
            caps:     dropped {{.HostConfig.CapDrop}}, kept {{.HostConfig.CapAdd}} (bridge only)  read-only root: {{.HostConfig.ReadonlyRootfs}}
            network:  {{.HostConfig.NetworkMode}}
            """
        print("\(spec.name):")
        let health = await health(of: object).map { " (\($0))" } ?? ""
        print("state:    \(object.status ?? "unknown")\(health)\(object.startedAt.map { " since \($0)" } ?? "")")
        print("runtime:  \(object.runtime.flatMap { $0.isEmpty ? nil : $0 } ?? "runc")")
        print("user:     front \(DeploymentSpec.containerUser) (bridge\(spec.exposure == .local ? "" : ", \(spec.exposure.rawValue)"), secrets), server \(DeploymentSpec.serverUser) (no capability)")
        if let details = try? await client.capture(["docker", "inspect", "--format", format, spec.containerName]) {
            print(details, terminator: "")
        }
        if spec.usesIngressRelay {
            let ingress = await state(of: spec.ingressContainerName) ?? "missing"
            print("ingress:  \(spec.ingressContainerName) \(ingress) (relays the published port to the server's socket)")
        }
        if let endpoint = commands.endpoint { print("endpoint: \(endpoint)") }
        if object.status == "running", let fingerprint = await tlsFingerprint() { print("tls sha256: \(fingerprint)") }
    }

    /// The SHA-256 fingerprint of the certificate the nginx front serves, read inside the container.
    public func tlsFingerprint() async -> String? {
        guard spec.exposure == .nginx else { return nil }
        // As the front user: the certificate's folder is the front's alone.
        let output = try? await client.capture(["docker", "exec", "--user", DeploymentSpec.containerUser, spec.containerName,
                                                "/etc/mcp-sandbox/nginx/fingerprint"])
        return output?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Removes every container, network and volume of the deployment that exists and is ours,
    /// and its generated files; says exactly what it removed.
    public func down(removeImage: Bool) async throws {
        for name in everyContainerName { try await ensureOurs(.container, name) }
        for name in everyNetworkName { try await ensureOurs(.network, name) }
        for name in everyVolumeName { try await ensureOurs(.volume, name) }
        var removed: [String] = []
        for name in everyContainerName.reversed() where await exists(.container, name) {
            try await client.capture(["docker", "rm", "--force", name])
            removed.append("container \(name)")
        }
        for network in everyNetworkName where await exists(.network, network) {
            try await client.capture(["docker", "network", "rm", network])
            removed.append("network \(network)")
        }
        for volume in everyVolumeName where await exists(.volume, volume) {
            try await client.capture(["docker", "volume", "rm", volume])
            removed.append("volume \(volume)")
        }
        if removeImage, await client.succeeds(["docker", "image", "inspect", spec.imageTag]) {
            try await client.capture(["docker", "image", "rm", spec.imageTag])
            removed.append("image \(spec.imageTag)")
        }
        if FileManager.default.fileExists(atPath: workspace.stateDirectory.path) {
            try? FileManager.default.removeItem(at: workspace.stateDirectory)
            removed.append("generated files \(workspace.stateDirectory.path)")
        }
        print(removed.isEmpty ? "Nothing to remove for \(spec.name)." : "Removed \(removed.joined(separator: ", ")).")
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
