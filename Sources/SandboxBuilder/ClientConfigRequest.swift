import Foundation

/// `builder client-config`: the running deployment as a client entry, printed or merged into the
/// client's configuration file.
public struct ClientConfigRequest: Sendable {
    public var client: ClientKind
    public var route: ClientEntry.Route?
    /// The endpoint to use instead of the published port (a tunnel's public URL).
    public var url: String?
    public var fingerprint: String?
    public var bridgePath: String?
    public var write = false
    public var configFile: String?

    public init(client: ClientKind) { self.client = client }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Prints the document (or merges it with `write`); what was done goes to stderr.
    public func run(workspace: Workspace, output: (String) -> Void, note: (String) -> Void) async throws {
        let entry = try await makeEntry(workspace: workspace)
        let route = self.route ?? entry.defaultRoute(for: client)
        let value: OrderedJSON
        do {
            value = try entry.value(for: client, route: route)
        } catch let unsupported as ClientEntry.Unsupported {
            throw Failure(description: unsupported.description)
        }
        guard write else {
            output(try entry.document(for: client, route: route))
            return
        }
        // $HOME first, as shells and the clients themselves resolve `~`.
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        guard let path = configFile.map({ URL(fileURLWithPath: $0) })
            ?? client.configurationFile(home: home, workingDirectory: here, environment: ProcessInfo.processInfo.environment)
        else {
            throw Failure(description: "--write needs a client with a configuration file (--client json only prints); or pass --config PATH")
        }
        let backup = try ClientConfigFile(path: path).merge(container: client.container, name: entry.name, value: value)
        note("wrote \"\(entry.name)\" (\(route == .http ? "Streamable HTTP" : "mcp-bridge connect")) into \(path.path)"
             + (backup.map { "; the previous file is \($0.path)" } ?? ""))
        let mode = (try? FileManager.default.attributesOfItem(atPath: path.path)[.posixPermissions] as? Int) ?? 0o600
        if mode & 0o077 != 0 {
            note("warning: \(path.path) now holds the deployment's bearer token and others can read it (mode \(String(mode, radix: 8))); chmod 600 it")
        } else {
            note("the file now holds the deployment's bearer token: keep it private")
        }
    }

    func makeEntry(workspace: Workspace) async throws -> ClientEntry {
        let spec = workspace.spec
        if let url, !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            throw Failure(description: "--url: expected the endpoint as http(s)://HOST[:PORT]/mcp, got \(url)")
        }
        if let fingerprint, fingerprint.filter({ $0 != ":" }).count != 64 || !fingerprint.filter({ $0 != ":" }).allSatisfy(\.isHexDigit) {
            throw Failure(description: "--fingerprint: expected 64 hex digits (colons allowed) as builder start prints them, got \(fingerprint)")
        }
        let deployer = Deployer(workspace: workspace)
        guard let url = url ?? DockerCommands(spec: spec).endpoint else {
            throw Failure(description: "MCP_EXPOSE=\(spec.exposure.rawValue) publishes no port here: pass the tunnel's public endpoint with --url https://…/mcp")
        }
        var pin = fingerprint
        if pin == nil, self.url == nil, spec.exposure == .nginx {
            pin = await deployer.tlsFingerprint()
            guard pin != nil else {
                throw Failure(description: "\(spec.containerName) is not running, so its TLS fingerprint is unknown: run builder start first, or pass --fingerprint")
            }
        }
        let bridge = bridgePath ?? Self.locateBridge()
        return ClientEntry(name: spec.name, url: url, token: spec.authToken, fingerprint: pin, bridgePath: bridge)
    }

    /// `mcp-bridge` beside this builder (same build folder or install prefix), else by name on PATH.
    static func locateBridge() -> String {
        let sibling = Workspace.runningExecutable.deletingLastPathComponent().appendingPathComponent("mcp-bridge")
        return FileManager.default.isExecutableFile(atPath: sibling.path) ? sibling.path : "mcp-bridge"
    }
}
