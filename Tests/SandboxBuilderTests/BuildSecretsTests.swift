import Foundation
import Testing

@testable import SandboxBuilder

/// BUILD_ARG_* is public (history, command line); BUILD_SECRET_* reaches only the install step,
/// through a BuildKit secret file, and never a command line, the Dockerfile or a layer.
@Suite struct BuildSecretsTests {
    static var values: [String: String] {
        var values = DeploymentSpecTests.valid
        values["BUILD_ARG_PIP_INDEX_URL"] = nil
        values["BUILD_SECRET_PIP_INDEX_URL"] = "https://user:p'a$s\"w@pypi.internal/simple"
        values["BUILD_SECRET_NETRC"] = "machine x\nlogin y password $(id)"
        return values
    }

    @Test func secretsGoToAFileNamedOnTheCommandLineNeverTheirValues() throws {
        let spec = try DeploymentSpec(environment: Self.values)
        let commands = DockerCommands(spec: spec)
        let argv = commands.build(contextDirectory: "/ctx", secretsFile: "/private/secrets")
        #expect(Array(argv.prefix(3)) == ["docker", "buildx", "build"])
        #expect(argv.contains("id=build-secrets,src=/private/secrets"))
        #expect(!argv.joined(separator: " ").contains("pypi.internal") && !argv.joined(separator: " ").contains("password"))
        let dockerfile = DockerfileRenderer(spec: spec, bridgeSource: .hostBinary).render()
        #expect(dockerfile.contains("RUN --mount=type=secret,id=build-secrets,target=/run/secrets/build-secrets set -a; . /run/secrets/build-secrets; set +a; test -n"))
        #expect(!dockerfile.contains("pypi.internal"))
        // Without secrets: the plain builder and the committed Dockerfiles, no BuildKit needed.
        let plain = try DeploymentSpec(environment: DeploymentSpecTests.valid)
        #expect(Array(DockerCommands(spec: plain).build(contextDirectory: "/ctx").prefix(2)) == ["docker", "build"])
        #expect(!DockerfileRenderer(spec: plain, bridgeSource: .hostBinary).render().contains("--mount"))
    }

    @Test func theSecretsFileGivesTheShellEachValueExactly() throws {
        let spec = try DeploymentSpec(environment: Self.values)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mcp-secrets-\(UUID().uuidString)")
        try DockerCommands(spec: spec).buildSecretsFile.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        for (name, value) in spec.buildSecrets {
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/sh")
            shell.arguments = ["-c", "set -a; . \"$0\"; set +a; printf %s \"$\(name)\"", file.path]
            let output = Pipe()
            shell.standardOutput = output
            try shell.run()
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            shell.waitUntilExit()
            #expect(printed == value)
        }
    }

    @Test func buildArgumentsThatLookLikeCredentialsAreRefused() {
        for (name, value) in [("PIP_INDEX_URL", "https://user:secret@pypi.internal/simple"), ("GITHUB_TOKEN", "x"),
                              ("NPM_AUTH", "y"), ("DB_PASSWORD", "z")] {
            var values = DeploymentSpecTests.valid
            values["BUILD_ARG_\(name)"] = value
            do {
                _ = try DeploymentSpec(environment: values)
                Issue.record("accepted BUILD_ARG_\(name)")
            } catch {
                #expect(error.problems.map(\.variable) == ["BUILD_ARG_\(name)"])
                #expect(error.problems.first?.message.contains("BUILD_SECRET_\(name)") == true)
            }
        }
        var values = DeploymentSpecTests.valid
        values["BUILD_ARG_PIP_INDEX_URL"] = "https://mirror.example/simple"
        values["BUILD_ARG_NGROK_AGENT_SHA256"] = String(repeating: "a", count: 64)
        #expect((try? DeploymentSpec(environment: values)) != nil)
    }

    @Test func secretNamesThatWouldChangeTheInstallStepAreRefused() {
        for name in ["PATH", "LD_PRELOAD", "MCP_SERVER_PACKAGE", "1BAD"] {
            var values = DeploymentSpecTests.valid
            values["BUILD_SECRET_\(name)"] = "x"
            #expect((try? DeploymentSpec(environment: values)) == nil, "\(name)")
        }
    }
}
