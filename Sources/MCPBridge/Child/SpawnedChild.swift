#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CPrivileges

/// A running MCP server process, leader of its own session and process group.
///
/// Started by `mcp_spawn` (`vfork`: the bridge's page tables are never copied) and
/// watched without a task or timer of its own: a session learns that its child ended from the
/// end of its stdout, and only then, or while shutting it down, asks the kernel for its state.
/// Until `reap` the ended leader stays a zombie, so its pid, which is also the group's id, cannot
/// name another process when the group is signalled.
struct SpawnedChild: Sendable {
    let pid: pid_t

    struct Failure: Error, CustomStringConvertible {
        let step: String
        let code: Int32
        let executable: String

        var description: String { "\(step) for \(executable) failed: \(String(cString: strerror(code)))" }
    }

    /// Starts `command` with `stdin`, `stdout` and `stderr` as its 0, 1 and 2.
    static func spawn(_ command: ChildCommand, stdin: CInt, stdout: CInt, stderr: CInt) throws(Failure) -> SpawnedChild {
        guard let path = command.resolvedExecutable else {
            throw Failure(step: "finding the executable", code: ENOENT, executable: command.executable)
        }
        let arguments = [path] + command.arguments
        // Sorted, so the child's environment block does not depend on dictionary order; names a
        // process environment cannot hold are left out.
        let environment = command.environment
            .filter { name, value in !name.isEmpty && !name.contains("=") && !name.contains("\0") && !value.contains("\0") }
            .sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        var step: UnsafePointer<CChar>?
        let failed = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                path.withCString { path in
                    withOptionalCString(command.workingDirectory) { directory in
                        var request = mcp_spawn_request(
                            path: path, argv: argv, envp: envp, working_directory: directory,
                            stdin_fd: stdin, stdout_fd: stdout, stderr_fd: stderr,
                            switch_identity: command.user == nil ? 0 : 1,
                            uid: uid_t(command.user?.uid ?? 0), gid: gid_t(command.user?.gid ?? 0))
                        return mcp_spawn(&request, &pid, &step)
                    }
                }
            }
        }
        guard failed == 0 else {
            throw Failure(step: step.map { String(cString: $0) } ?? "spawn", code: failed, executable: path)
        }
        return SpawnedChild(pid: pid)
    }

    /// Sends `signal` to every process in the child's group.
    func signalGroup(_ signal: CInt) {
        _ = kill(-pid, signal)
    }

    /// How the leader ended, or `nil` while it runs; with `reap` its zombie goes too.
    func ending(reaping reap: Bool) -> ChildExit? {
        var exited: CInt = 0
        var code: CInt = 0
        var signal: CInt = 0
        let failed = mcp_child_state(pid, reap ? 1 : 0, &exited, &code, &signal)
        // ECHILD: already reaped; there is nothing left to wait for.
        if failed != 0 { return .failedToStart("waiting for process \(pid): \(String(cString: strerror(failed)))") }
        guard exited != 0 else { return nil }
        return signal != 0 ? .signalled(signal) : .exited(code: code)
    }

    /// Whether the leader ends within `timeout`. Polls: this only runs while the child is being
    /// shut down, never while a session merely idles. The polling runs in a task of its own,
    /// which a cancelled caller does not cancel: `Task.sleep` would throw at once, and the loop
    /// spin on the CPU for the whole grace period.
    func waitForExit(timeout: Duration) async -> Bool {
        await waitForExitCountingPolls(timeout: timeout).ended
    }

    /// `waitForExit`, also saying how often it asked the kernel (tests bound that, rather than
    /// the process's CPU time, which tests running alongside share).
    func waitForExitCountingPolls(timeout: Duration) async -> (ended: Bool, polls: Int) {
        await Task { await pollForExit(timeout: timeout) }.value
    }

    private func pollForExit(timeout: Duration) async -> (ended: Bool, polls: Int) {
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(1)
        var polls = 0
        while true {
            polls += 1
            if ending(reaping: false) != nil { return (true, polls) }
            let now = ContinuousClock.now
            guard now < deadline else { return (false, polls) }
            try? await Task.sleep(for: min(pause, deadline - now))
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    /// Waits for the leader to end (it has been told to) and reaps it.
    func reap() async -> ChildExit {
        while true {
            if let ending = ending(reaping: true) { return ending }
            _ = await waitForExit(timeout: .seconds(1))
        }
    }
}

/// NULL-terminated C copies of `strings` for the duration of `body`.
private func withCStrings<Result>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> Result) -> Result {
    let copies = strings.map { strdup($0) } + [nil]
    defer { for copy in copies { free(copy) } }
    return copies.withUnsafeBufferPointer { body($0.baseAddress) }
}

private func withOptionalCString<Result>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> Result) -> Result {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
