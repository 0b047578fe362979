import Foundation
import Testing

@testable import SandboxBuilder

/// The committed `nginx/` folder is what the builder puts in nginx images (UPDATE_GOLDEN=1 rewrites it).
@Suite struct NginxFrontTests {
    static let folder = DockerfileGoldenTests.dockerFolder.deletingLastPathComponent().appendingPathComponent("nginx")

    @Test func committedNginxFilesEqualTheRenderedOnes() throws {
        let spec = try DeploymentSpec(environment: DeploymentSpecTests.valid.merging(["MCP_EXPOSE": "nginx"]) { $1 })
        let files = FrontFiles(spec: spec).files
        #expect(files.map(\.0) == ["nginx/nginx.conf", "nginx/start", "nginx/fingerprint"])
        for (path, file) in files {
            let committed = Self.folder.deletingLastPathComponent().appendingPathComponent(path)
            if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
                try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
                try file.text.write(to: committed, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: file.executable ? 0o755 : 0o644], ofItemAtPath: committed.path)
            }
            #expect(try String(contentsOf: committed, encoding: .utf8) == file.text, "\(path) is stale: run the tests with UPDATE_GOLDEN=1")
        }
    }

    @Test func configHoldsNoSecretAndGatesOnlyTheMCPPaths() {
        let config = NginxFront().config()
        #expect(config.contains("listen 8443 ssl;"))
        #expect(config.contains("ssl_protocols TLSv1.2 TLSv1.3;"))
        #expect(config.contains("include /run/mcp-sandbox/nginx/tokens.conf;"))
        #expect(config.contains("location ~ ^/(mcp|sse|message)$"))
        #expect(config.contains("proxy_buffering off;") && config.contains("proxy_request_buffering off;"))
        #expect(config.contains("client_max_body_size 16777216;"))
        #expect(config.contains("server_tokens off;"))
        #expect(!config.contains("$request ") && !config.contains("$args") && !config.contains("$http_authorization\""))
        #expect(!config.contains("user "))
    }

    @Test func nginxExposureKeepsTheBridgeOnLoopbackAndPublishesOnly8443() throws {
        let spec = try DeploymentSpec(environment: DeploymentSpecTests.valid.merging(["MCP_EXPOSE": "nginx", "MCP_PORT": "9443"]) { $1 })
        let argv = DockerCommands(spec: spec).run(useGVisor: false)
        #expect(argv.contains("127.0.0.1:9443:8443"))
        #expect(argv.contains("mcp-time-tls:/var/lib/mcp-sandbox/tls"))
        let entrypoint = DockerfileRenderer(spec: spec, bridgeSource: .compile).entrypoint
        #expect(Array(entrypoint[3...6]) == ["--host", "127.0.0.1", "--port", "8000"])
        #expect(entrypoint.contains("/etc/mcp-sandbox/nginx/start"))
        #expect(DockerCommands(spec: spec).endpoint == "https://127.0.0.1:9443/mcp")
    }
}
