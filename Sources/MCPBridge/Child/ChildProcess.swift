#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import NIOCore
import Subprocess
import SystemPackage

/// How to start the MCP server behind one session. Arguments are an argv array, never a shell string.
public struct ChildCommand: Sendable, Equatable {
    public var executable: String
    public var arguments: [String]
    /// The complete environment the child sees.
    public var environment: [String: String]
    public var workingDirectory: String?

    public init(executable: String, arguments: [String], environment: [String: String], workingDirectory: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }
}

/// Limits and timings for one child process.
public struct ChildLimits: Sendable {
    /// Longest stdout line accepted as a message.
    public var maximumMessageBytes: Int
    /// Bytes queued for the child's stdin before senders wait.
    public var stdinBufferBytes: Int
    /// How long to wait after closing stdin, and again after SIGTERM, before escalating.
    public var shutdownGrace: Duration

    public init(maximumMessageBytes: Int = 16 << 20, stdinBufferBytes: Int = 1 << 20, shutdownGrace: Duration = .seconds(2)) {
        self.maximumMessageBytes = maximumMessageBytes
        self.stdinBufferBytes = stdinBufferBytes
        self.shutdownGrace = shutdownGrace
    }
}

/// How a child's run ended.
public enum ChildExit: Sendable, Equatable {
    case exited(code: Int32)
    case signalled(Int32)
    case failedToStart(String)
}

/// One MCP server process speaking JSON-RPC lines on stdio.
///
/// The process runs in its own session (and so its own process group), so the shutdown
/// ladder reaches everything it starts: close stdin, wait, SIGTERM the group, wait, SIGKILL.
public final class ChildProcess: Sendable {
    public let command: ChildCommand
    public let limits: ChildLimits
    private let stdin: BoundedQueue<ByteBuffer>
    private let shutdownRequested = Latch()
    private let outputEnded = Latch()

    public init(command: ChildCommand, limits: ChildLimits) {
        self.command = command
        self.limits = limits
        self.stdin = BoundedQueue(byteLimit: limits.stdinBufferBytes, weigh: { $0.readableBytes })
    }

    /// Queues one message for the child's stdin; the newline is added here.
    /// - Returns: `false` once the child is shutting down or gone.
    public func send(_ message: ByteBuffer) async -> Bool {
        await stdin.push(message)
    }

    /// Starts the shutdown ladder. Safe to call more than once, before or after exit.
    public func shutDown() {
        shutdownRequested.open()
    }

    /// Runs the child until it exits, handing each stdout frame to `onFrame` in order.
    ///
    /// `onFrame` is awaited before more output is read, which is what turns a slow HTTP
    /// reader into backpressure on the child instead of memory growth in the bridge.
    public func run(
        logger: Logger,
        started: @Sendable (Int32) -> Void,
        onFrame: @Sendable (LineFramer.Frame) async -> Void
    ) async -> ChildExit {
        var platformOptions = PlatformOptions()
        platformOptions.createSession = true
        platformOptions.teardownSequence = [
            .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: limits.shutdownGrace)
        ]
        let environment = Environment.custom(
            Dictionary(uniqueKeysWithValues: command.environment.compactMap { key, value in
                Environment.Key(rawValue: key).map { ($0, value) }
            })
        )
        let executable: Executable =
            command.executable.contains("/") ? .path(FilePath(command.executable)) : .name(command.executable)
        let configuration = Configuration(
            executable: executable,
            arguments: Arguments(command.arguments),
            environment: environment,
            workingDirectory: command.workingDirectory.map { FilePath($0) },
            platformOptions: platformOptions
        )
        do {
            let result = try await Subprocess.run(configuration, input: .inputWriter, output: .sequence, error: .sequence) {
                execution in
                started(execution.processIdentifier.value)
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.pumpStdin(into: execution.standardInputWriter, logger: logger) }
                    group.addTask { await Self.drainStderr(execution.standardError, limit: 16 << 10, logger: logger) }
                    group.addTask { await self.runShutdownLadder(execution) }
                    await self.readStdout(execution.standardOutput, logger: logger, onFrame: onFrame)
                    // Output ended: the child is exiting or gone. Make sure its whole group goes too.
                    self.outputEnded.open()
                    self.stdin.close()
                    await execution.teardown(using: [
                        .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: limits.shutdownGrace)
                    ])
                    try? execution.send(signal: .kill, toProcessGroup: true)
                    await group.waitForAll()
                }
            }
            switch result.terminationStatus {
            case .exited(let code): return .exited(code: code)
            case .signaled(let signal): return .signalled(signal)
            }
        } catch {
            stdin.close()
            return .failedToStart(String(describing: error))
        }
    }

    private func pumpStdin(into writer: StandardInputWriter, logger: Logger) async {
        while let message = await stdin.next() {
            var line = Array(message.readableBytesView)
            line.append(UInt8(ascii: "\n"))
            do {
                _ = try await writer.write(line)
            } catch {
                logger.debug("child stdin closed", metadata: ["error": "\(error)"])
                stdin.close()
                break
            }
        }
        try? await writer.finish()
    }

    /// Waits for a shutdown request, closes stdin, and escalates if the child lingers.
    private func runShutdownLadder(_ execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.shutdownRequested.wait() }
            group.addTask { await self.outputEnded.wait() }
            await group.next()
            group.cancelAll()
        }
        guard !outputEnded.isOpen else { return }
        stdin.finish()
        // Most servers exit on stdin EOF; escalate only if this one does not.
        guard await !outputEnded.wait(timeout: limits.shutdownGrace) else { return }
        await execution.teardown(using: [
            .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: limits.shutdownGrace)
        ])
        try? execution.send(signal: .kill, toProcessGroup: true)
    }

    private func readStdout(
        _ output: SubprocessOutputSequence,
        logger: Logger,
        onFrame: @Sendable (LineFramer.Frame) async -> Void
    ) async {
        await LineFramer.forEachFrame(of: output, limit: limits.maximumMessageBytes, logger: logger, onFrame)
    }

    /// stderr is always drained (a full pipe would block the child) into the session's log.
    private static func drainStderr(_ output: SubprocessOutputSequence, limit: Int, logger: Logger) async {
        await LineFramer.forEachFrame(of: output, limit: limit, logger: logger) { frame in
            logger.info("child stderr", metadata: ["line": "\(frame.logText)"])
        }
    }
}

extension ChildCommand {
    /// Why the executable cannot be found or run, or `nil` if it can.
    public var unresolvableReason: String? {
        if executable.contains("/") {
            return access(executable, X_OK) == 0 ? nil : "\(executable) is not an executable file"
        }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where access("\(directory)/\(executable)", X_OK) == 0 {
            return nil
        }
        return "\(executable) was not found on PATH"
    }
}
