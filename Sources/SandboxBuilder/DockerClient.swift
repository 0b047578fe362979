import Foundation
import Subprocess
import SystemPackage

/// Runs docker commands with builder's own environment, unchanged. Output streams straight to the
/// user's terminal; secrets travel only on standard input (`capture(_:standardInput:)`), never on
/// a command line or in docker's environment.
public struct DockerClient: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var command: String
        public var status: String
        public var output: String
        public var description: String {
            "\(command) failed (\(status))" + (output.isEmpty ? "" : ":\n\(output)")
        }
    }

    public init() {}

    /// Runs `argv`, letting its output through to ours; throws when it fails.
    public func stream(_ argv: [String]) async throws {
        let result = try await Subprocess.run(
            .name(argv[0]), arguments: Arguments(Array(argv.dropFirst())),
            input: .none, output: .fileDescriptor(.standardOutput, closeAfterSpawningProcess: false),
            error: .fileDescriptor(.standardError, closeAfterSpawningProcess: false))
        guard result.terminationStatus.isSuccess else {
            throw Failure(command: Self.describe(argv), status: "\(result.terminationStatus)", output: "")
        }
    }

    /// Runs `argv` and returns its standard output; throws with its error output when it fails.
    /// `standardInput` is written to it (secrets travel that way, never in argv).
    @discardableResult
    public func capture(_ argv: [String], standardInput: [UInt8] = [], allowFailure: Bool = false) async throws -> String {
        let result = try await Subprocess.run(
            .name(argv[0]), arguments: Arguments(Array(argv.dropFirst())),
            input: .array(standardInput),
            output: .string(limit: 16 << 20), error: .string(limit: 1 << 20))
        let output = result.standardOutput
        if !result.terminationStatus.isSuccess, !allowFailure {
            throw Failure(command: Self.describe(argv), status: "\(result.terminationStatus)",
                          output: result.standardError.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return output
    }

    /// Standard output and standard error together (docker logs writes to both).
    public func captureAll(_ argv: [String]) async -> String {
        guard let result = try? await Subprocess.run(
            .name(argv[0]), arguments: Arguments(Array(argv.dropFirst())),
            output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
        else { return "" }
        return result.standardOutput + result.standardError
    }

    public func succeeds(_ argv: [String]) async -> Bool {
        guard let result = try? await Subprocess.run(
            .name(argv[0]), arguments: Arguments(Array(argv.dropFirst())), output: .discarded, error: .discarded)
        else { return false }
        return result.terminationStatus.isSuccess
    }

    /// Runs `argv`, handing its standard output and error (merged, as they come) to `chunk`;
    /// throws when it fails, or when `chunk` throws (the command is then stopped).
    public func forEachChunk(_ argv: [String], _ chunk: ([UInt8]) async throws -> Void) async throws {
        let result = try await Subprocess.run(
            .name(argv[0]), arguments: Arguments(Array(argv.dropFirst())),
            input: .none, output: .sequence, error: .combinedWithOutput
        ) { execution in
            for try await buffer in execution.standardOutput {
                try await chunk(buffer.withUnsafeBytes { Array($0) })
            }
        }
        guard result.terminationStatus.isSuccess else {
            throw Failure(command: Self.describe(argv), status: "\(result.terminationStatus)", output: "")
        }
    }

    /// The Docker host's CPUs and memory (bytes), for refusing limits it cannot give; nil when
    /// `docker info` does not say.
    public func hostCapacity() async -> (cpus: Int, memory: Int64)? {
        guard let text = try? await capture(["docker", "info", "--format", "{{.NCPU}} {{.MemTotal}}"]) else { return nil }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let cpus = Int(parts[0]), let memory = Int64(parts[1]) else { return nil }
        return (cpus, memory)
    }

    static func describe(_ argv: [String]) -> String {
        argv.prefix(3).joined(separator: " ")
    }
}
