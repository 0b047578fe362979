#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import NIOCore
import NIOPosix
import CPrivileges
import Synchronization

/// How to start the MCP server behind one session. Arguments are an argv array, never a shell string.
public struct ChildCommand: Sendable, Equatable {
    public var executable: String
    public var arguments: [String]
    /// The complete environment the child sees.
    public var environment: [String: String]
    public var workingDirectory: String?
    /// Run the child as this uid:gid with no supplementary groups (`--child-user`); `nil` keeps
    /// the bridge's own identity.
    public var user: ProcessIdentity?

    public init(executable: String, arguments: [String], environment: [String: String], workingDirectory: String? = nil,
                user: ProcessIdentity? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
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
    private let stdin: ChildStdin
    /// Wakes the shutdown ladder: opened by a shutdown request and when output ends.
    private let ladderWake = Latch()
    private let outputEnded = Latch()
    /// The loop the child's pipes run on: the caller's own when it runs on one, which for a
    /// session is the loop of the connection that opened it, so a client's requests and its
    /// child's replies usually stay on one thread.
    private let eventLoop: any EventLoop

    public init(command: ChildCommand, limits: ChildLimits) {
        self.command = command
        self.limits = limits
        self.stdin = ChildStdin(byteLimit: limits.stdinBufferBytes)
        self.eventLoop = MultiThreadedEventLoopGroup.singleton.any()
    }

    /// Writes one message to the child's stdin (the newline is added here), waiting while the
    /// pipe is more than `stdinBufferBytes` behind.
    /// - Returns: `false` once the child is shutting down or gone.
    public func send(_ message: ByteBuffer) async -> Bool {
        await stdin.send(message)
    }

    /// Starts the shutdown ladder. Safe to call more than once, before or after exit.
    public func shutDown() {
        ladderWake.open()
    }

    /// Runs the child until it exits, handing each stdout frame to `route` in order, on the
    /// pipe's event loop.
    ///
    /// `SpawnedChild` starts, signals and reaps the process (no task or timer per idle child:
    /// swift-subprocess kept three tasks and a once-a-second wake-up for each); the pipes run
    /// as NIO channels on the event loops, which read adaptively (no large buffer parked on an
    /// idle pipe) and apply backpressure both ways: while `route` has work left (a full client
    /// stream), no more output is read, so a slow HTTP reader slows the child instead of
    /// growing the bridge.
    func run(
        logger: Logger,
        started: @Sendable (Int32) -> Void,
        route: @escaping ChildOutputReader.Router
    ) async -> ChildExit {
        let pipes: (stdin: PipePair, stdout: PipePair, stderr: PipePair)
        do {
            pipes = try PipePair.triple()
        } catch {
            return .failedToStart("cannot create pipes: \(error)")
        }
        let ours = OwnedDescriptors([pipes.stdin.write, pipes.stdout.read, pipes.stderr.read])
        let theirs = [pipes.stdin.read, pipes.stdout.write, pipes.stderr.write]
        let child: SpawnedChild
        do {
            child = try SpawnedChild.spawn(command, stdin: pipes.stdin.read, stdout: pipes.stdout.write, stderr: pipes.stderr.write)
        } catch {
            for fd in theirs { _ = systemClose(fd) }
            stdin.close()
            ours.closeRemaining()
            return .failedToStart(error.description)
        }
        // The child has its copies; the bridge keeps only its own ends.
        for fd in theirs { _ = systemClose(fd) }
        started(child.pid)
        await serve(child, stdin: pipes.stdin.write, stdout: pipes.stdout.read, stderr: pipes.stderr.read,
                    owned: ours, logger: logger, route: route)
        return await child.reap()
    }

    /// Moves bytes between the running child and the session until its output ends, then makes
    /// sure the whole process group is gone.
    private func serve(
        _ child: SpawnedChild,
        stdin stdinFD: CInt, stdout stdoutFD: CInt, stderr stderrFD: CInt, owned: OwnedDescriptors,
        logger: Logger, route: @escaping ChildOutputReader.Router
    ) async {
        let stdout: ChildOutputReader.Attached
        let stderr: any Channel
        do {
            // The future-returning bootstrap leaves the descriptor ours if it fails.
            let stdinChannel = try await NIOPipeBootstrap(group: eventLoop)
                .takingOwnershipOfDescriptor(output: stdinFD).get()
            owned.handOver(stdinFD)
            stdin.attach(stdinChannel)
            // NIO owns each descriptor as soon as the async bootstrap takes it, even if that fails.
            owned.handOver(stdoutFD)
            stdout = try await ChildOutputReader.attach(to: stdoutFD, limit: limits.maximumMessageBytes, on: eventLoop, logger: logger, router: route)
            do {
                owned.handOver(stderrFD)
                stderr = try await ChildStderrLogger.attach(to: stderrFD, on: eventLoop, logger: logger)
            } catch {
                try? await stdout.channel.close()
                throw error
            }
        } catch {
            logger.error("cannot attach the child's pipes", metadata: ["error": "\(error)"])
            stdin.close()
            owned.closeRemaining()
            child.signalGroup(SIGKILL)
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.runShutdownLadder(child) }
            // Cancelled (not drained): what the reader holds is dropped, as a cancelled
            // delivery did.
            await withTaskCancellationHandler {
                try? await stdout.ended.get()
            } onCancel: {
                stdout.abandon()
            }
            try? await stdout.channel.close()
            // Output ended: the child is exiting or gone. A process closes its stdout on the way
            // out and exits a moment later, so it gets the grace period to finish on its own (a
            // SIGTERM right away turned clean exits into kills); then its whole group must go.
            outputEnded.open()
            ladderWake.open()
            stdin.close()
            if await child.waitForExit(timeout: limits.shutdownGrace) {
                child.signalGroup(SIGKILL)
            } else {
                await terminateGroup(of: child)
            }
            await group.waitForAll()
        }
        // The group is gone; its last stderr lines are logged when the pipe reaches its end.
        try? await stderr.closeFuture.get()
    }

    /// Waits for a shutdown request, closes stdin, and escalates if the child lingers.
    private func runShutdownLadder(_ child: SpawnedChild) async {
        await ladderWake.wait()
        guard !outputEnded.isOpen else { return }
        stdin.finish()
        // Most servers exit on stdin EOF; escalate only if this one does not.
        guard await !outputEnded.wait(timeout: limits.shutdownGrace) else { return }
        await terminateGroup(of: child)
    }

    /// SIGTERM to the whole group, the grace period for the leader to end, then SIGKILL to
    /// whatever of the group is left.
    private func terminateGroup(of child: SpawnedChild) async {
        child.signalGroup(SIGTERM)
        _ = await child.waitForExit(timeout: limits.shutdownGrace)
        child.signalGroup(SIGKILL)
    }
}

extension ChildCommand {
    /// The executable to run: the path as given, or the first match on the child's `PATH`.
    var resolvedExecutable: String? {
        if executable.contains("/") { return executable }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(executable)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Why the executable cannot be found or run, or `nil` if it can.
    public var unresolvableReason: String? {
        if executable.contains("/") {
            return access(executable, X_OK) == 0 ? nil : "\(executable) is not an executable file"
        }
        return resolvedExecutable == nil ? "\(executable) was not found on PATH" : nil
    }
}
