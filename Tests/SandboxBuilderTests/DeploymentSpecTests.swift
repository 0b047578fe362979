import Foundation
import Testing

@testable import SandboxBuilder

@Suite struct DeploymentSpecTests {
    static let valid: [String: String] = [
        "MCP_NAME": "time", "MCP_SERVER_RUNTIME": "python", "MCP_SERVER_PACKAGE": "mcp-server-time==2026.10.10",
        "MCP_AUTH_TOKEN": String(repeating: "a", count: 32),
        "SERVER_ENV_API_KEY": "multi\nline \"secret\"", "BUILD_ARG_PIP_INDEX_URL": "https://mirror.example/simple",
    ]

    @Test func defaultsAreSafe() throws {
        let spec = try DeploymentSpec(environment: Self.valid)
        #expect(spec.base == .slim && spec.baseImage == "python:3.12-slim-bookworm")
        #expect(spec.command == ["mcp-server-time"])
        #expect(spec.publishAddress == "127.0.0.1" && spec.hostPort == 8000)
        #expect(spec.network == .isolated && spec.memory == "512m" && spec.pids == 128)
        #expect(spec.serverEnvironment == ["API_KEY": "multi\nline \"secret\""])
        #expect(spec.buildArguments == ["PIP_INDEX_URL": "https://mirror.example/simple"])
    }

    @Test func upstreamImagesAreTheDefaultsAndCanBeOverridden() throws {
        #expect(DeploymentSpec.defaultBaseImage(runtime: .node, base: .alpine) == "node:22-alpine")
        #expect(DeploymentSpec.defaultBaseImage(runtime: .python, base: .alpine) == "python:3.12-alpine")
        var values = Self.valid
        values["MCP_BASE_IMAGE"] = "registry.local/python@sha256:abc"
        #expect(try DeploymentSpec(environment: values).baseImage == "registry.local/python@sha256:abc")
    }

    @Test func anUnknownSettingIsRefusedWithTheNearestName() {
        var values = Self.valid
        values["MCP_PINGY_PORT"] = "22"
        values["MCP_SOMETHING_ELSE"] = "1"
        #expect(throws: DeploymentSpec.ProblemList.self) { try DeploymentSpec(environment: values) }
        do {
            _ = try DeploymentSpec(environment: values)
        } catch {
            #expect(error.problems.map(\.variable) == ["MCP_PINGY_PORT", "MCP_SOMETHING_ELSE"])
            #expect(error.problems[0].message.contains("did you mean MCP_PINGGY_PORT?"))
            #expect(!error.problems[1].message.contains("did you mean"))
        }
        // Every name the template documents is accepted.
        #expect(EnvTemplate.documentedSettings.contains("MCP_PINGGY_HOST_KEY") && EnvTemplate.documentedSettings.count > 20)
        var all = Self.valid
        for name in EnvTemplate.documentedSettings where all[name] == nil { all[name] = "" }
        #expect(throws: Never.self) { try DeploymentSpec(environment: all) }
    }

    @Test func everyProblemIsReportedAtOnce() {
        let values = ["MCP_NAME": "Bad Name", "MCP_SERVER_RUNTIME": "ruby", "MCP_PORT": "99999", "MCP_MEMORY": "lots",
                      "MCP_SERVER_PACKAGE": "mcp-server-time", "MCP_AUTH_TOKEN": "short", "SERVER_ENV_MCP_BRIDGE_TOKEN": "x"]
        do {
            _ = try DeploymentSpec(environment: values)
            Issue.record("accepted a broken .env")
        } catch {
            let variables = Set(error.problems.map(\.variable))
            #expect(variables.isSuperset(of: ["MCP_NAME", "MCP_SERVER_RUNTIME", "MCP_PORT", "MCP_MEMORY", "MCP_AUTH_TOKEN", "SERVER_ENV_MCP_BRIDGE_TOKEN"]))
        }
    }

    @Test(arguments: ["SERVER_ENV_NGROK_AUTHTOKEN", "SERVER_ENV_PINGGY_TOKEN", "SERVER_ENV_MCP_AUTH_TOKEN", "SERVER_ENV_MCP_SANDBOX_RUN_DIR", "SERVER_ENV_1BAD", "SERVER_ENV_A-B"])
    func serverVariablesThatTheFrontOwnsOrThatAreNotNamesAreRefused(key: String) {
        var values = Self.valid
        values[key] = "x"
        #expect(throws: DeploymentSpec.ProblemList.self) { try DeploymentSpec(environment: values) }
        do {
            _ = try DeploymentSpec(environment: values)
        } catch {
            #expect(error.problems.map(\.variable) == [key])
        }
    }

    @Test(arguments: ["mcp-server-time", "mcp-server-time>=1.0", "mcp-server-time==", "git+https://x/y"])
    func unpinnedPythonPackagesAreRefused(package: String) {
        var values = Self.valid
        values["MCP_SERVER_PACKAGE"] = package
        #expect(throws: DeploymentSpec.ProblemList.self) { try DeploymentSpec(environment: values) }
    }

    @Test func pinnedSpecsAreRecognised() {
        #expect(DeploymentSpec.isPinnedPythonRequirement("mcp-server-git==2026.10.10"))
        #expect(DeploymentSpec.isPinnedPythonRequirement("pkg[extra]==1.0"))
        #expect(DeploymentSpec.isPinnedNPMSpec("@modelcontextprotocol/server-filesystem@2025.8.21"))
        #expect(!DeploymentSpec.isPinnedNPMSpec("@modelcontextprotocol/server-filesystem"))
        #expect(!DeploymentSpec.isPinnedNPMSpec("pkg@latest"))
    }

    @Test func envTemplateMatchesTheCommittedExampleAndIsAValidDeploymentOnceTokenized() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = root.appendingPathComponent(".env.example")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" { try EnvTemplate.text.write(to: example, atomically: true, encoding: .utf8) }
        let committed = try String(contentsOf: example, encoding: .utf8)
        #expect(committed == EnvTemplate.text)
        let token = EnvTemplate.generateToken()
        #expect(token.count == 64)
        let spec = try DeploymentSpec(environment: try DotEnv.values(EnvTemplate.withToken(token)))
        #expect(spec.authToken == token)
        #expect(spec.command == ["mcp-server-time", "--local-timezone", "UTC"])
    }
}
