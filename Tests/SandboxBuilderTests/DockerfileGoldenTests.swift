import Foundation
import Testing

@testable import SandboxBuilder

/// The committed `docker/` folder is the renderer's output, file for file. Run the tests with
/// UPDATE_GOLDEN=1 to rewrite it after changing the renderer.
@Suite struct DockerfileGoldenTests {
    static let dockerFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docker")

    static var renderers: [DockerfileRenderer] {
        DeploymentSpec.Runtime.allCases.flatMap { runtime in
            DeploymentSpec.Base.allCases.flatMap { base in
                DeploymentSpec.Exposure.allCases.map { DockerfileRenderer(runtime: runtime, base: base, exposure: $0) }
            }
        }
    }

    @Test func committedDockerfilesEqualTheRenderedOnes() throws {
        let update = ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1"
        if update { try FileManager.default.createDirectory(at: Self.dockerFolder, withIntermediateDirectories: true) }
        var expected = Set<String>()
        for renderer in Self.renderers {
            let file = Self.dockerFolder.appendingPathComponent(renderer.fileName)
            expected.insert(renderer.fileName)
            if update {
                try renderer.render().write(to: file, atomically: true, encoding: .utf8)
            } else {
                let committed = try String(contentsOf: file, encoding: .utf8)
                #expect(committed == renderer.render(), "\(renderer.fileName) is stale: run the tests with UPDATE_GOLDEN=1")
            }
        }
        let present = Set(try FileManager.default.contentsOfDirectory(atPath: Self.dockerFolder.path).filter { $0.hasSuffix(".Dockerfile") })
        #expect(present == expected)
        #expect(expected.count == 24)
    }

    @Test func everyImageSplitsTheFrontAndServerIdentitiesWithAHealthcheck() {
        for renderer in Self.renderers {
            let text = renderer.render()
            #expect(text.contains("USER 0:0"))
            #expect(text.contains("ENV MCP_BRIDGE_USER=10001:10001 MCP_BRIDGE_CHILD_USER=10002:10002 MCP_BRIDGE_CLEAN_ENV=1"))
            #expect(text.contains(#"ENTRYPOINT ["/usr/local/bin/mcp-bridge""#))
            #expect(text.contains(#"HEALTHCHECK"#) && text.contains("--healthcheck"))
            #expect(text.contains("org.opencontainers.image.title"))
            #expect(!text.contains("MCP_AUTH_TOKEN") && !text.contains("MCP_BRIDGE_TOKEN"))
            #expect(!text.lowercased().contains(":latest"))
        }
    }

    @Test func alpineGetsTheStaticBridgeAndHostBinariesAreGlibcOnly() {
        let compiled = DockerfileRenderer(runtime: .python, base: .alpine, exposure: .local).render()
        #expect(compiled.contains("--swift-sdk \"$(uname -m)-swift-linux-musl\""))
        #expect(compiled.contains("--checksum \"$SWIFT_STATIC_SDK_CHECKSUM\""))
        let copied = DockerfileRenderer(runtime: .python, base: .slim, exposure: .local, bridgeSource: .hostBinary).render()
        #expect(copied.contains("COPY bridge/mcp-bridge /mcp-bridge"))
        #expect(!copied.contains("swift build"))
    }
}
