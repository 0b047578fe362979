import Foundation
import SandboxBuilder

/// The docker side of the service: every object it makes carries the service's label
/// (`org.mcp-sandbox.service=<id>`) besides the deployment's, so reconciling finds exactly its
/// own objects and never touches a `builder start` deployment or another service's.
struct ServiceDocker: Sendable {
    let client = DockerClient()
    let serviceID: String

    static let serviceLabelKey = "org.mcp-sandbox.service"
    static let deploymentLabelKey = "org.mcp-sandbox.deployment"
    var serviceLabel: String { "\(Self.serviceLabelKey)=\(serviceID)" }

    /// One docker object of the service: what it is, its name and its deployment's docker name.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Object: Sendable, Hashable {
        var kind: String
        var name: String
        var deployment: String
    }

    /// Every object with the service's label (containers, networks, volumes, images).
    func objects() async throws -> [Object] {
        let filter = ["--filter", "label=\(serviceLabel)"]
        let label = "{{.Label \"\(Self.deploymentLabelKey)\"}}"
        var objects: [Object] = []
        let listings: [(String, [String])] = [
            ("container", ["docker", "container", "ls", "--all", "--no-trunc"] + filter + ["--format", "{{.Names}}\t\(label)"]),
            ("network", ["docker", "network", "ls"] + filter + ["--format", "{{.Name}}\t\(label)"]),
            ("volume", ["docker", "volume", "ls"] + filter + ["--format", "{{.Name}}\t\(label)"]),
        ]
        for (kind, argv) in listings {
            for line in try await client.capture(argv).split(separator: "\n") {
                let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard parts.count == 2 else { continue }
                objects.append(Object(kind: kind, name: String(parts[0]), deployment: String(parts[1])))
            }
        }
        // Images: the tag names the deployment (mcp-sandbox/<docker name>:latest). An untagged one
        // (superseded, or left by a build cut short) belongs to no deployment and is garbage.
        for line in try await client.capture(["docker", "image", "ls"] + filter + ["--format", "{{.ID}}\t{{.Repository}}:{{.Tag}}"]).split(separator: "\n") {
            let parts = line.split(separator: "\t")
            guard parts.count == 2 else { continue }
            let reference = String(parts[1])
            if reference.hasPrefix("mcp-sandbox/"), reference.hasSuffix(":latest") {
                let deployment = String(reference.dropFirst("mcp-sandbox/".count).dropLast(":latest".count))
                objects.append(Object(kind: "image", name: reference, deployment: deployment))
            } else {
                objects.append(Object(kind: "image", name: String(parts[0]), deployment: ""))
            }
        }
        return objects
    }

    /// Removes every object of one deployment (containers first); returns what could not be removed.
    @discardableResult
    func removeAll(deployment dockerName: String) async -> [String] {
        let objects = ((try? await objects()) ?? []).filter { $0.deployment == dockerName }
        return await remove(objects)
    }

    @discardableResult
    func remove(_ objects: [Object]) async -> [String] {
        var left: [String] = []
        let order = ["container", "network", "volume", "image"]
        for kind in order {
            for object in objects where object.kind == kind {
                let argv: [String] = switch kind {
                case "container": ["docker", "container", "rm", "--force", "--volumes", object.name]
                case "image": ["docker", "image", "rm", "--force", object.name]
                default: ["docker", kind, "rm", object.name]
                }
                if (try? await client.capture(argv)) == nil { left.append("\(kind) \(object.name)") }
            }
        }
        return left
    }

    /// `docker build` of the deployment's image, each output line reported as it comes.
    /// A failed build says why: its last lines of output.
    func build(_ commands: DockerCommands, context: URL, progress: @Sendable (String) async -> Void) async throws {
        var pending: [UInt8] = []
        var last: [String] = []
        do {
            try await client.forEachChunk(commands.build(contextDirectory: context.path)) { chunk in
                pending += chunk
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespaces).prefix(300))
                    pending.removeSubrange(...newline)
                    guard !line.isEmpty else { continue }
                    last = Array((last + [line]).suffix(15))
                    await progress(line)
                }
                if pending.count > 64 * 1024 { pending.removeAll() }
            }
        } catch let failure as DockerClient.Failure {
            throw Failure(description: "the image build failed (\(failure.status)); its last lines:\n" + last.joined(separator: "\n"))
        }
    }

    /// Networks, volumes, the secrets file and the containers, with the same hardened flags as
    /// `builder start` (DockerCommands). Objects already made are removed by the caller on failure.
    func launch(_ commands: DockerCommands, useGVisor: Bool) async throws {
        for argv in [commands.createNetwork, commands.createInternalNetwork, commands.createIngressVolume, commands.createSecretsVolume] {
            if let argv { try await client.capture(argv) }
        }
        try await client.capture(commands.writeSecrets, standardInput: commands.secretsFile)
        try await client.capture(commands.run(useGVisor: useGVisor))
        if let ingress = commands.runIngress(useGVisor: useGVisor) { try await client.capture(ingress) }
    }

    /// The deployment's containers: the server first, then its ingress if it has one.
    /// One filtered listing (not `objects()`, which asks docker four times): this runs in the
    /// wake path, every 50 ms until the published port is known.
    func containers(of dockerName: String) async throws -> [String] {
        let names = try await client.capture([
            "docker", "container", "ls", "--all", "--filter", "label=\(serviceLabel)",
            "--filter", "label=\(Self.deploymentLabelKey)=\(dockerName)", "--format", "{{.Names}}",
        ]).split(separator: "\n").map(String.init)
        return names.sorted { !$0.hasSuffix("-ingress") && $1.hasSuffix("-ingress") }
    }

    func start(_ dockerName: String) async throws {
        let names = try await containers(of: dockerName)
        guard !names.isEmpty else { throw Failure(description: "the deployment's containers are gone") }
        try await client.capture(["docker", "start"] + names)
    }

    /// The ingress first, so no client reaches a server that is going away.
    func stop(_ dockerName: String) async throws {
        for name in try await containers(of: dockerName).reversed() {
            try await client.capture(["docker", "stop", "--time", "5", name])
        }
    }

    /// `running`, `exited`, …, of the container that publishes the port; nil when it is gone.
    func state(of dockerName: String) async -> String? {
        guard let name = try? await containers(of: dockerName).last,
              let text = try? await client.capture(["docker", "container", "inspect", "--format", "{{.State.Status}}", name]) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The host port docker published on 127.0.0.1 (it changes at every start).
    func publishedPort(of dockerName: String) async throws -> Int {
        guard let name = try await containers(of: dockerName).last else {
            throw Failure(description: "the deployment has no container")
        }
        let text = try await client.capture(["docker", "port", name, "\(DeploymentSpec.bridgePort)/tcp"])
        for line in text.split(separator: "\n") {
            if let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...]) { return port }
        }
        throw Failure(description: "docker publishes no port for \(name): \(text)")
    }

    func logs(of dockerName: String, follow: Bool, tail: Int, _ chunk: ([UInt8]) async throws -> Void) async throws {
        guard let name = try await containers(of: dockerName).first else { return }
        try await client.forEachChunk(["docker", "logs", "--tail", String(tail)] + (follow ? ["--follow"] : []) + [name], chunk)
    }
}
