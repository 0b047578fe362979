import Foundation
import HTTPTypes
import SandboxBuilder
import Testing

@testable import SandboxService

@Suite struct DeploymentRequestTests {
    static let token = "mcpdt_" + String(repeating: "ab", count: 32)

    static func make(name: String = "clock", settings: [String: String]? = nil, image: String? = "registry.local/clock:1",
                     command: [String]? = ["/opt/clock/bin/server", "--zone", "Europe/Paris", "two words"],
                     environment: [String: String]? = nil, memory: String? = nil, cpus: String? = nil,
                     timers: DeploymentTimers = DeploymentTimers()) throws(Problem) -> DeploymentRequest {
        try DeploymentRequest(name: name, settings: settings, image: image, command: command, environment: environment,
                              memory: memory, cpus: cpus, timers: timers, dockerName: "a1b2c3-\(name)", token: token,
                              labels: ["org.mcp-sandbox.service=a1b2c3d4e5f6"])
    }

    static func fields(_ attempt: () throws -> DeploymentRequest) -> [String] {
        do {
            _ = try attempt()
            return []
        } catch let problem as Problem {
            #expect(problem.status == .unprocessableContent)
            return problem.errors.map(\.field)
        } catch {
            Issue.record("not a problem: \(error)")
            return []
        }
    }

    @Test func anImageBecomesACustomDeploymentWithItsCommandVerbatim() throws {
        let request = try Self.make(environment: ["API_KEY": "s3cret"], memory: "256m", cpus: "0.5",
                                    timers: DeploymentTimers(deleteAfter: 60, idleStop: 5))
        #expect(request.source == .image)
        #expect(request.spec.runtime == .custom && request.spec.baseImage == "registry.local/clock:1")
        #expect(request.spec.command == ["/opt/clock/bin/server", "--zone", "Europe/Paris", "two words"])
        #expect(request.spec.name == "a1b2c3-clock" && request.spec.authToken == Self.token)
        #expect(request.spec.exposure == .local && request.spec.publishAddress == "127.0.0.1" && request.spec.hostPort == 0)
        #expect(request.spec.memory == "256m" && request.spec.cpus == "0.5")
        #expect(request.spec.serverEnvironment == ["API_KEY": "s3cret"])
        let run = DockerCommands(spec: request.spec).run(useGVisor: false)
        #expect(run.contains("org.mcp-sandbox.service=a1b2c3d4e5f6"))
        #expect(run.joined(separator: " ").contains("--publish 127.0.0.1:0:8000"))
        #expect(Array(run.suffix(4)) == ["/opt/clock/bin/server", "--zone", "Europe/Paris", "two words"])
        #expect(!run.joined().contains("s3cret") && !run.joined().contains(Self.token))
    }

    @Test func settingsAreReadAsADotEnvWouldBe() throws {
        let request = try Self.make(settings: ["MCP_SERVER_RUNTIME": "python", "MCP_SERVER_PACKAGE": "mcp-server-time==2026.10.10",
                                               "MCP_NETWORK": "none"], image: nil, command: nil)
        #expect(request.source == .settings && request.spec.runtime == .python && request.spec.command == ["mcp-server-time"])
        #expect(request.spec.network == .none && request.spec.usesIngressRelay)
        #expect(Self.fields { try Self.make(settings: ["MCP_SERVER_RUNTIME": "python"], image: nil, command: nil) }
            == ["settings.MCP_SERVER_COMMAND", "settings.MCP_SERVER_PACKAGE"])
    }

    @Test func namesFollowTheContract() {
        for name in ["a", "clock-2", String(repeating: "x", count: 30), "0day"] {
            #expect(DeploymentRequest.nameProblem(name) == nil, "\(name)")
        }
        for name in ["", "-x", "Clock", "a_b", "a.b", String(repeating: "x", count: 31), "é", "a b", "../x"] {
            #expect(DeploymentRequest.nameProblem(name) != nil, "\(name)")
        }
    }

    @Test func everyProblemIsNamedAtOnce() {
        let fields = Self.fields {
            try Self.make(name: "Bad", settings: ["MCP_AUTH_TOKEN": "x", "MCP_PINGGY_TOKEN": "y", "BUILD_SECRET_X": "z"],
                          command: [], environment: ["9X": "v"], memory: "lots", cpus: "-1",
                          timers: DeploymentTimers(idleStop: 0, idleDelete: 99_999_999))
        }
        #expect(fields == ["name", "image", "command", "environment.9X", "settings.BUILD_SECRET_X", "settings.MCP_AUTH_TOKEN",
                           "settings.MCP_PINGGY_TOKEN", "memory", "cpus", "timers.idleStopAfterSeconds", "timers.idleDeleteAfterSeconds"])
    }

    @Test func sourcesAreExclusive() {
        #expect(Self.fields { try Self.make(image: nil, command: nil) } == ["settings"])
        #expect(Self.fields { try Self.make(image: nil) } == ["settings", "command"])
        #expect(Self.fields { try Self.make(command: nil) } == ["command"])
        #expect(Self.fields { try Self.make(image: "two words") } == ["image"])
        #expect(Self.fields { try Self.make(image: "--privileged") } == ["image"])
        #expect(Self.fields { try Self.make(command: [""]) } == ["command"])
        #expect(Self.fields { try Self.make(settings: ["MCP_MEMORY": "1g"], memory: "2g") } == ["image", "settings.MCP_MEMORY"])
    }

    @Test func specProblemsNameTheRequestField() {
        #expect(Self.fields { try Self.make(environment: ["MCP_BRIDGE_TOKEN": "x"]) } == ["environment.MCP_BRIDGE_TOKEN"])
        #expect(Self.fields { try Self.make(settings: ["MCP_NETWORK": "open"], image: nil, command: nil) }.contains("settings.MCP_NETWORK"))
        #expect(DeploymentRequest.field(of: "MCP_BASE_IMAGE", source: .image) == "image")
        #expect(DeploymentRequest.field(of: "MCP_BASE_IMAGE", source: .settings) == "settings.MCP_BASE_IMAGE")
        #expect(DeploymentRequest.field(of: "MCP_MEMORY", source: .settings) == "memory")
    }

    @Test func limitsOnSizes() {
        let many = Dictionary(uniqueKeysWithValues: (0..<65).map { ("K\($0)", "v") })
        #expect(Self.fields { try Self.make(environment: many) } == ["environment"])
        #expect(Self.fields { try Self.make(environment: ["BIG": String(repeating: "x", count: 4097)]) } == ["environment.BIG"])
        #expect(Self.fields { try Self.make(environment: ["NUL": "a\0b"]) } == ["environment.NUL"])
        #expect(Self.fields { try Self.make(command: Array(repeating: "x", count: 65)) } == ["command"])
    }
}
