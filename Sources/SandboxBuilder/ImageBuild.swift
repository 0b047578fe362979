import Foundation

/// `builder build`: checks, writes the build context, and runs the image build. Build secrets
/// go to BuildKit as a private file outside the context, removed whatever happens.
public struct ImageBuild: Sendable {
    public let workspace: Workspace
    public let context: BuildContext
    public let client = DockerClient()

    public init(workspace: Workspace, context: BuildContext) {
        self.workspace = workspace
        self.context = context
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public func run() async throws {
        let spec = workspace.spec
        let commands = DockerCommands(spec: spec)
        if let first = spec.buildSecrets.keys.sorted().first, !(await client.succeeds(["docker", "buildx", "version"])) {
            throw Failure(description: "\(workspace.origin(of: "BUILD_SECRET_\(first)")): BUILD_SECRET_\(first) needs BuildKit, and this Docker has no buildx plugin; install it (Docker's docker-buildx-plugin, or Debian's docker-buildx), or build without build secrets")
        }
        try context.write()
        print("Building \(spec.imageTag) (bridge: \(context.bridgeSource == .compile ? "compiled in the image" : "host binary"))")
        guard !spec.buildSecrets.isEmpty else {
            try await client.stream(commands.build(contextDirectory: context.directory.path))
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mcp-build-secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("secrets")
        guard FileManager.default.createFile(atPath: file.path, contents: Data(commands.buildSecretsFile.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure(description: "cannot write the build secrets file in \(folder.path)")
        }
        try await client.stream(commands.build(contextDirectory: context.directory.path, secretsFile: file.path))
    }
}
