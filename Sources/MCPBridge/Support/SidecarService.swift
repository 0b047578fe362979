import Logging
import NIOCore
import ServiceLifecycle
import Subprocess
import SystemPackage

/// A process that must live as long as the bridge (nginx, a tunnel agent). Its output joins the
/// bridge log; if it exits, `run` throws, which ends the service group and the bridge with a
/// failure status, so the container stops and its restart policy acts.
public struct SidecarService: Service {
    public struct Exited: Error, CustomStringConvertible {
        public var command: String
        public var status: String
        public var description: String { "sidecar \(command) exited (\(status))" }
    }

    let argv: [String]
    let environment: [String: String]
    let secrets: [String: String]
    let logger: Logger

    /// - Parameters:
    ///   - environment: the sidecar's whole environment (it should hold no secret).
    ///   - secrets: written to its standard input as `NAME=VALUE` lines, then stdin closes.
    public init(argv: [String], environment: [String: String], secrets: [String: String] = [:], logger: Logger) {
        self.argv = argv
        self.environment = environment
        self.secrets = secrets
        var logger = logger
        logger[metadataKey: "sidecar"] = "\(argv.first ?? "?")"
        self.logger = logger
    }

    public func run() async throws {
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: .seconds(5))]
        let platformOptions = options
        let executable: Executable = argv[0].contains("/") ? .path(FilePath(argv[0])) : .name(argv[0])
        let logger = self.logger
        let environment = Environment.exactly(self.environment)
        let input = Array(secrets.keys.sorted().map { "\($0)=\(secrets[$0] ?? "")\n" }.joined().utf8)
        let status: TerminationStatus
        do {
            status = try await cancelWhenGracefulShutdown {
            try await Subprocess.run(executable, arguments: Arguments(Array(argv.dropFirst())), environment: environment,
                                     platformOptions: platformOptions,
                                     input: .array(input), output: .sequence, error: .sequence) { execution in
                logger.info("sidecar started", metadata: ["pid": "\(execution.processIdentifier.value)"])
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await Self.log(execution.standardOutput, logger: logger) }
                    group.addTask { await Self.log(execution.standardError, logger: logger) }
                }
            }.terminationStatus
            }
        } catch is CancellationError {
            return  // the bridge is shutting down and stopped the sidecar
        }
        if Task.isCancelled || Task.isShuttingDownGracefully { return }
        logger.error("sidecar exited; stopping the bridge", metadata: ["status": "\(status)"])
        throw Exited(command: argv[0], status: "\(status)")
    }

    private static func log(_ output: SubprocessOutputSequence, logger: Logger) async {
        await LineFramer.forEachFrame(of: output, limit: 16 << 10, logger: logger) { frame in
            logger.info("sidecar output", metadata: ["line": "\(frame.logText)"])
        }
    }
}
