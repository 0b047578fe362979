import Foundation
import Testing

@testable import SandboxBuilder

/// The committed `tunnels/` folder holds the start scripts the builder puts in tunnel images.
@Suite struct TunnelFrontTests {
    static let folder = NginxFrontTests.folder.deletingLastPathComponent().appendingPathComponent("tunnels")

    @Test(arguments: [("pinggy", TunnelFront.pinggyScript), ("ngrok", TunnelFront.ngrokScript)])
    func committedScriptsEqualTheRenderedOnes(name: String, script: String) throws {
        let file = Self.folder.appendingPathComponent(name).appendingPathComponent("start")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try script.write(to: file, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == script, "tunnels/\(name)/start is stale: run the tests with UPDATE_GOLDEN=1")
    }

    @Test func tunnelSecretsTravelInTheSecretsFileAndNoPortIsPublished() throws {
        let values = DeploymentSpecTests.valid.merging(["MCP_EXPOSE": "ngrok", "MCP_NGROK_AUTHTOKEN": "ngrok-secret-123"]) { $1 }
        let commands = DockerCommands(spec: try DeploymentSpec(environment: values))
        let argv = commands.run(useGVisor: false)
        #expect(!argv.contains("--publish"))
        #expect(!argv.contains { $0.contains("ngrok-secret-123") } && !commands.writeSecrets.contains { $0.contains("ngrok-secret-123") })
        #expect(String(decoding: commands.secretsFile, as: UTF8.self).contains("NGROK_AUTHTOKEN=ngrok-secret-123\0"))
        #expect(commands.secretEnvironment["NGROK_AUTHTOKEN"] == "ngrok-secret-123")
        #expect(throws: DeploymentSpec.ProblemList.self) {
            try DeploymentSpec(environment: DeploymentSpecTests.valid.merging(["MCP_EXPOSE": "ngrok"]) { $1 })
        }
    }
}
