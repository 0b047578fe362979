import Foundation
import Logging
import Testing

@testable import SandboxService

@Suite struct StateTests {
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("svc-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func recordsSurviveAReopen() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let record = DeploymentRecord(name: "clock", dockerName: "a1-clock", state: .stopped, source: .settings,
                                      imageTag: "mcp-sandbox/a1-clock:latest", tokenHash: SecretHash.digest("t"),
                                      createdAt: Date(timeIntervalSince1970: 1_700_000_000.123), lastActivityAt: nil,
                                      timers: DeploymentTimers(idleStop: 30), memory: "128m", cpus: "0.5", pids: 64)
        let store = try await StateStore.open(directory: directory, logger: Logger(label: "test"))
        try await store.save(record)
        try await store.save(DeploymentRecord(name: "gone", dockerName: "a1-gone", state: .running, source: .image, imageTag: "x",
                                              tokenHash: [], createdAt: Date(), timers: DeploymentTimers(), memory: "1g", cpus: "1", pids: 8))
        try await store.remove("gone")
        try await store.setMeta("service_id", "a1b2")
        await store.close()
        let reopened = try await StateStore.open(directory: directory, logger: Logger(label: "test"))
        #expect(try await reopened.records() == [record])
        #expect(try await reopened.meta("service_id") == "a1b2")
        #expect(try await reopened.meta("missing") == nil)
        await reopened.close()
    }

    @Test func aKeyIsGeneratedOnceAndKeptOnlyAsItsDigest() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try APIKeyring.load(environment: [:], keyFile: nil, stateDirectory: directory)
        let key = try #require(first.generatedKey)
        #expect(key.hasPrefix("mcpsk_") && key.count == 70)
        let file = directory.appendingPathComponent("api-key.sha256")
        #expect(try String(contentsOf: file, encoding: .utf8) == SecretHash.hex(SecretHash.digest(key)) + "\n")
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let second = try APIKeyring.load(environment: [:], keyFile: nil, stateDirectory: directory)
        #expect(second.generatedKey == nil && second.accepts(key) && !second.accepts(key + "x"))
    }

    @Test func keysFromTheEnvironmentAndAFile() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("keys")
        try "# team keys\nfirst-key-0123456789\n\nsecond-key-0123456789\n".write(to: file, atomically: true, encoding: .utf8)
        let keys = try APIKeyring.load(environment: ["MCP_SANDBOX_API_KEY": "env-key-0123456789ab"], keyFile: file.path, stateDirectory: directory)
        #expect(keys.accepts("env-key-0123456789ab") && keys.accepts("first-key-0123456789") && keys.accepts("second-key-0123456789"))
        #expect(!keys.accepts("# team keys") && keys.generatedKey == nil)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("api-key.sha256").path))
        #expect(throws: APIKeyring.Failure.self) {
            try APIKeyring.load(environment: ["MCP_SANDBOX_API_KEY": "short"], keyFile: nil, stateDirectory: directory)
        }
        try "   \n# nothing\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: APIKeyring.Failure.self) { try APIKeyring.load(environment: [:], keyFile: file.path, stateDirectory: directory) }
        try "not hex\n".write(to: directory.appendingPathComponent("api-key.sha256"), atomically: true, encoding: .utf8)
        #expect(throws: APIKeyring.Failure.self) { try APIKeyring.load(environment: [:], keyFile: nil, stateDirectory: directory) }
    }
}
