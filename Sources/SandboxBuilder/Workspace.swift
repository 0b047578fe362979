import Foundation

/// A deployment as found on disk: its `.env`, the validated spec, and the state folder
/// (`.mcp-sandbox/<name>/` beside the `.env`) that holds generated files.
public struct Workspace: Sendable {
    public var envFile: URL
    /// The .env path as the user gave it, for messages.
    public var envPath: String
    public var spec: DeploymentSpec
    /// The line each variable was last set on in `envFile`.
    public var lines: [String: Int]

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(envFile path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        envFile = URL(fileURLWithPath: path)
        envPath = path
        guard let text = try? String(contentsOf: envFile, encoding: .utf8) else {
            throw LoadError(description: "cannot read \(path); create one with `builder init`")
        }
        let values: [String: String]
        do {
            values = try DotEnv.values(text, file: path, environment: environment)
            lines = try DotEnv.lines(text, file: path, environment: environment)
        } catch {
            throw LoadError(description: error.description)
        }
        let lines = self.lines
        do {
            spec = try DeploymentSpec(environment: values)
            spec.tlsCertificateFile = spec.tlsCertificateFile.map { Self.absolute($0, besides: envFile) }
            spec.tlsKeyFile = spec.tlsKeyFile.map { Self.absolute($0, besides: envFile) }
        } catch {
            throw LoadError(description: "\(path) has problems:\n" + error.problems.map { problem in
                // Where the value came from: its line, or the file when the variable is not set.
                "  \(path)" + (lines[problem.variable].map { ":\($0)" } ?? "") + ": \(problem)"
            }.joined(separator: "\n"))
        }
    }

    /// Relative paths in the .env are taken from its folder (docker would read a relative
    /// path as a volume name).
    static func absolute(_ path: String, besides envFile: URL) -> String {
        path.hasPrefix("/") ? path : envFile.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL.path
    }

    /// The files the .env names (the TLS pair) must be readable before anything starts.
    public func checkFiles() throws {
        for (variable, path) in [("MCP_TLS_CERT_FILE", spec.tlsCertificateFile), ("MCP_TLS_KEY_FILE", spec.tlsKeyFile)] {
            guard let path, !FileManager.default.isReadableFile(atPath: path) else { continue }
            throw LoadError(description: "\(origin(of: variable)): \(variable): no readable file at \(path); fix the path or remove the setting")
        }
    }

    /// `FILE:LINE` where `variable` was set, or the file when it was not.
    public func origin(of variable: String) -> String {
        envPath + (lines[variable].map { ":\($0)" } ?? "")
    }

    public var stateDirectory: URL {
        envFile.deletingLastPathComponent().appendingPathComponent(".mcp-sandbox").appendingPathComponent(spec.name)
    }

    /// This program's own file (through /proc on Linux, argv[0] elsewhere).
    static var runningExecutable: URL {
        URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    }

    /// The mcp-sandbox checkout this program was built from: the nearest folder above the
    /// executable whose Package.swift names the package `mcp-sandbox`.
    public static func locateSourceRoot() -> URL? {
        var directory = runningExecutable.deletingLastPathComponent()
        while directory.path != "/" {
            let manifest = directory.appendingPathComponent("Package.swift")
            if let text = try? String(contentsOf: manifest, encoding: .utf8), text.contains(#"name: "mcp-sandbox""#) {
                return directory
            }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }
}

/// Shell-style quoting for showing argv to people (never for running anything).
public enum ShellQuoting {
    public static func join(_ argv: [String]) -> String {
        argv.map(quote).joined(separator: " ")
    }

    static func quote(_ word: String) -> String {
        let safe = word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:=@,+%".contains($0)) }
        if safe, !word.isEmpty { return word }
        return "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}

/// Whether to run under gVisor: `auto` uses `runsc` when docker has it.
public enum RuntimeChoice {
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String = "MCP_CONTAINER_RUNTIME=runsc, but docker has no runsc runtime (see `builder doctor`)") {
            self.description = description
        }
    }

    /// How docker runs runsc: `nil` when it has no runsc runtime, else its runtime arguments.
    public static func gVisorArguments(client: DockerClient) async -> [String]? {
        guard let text = try? await client.capture(["docker", "info", "--format", "{{json .Runtimes}}"]),
              let runtimes = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let runsc = runtimes["runsc"] as? [String: Any]
        else { return nil }
        return (runsc["runtimeArgs"] as? [String]) ?? []
    }

    /// With MCP_NETWORK none or internal two gVisor sandboxes share a Unix socket through a
    /// volume, which runsc allows only with host sockets enabled.
    public static func sharesHostSockets(_ arguments: [String]) -> Bool {
        arguments.contains { ["--host-uds=all", "-host-uds=all", "--host-uds=create", "-host-uds=create"].contains($0) }
            && !arguments.contains { $0.hasSuffix("host-uds=none") }
    }

    public static func useGVisor(_ choice: DeploymentSpec.ContainerRuntime, needsHostSockets: Bool = false,
                                 client: DockerClient) async throws -> Bool {
        guard choice != .runc else { return false }
        guard let arguments = await gVisorArguments(client: client) else {
            if choice == .runsc { throw Unavailable() }
            return false
        }
        if needsHostSockets, !sharesHostSockets(arguments) {
            let advice = "register runsc with \"runtimeArgs\": [..., \"--host-uds=all\"] in /etc/docker/daemon.json and reload dockerd"
            if choice == .runsc {
                throw Unavailable("MCP_NETWORK=none/internal under gVisor needs runsc to share Unix sockets: \(advice), or set MCP_CONTAINER_RUNTIME=runc")
            }
            print("warning: gVisor cannot share the ingress socket (no --host-uds=all); running under runc. To use gVisor: \(advice)")
            return false
        }
        return true
    }
}
