import ArgumentParser
import Foundation
import SandboxBuilder

@main
struct BuilderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "builder",
        abstract: "Turn one .env into a sandboxed, hardened, token-protected MCP server container.",
        discussion: "Typical use: builder init, edit .env, builder build, builder start, builder status.",
        subcommands: [Init.self, Build.self, Start.self, Stop.self, Restart.self, Status.self, Logs.self, Down.self, Doctor.self, Print.self, ClientConfig.self, Serve.self]
    )
}

/// Options every command that reads the deployment shares.
struct DeploymentOptions: ParsableArguments {
    @Option(name: .customLong("env-file"), help: ArgumentHelp("The deployment's settings.", valueName: "path"))
    var envFile = ".env"

    func load() throws -> Workspace {
        try Workspace(envFile: envFile)
    }
}

/// Options for how the image is put together.
struct ImageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Copy this host-built mcp-bridge into the image instead of compiling it there (glibc/slim bases only).", valueName: "path"))
    var bridgeBinary: String?

    @Option(help: ArgumentHelp("Install Python wheels from this folder offline instead of from PyPI.", valueName: "path"))
    var wheelhouse: String?

    @Option(help: ArgumentHelp("The mcp-sandbox checkout holding the bridge sources (found automatically next to this program).", valueName: "path"))
    var sourceRoot: String?

    func context(for workspace: Workspace) -> BuildContext {
        BuildContext(
            directory: workspace.stateDirectory.appendingPathComponent("context"),
            spec: workspace.spec,
            sourceRoot: sourceRoot.map { URL(fileURLWithPath: $0) } ?? Workspace.locateSourceRoot(),
            bridgeBinary: bridgeBinary.map { URL(fileURLWithPath: $0) },
            wheelhouse: wheelhouse.map { URL(fileURLWithPath: $0) })
    }
}

extension BuilderCommand {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write .env from the documented template with a fresh random token.")

        @Option(name: .customLong("env-file"), help: ArgumentHelp("Where to write.", valueName: "path"))
        var envFile = ".env"

        @Flag(help: "Overwrite an existing file.")
        var force = false

        func run() async throws {
            if FileManager.default.fileExists(atPath: envFile), !force {
                throw ValidationError("\(envFile) already exists; pass --force to replace it (its token would change).")
            }
            let created = FileManager.default.createFile(
                atPath: envFile, contents: Data(EnvTemplate.withToken(EnvTemplate.generateToken()).utf8),
                attributes: [.posixPermissions: 0o600])
            guard created else { throw ValidationError("cannot write \(envFile)") }
            print("Wrote \(envFile) (mode 600) with a new MCP_AUTH_TOKEN. Edit it, then: builder build && builder start")
        }
    }

    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate the Dockerfile and build the image.")
        @OptionGroup var deployment: DeploymentOptions
        @OptionGroup var image: ImageOptions

        func run() async throws {
            let workspace = try deployment.load()
            try await ImageBuild(workspace: workspace, context: image.context(for: workspace)).run()
            print("Built \(workspace.spec.imageTag). Next: builder start")
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the container with hardened flags and wait until it is healthy.")
        @OptionGroup var deployment: DeploymentOptions

        @Option(help: ArgumentHelp("How long to wait for the container to become healthy.", valueName: "seconds"))
        var timeout = 90

        func run() async throws {
            try await Deployer(workspace: try deployment.load()).start(timeout: .seconds(timeout))
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop and remove the container (image, network and volumes stay).")
        @OptionGroup var deployment: DeploymentOptions

        func run() async throws {
            try await Deployer(workspace: try deployment.load()).stop()
        }
    }

    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop, then start again (picks up .env changes that need no rebuild).")
        @OptionGroup var deployment: DeploymentOptions

        func run() async throws {
            let deployer = Deployer(workspace: try deployment.load())
            try await deployer.stop()
            try await deployer.start(timeout: .seconds(90))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show state, health, endpoint and limits.")
        @OptionGroup var deployment: DeploymentOptions

        func run() async throws {
            try await Deployer(workspace: try deployment.load()).status()
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the container's logs (bridge and server).")
        @OptionGroup var deployment: DeploymentOptions

        @Flag(name: [.short, .long], help: "Keep following new lines.")
        var follow = false

        @Option(help: "How many recent lines to show.")
        var tail = "200"

        @Flag(help: "Show the ingress relay's logs instead (MCP_NETWORK none or internal).")
        var ingress = false

        func run() async throws {
            let spec = try deployment.load().spec
            if ingress, !spec.usesIngressRelay {
                throw ValidationError("MCP_NETWORK=\(spec.network.rawValue) has no ingress container.")
            }
            var argv = ["docker", "logs", "--tail", tail]
            if follow { argv.append("--follow") }
            try await DockerClient().stream(argv + [ingress ? spec.ingressContainerName : spec.containerName])
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the container, network, volumes and generated files.")
        @OptionGroup var deployment: DeploymentOptions

        @Flag(help: "Also remove the image.")
        var image = false

        func run() async throws {
            try await Deployer(workspace: try deployment.load()).down(removeImage: image)
        }
    }

    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check docker, gVisor and the .env.")
        @OptionGroup var deployment: DeploymentOptions

        func run() async throws {
            let healthy = await SandboxBuilder.Doctor.report(envFile: deployment.envFile)
            if !healthy { throw ExitCode(1) }
        }
    }

    struct ClientConfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "client-config",
            abstract: "Print (or --write) the MCP client configuration for the running deployment.",
            discussion: "HTTP entries carry the Authorization header; connect entries launch mcp-bridge connect with the URL, token and fingerprint in the client's env block (never as arguments)."
        )
        @OptionGroup var deployment: DeploymentOptions

        @Option(help: "claude-desktop | claude-code | vscode | cursor | json")
        var client: ClientKind

        @Option(help: "connect (stdio through mcp-bridge connect) or http (the client's own Streamable HTTP). Default: http where the client has it and the certificate needs no pin.")
        var via: ClientEntry.Route?

        @Option(help: ArgumentHelp("The endpoint to use instead of the published port, e.g. a tunnel's https://…/mcp.", valueName: "url"))
        var url: String?

        @Option(help: ArgumentHelp("Pin this certificate fingerprint instead of reading it from the running front.", valueName: "sha256"))
        var fingerprint: String?

        @Option(help: ArgumentHelp("The mcp-bridge that connect entries launch (default: the one beside builder, else on PATH).", valueName: "path"))
        var bridge: String?

        @Flag(help: "Merge the entry into the client's configuration file (a backup is kept; other entries stay byte for byte).")
        var write = false

        @Option(name: .customLong("config"), help: ArgumentHelp("The configuration file --write edits instead of the client's usual one.", valueName: "path"))
        var configFile: String?

        func run() async throws {
            var request = ClientConfigRequest(client: client)
            request.route = via
            request.url = url
            request.fingerprint = fingerprint
            request.bridgePath = bridge
            request.write = write
            request.configFile = configFile
            do {
                try await request.run(workspace: try deployment.load(), output: { print($0, terminator: "") },
                                      note: { FileHandle.standardError.write(Data(("builder: " + $0 + "\n").utf8)) })
            } catch let failure as ClientConfigRequest.Failure {
                throw ValidationError(failure.description)
            } catch let failure as ClientConfigFile.Failure {
                throw ValidationError(failure.description)
            }
        }
    }

    struct Print: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dry run: print exactly what would be used (dockerfile, run, nginx, tunnel), or the Kubernetes manifests.",
            discussion: "builder print kubernetes writes every manifest to stdout; with --kustomize DIR it writes a kustomize base instead (kubectl apply -k DIR).")
        @OptionGroup var deployment: DeploymentOptions
        @OptionGroup var image: ImageOptions

        @Argument(help: "dockerfile | run | nginx | tunnel | kubernetes")
        var what: Printable

        @OptionGroup(title: "Kubernetes") var kubernetes: KubernetesArguments

        enum Printable: String, ExpressibleByArgument, CaseIterable {
            case dockerfile, run, nginx, tunnel, kubernetes
        }

        func validate() throws {
            if what != .kubernetes, let flag = kubernetes.given.first {
                throw ValidationError("\(flag) applies to builder print kubernetes only")
            }
        }

        func run() async throws {
            let workspace = try deployment.load()
            switch what {
            case .dockerfile:
                print(image.context(for: workspace).dockerfile, terminator: "")
            case .run:
                let commands = DockerCommands(spec: workspace.spec)
                let gVisor = try await RuntimeChoice.useGVisor(workspace.spec.containerRuntime, needsHostSockets: workspace.spec.usesIngressRelay,
                                                               client: DockerClient())
                for argv in [commands.createNetwork, commands.createInternalNetwork, commands.createVolume, commands.createIngressVolume,
                             commands.createSecretsVolume, commands.writeSecrets].compactMap({ $0 }) {
                    print(ShellQuoting.join(argv))
                }
                print("# ^ standard input: the secrets file (NUL-separated NAME=VALUE) for \(commands.secretEnvironment.keys.sorted().joined(separator: " "))")
                for argv in [commands.run(useGVisor: gVisor), commands.runIngress(useGVisor: gVisor)].compactMap({ $0 }) {
                    print(ShellQuoting.join(argv))
                }
            case .kubernetes:
                try kubernetes.render(workspace: workspace)
            case .nginx, .tunnel:
                let files = FrontFiles(spec: workspace.spec).files.filter { $0.0.hasPrefix(what == .nginx ? "nginx/" : "tunnel/") }
                guard !files.isEmpty else {
                    throw ValidationError("MCP_EXPOSE=\(workspace.spec.exposure.rawValue) uses no \(what.rawValue) configuration")
                }
                for (path, file) in files { print("# \(path)\n\(file.text)") }
            }
        }
    }
}

extension ClientKind: ExpressibleByArgument {}
extension ClientEntry.Route: ExpressibleByArgument {}
