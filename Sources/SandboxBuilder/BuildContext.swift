import Foundation

/// Lays out the directory `docker build` reads: the Dockerfile, the bridge (sources or a
/// host binary), and any offline Python wheels. Nothing secret is ever written here.
public struct BuildContext: Sendable {
    public var directory: URL
    public var spec: DeploymentSpec
    public var bridgeSource: DockerfileRenderer.BridgeSource
    /// The mcp-sandbox checkout, for compiling the bridge from source.
    public var sourceRoot: URL?
    /// A host-built `mcp-bridge` (glibc images only).
    public var bridgeBinary: URL?
    /// A folder of `.whl` files to install offline instead of from PyPI.
    public var wheelhouse: URL?

    public init(directory: URL, spec: DeploymentSpec, sourceRoot: URL?, bridgeBinary: URL?, wheelhouse: URL?) {
        self.directory = directory
        self.spec = spec
        self.sourceRoot = sourceRoot
        self.bridgeBinary = bridgeBinary
        self.wheelhouse = wheelhouse
        self.bridgeSource = bridgeBinary == nil ? .compile : .hostBinary
    }

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public var dockerfile: String {
        DockerfileRenderer(spec: spec, bridgeSource: bridgeSource).render()
    }

    /// Checks every path given on the command line before anything is written, so a typo gets
    /// a message naming the option instead of a Foundation error code.
    public func checkInputs() throws {
        let files = FileManager.default
        var isFolder: ObjCBool = false
        if let bridgeBinary {
            guard files.fileExists(atPath: bridgeBinary.path, isDirectory: &isFolder), !isFolder.boolValue,
                  let data = files.contents(atPath: bridgeBinary.path) else {
                throw Problem(description: "--bridge-binary: no readable file at \(bridgeBinary.path); build one with scripts/build-release")
            }
            let needed: [String]
            do {
                needed = try ELFLinkage.neededLibraries(Array(data))
            } catch {
                throw Problem(description: "--bridge-binary: \(bridgeBinary.path) is \(error); give the mcp-bridge that scripts/build-release makes")
            }
            let runtime = ELFLinkage.swiftRuntimeLibraries(in: needed)
            guard runtime.isEmpty else {
                let named = runtime.prefix(3).joined(separator: ", ") + (runtime.count > 3 ? " and \(runtime.count - 3) more" : "")
                throw Problem(description: "--bridge-binary: \(bridgeBinary.path) needs the Swift runtime (\(named)), which the image does not have (the container would restart in a loop); build it with --static-swift-stdlib, as scripts/build-release does")
            }
        }
        if let wheelhouse, !(files.fileExists(atPath: wheelhouse.path, isDirectory: &isFolder) && isFolder.boolValue) {
            throw Problem(description: "--wheelhouse: no folder at \(wheelhouse.path)")
        }
        if bridgeBinary == nil, let sourceRoot, !files.fileExists(atPath: sourceRoot.appendingPathComponent("Package.swift").path) {
            throw Problem(description: "--source-root: \(sourceRoot.path) holds no Package.swift; give the mcp-sandbox checkout")
        }
    }

    public func write() throws {
        try checkInputs()
        let files = FileManager.default
        if files.fileExists(atPath: directory.path) { try files.removeItem(at: directory) }
        try files.createDirectory(at: directory, withIntermediateDirectories: true)
        try dockerfile.write(to: directory.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)

        let bridge = directory.appendingPathComponent("bridge")
        try files.createDirectory(at: bridge, withIntermediateDirectories: true)
        if let bridgeBinary {
            if spec.base == .alpine {
                throw Problem(description: "--bridge-binary gives a glibc binary, which cannot run on the Alpine (musl) base; drop it to compile the bridge in the image, or use MCP_BASE=slim")
            }
            try files.copyItem(at: bridgeBinary, to: bridge.appendingPathComponent("mcp-bridge"))
        } else {
            guard let sourceRoot else {
                throw Problem(description: "compiling the bridge needs the mcp-sandbox sources: pass --source-root, or --bridge-binary for a host-built binary")
            }
            for item in ["Package.swift", "Sources", "Tests/MCPBridgeTests", "Tests/SandboxBuilderTests"] {
                let target = bridge.appendingPathComponent(item)
                try files.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try files.copyItem(at: sourceRoot.appendingPathComponent(item), to: target)
            }
        }

        let wheels = directory.appendingPathComponent("wheels")
        try files.createDirectory(at: wheels, withIntermediateDirectories: true)
        try "Python wheels placed here are installed offline.\n".write(to: wheels.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)
        if let wheelhouse {
            for name in try files.contentsOfDirectory(atPath: wheelhouse.path) where name.hasSuffix(".whl") {
                try files.copyItem(at: wheelhouse.appendingPathComponent(name), to: wheels.appendingPathComponent(name))
            }
        }
        for (folder, contents) in FrontFiles(spec: spec).files {
            let target = directory.appendingPathComponent(folder)
            try files.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try contents.text.write(to: target, atomically: true, encoding: .utf8)
            try files.setAttributes([.posixPermissions: contents.executable ? 0o755 : 0o644], ofItemAtPath: target.path)
        }
    }
}

/// Files the exposure needs inside the image (nginx configuration, tunnel start scripts).
public struct FrontFiles: Sendable {
    public struct File: Sendable {
        public var text: String
        public var executable: Bool
    }

    public var spec: DeploymentSpec

    public init(spec: DeploymentSpec) { self.spec = spec }

    /// Relative path in the build context → contents.
    public var files: [(String, File)] {
        switch spec.exposure {
        case .nginx:
            let nginx = NginxFront()
            return [
                ("nginx/nginx.conf", File(text: nginx.config(), executable: false)),
                ("nginx/start", File(text: nginx.startScript(), executable: true)),
                ("nginx/fingerprint", File(text: nginx.fingerprintScript(), executable: true)),
            ]
        case .pinggy:
            return [("tunnel/start", File(text: TunnelFront.pinggyScript, executable: true))]
        case .ngrok:
            return [("tunnel/start", File(text: TunnelFront.ngrokScript, executable: true))]
        case .local:
            return []
        }
    }
}
