#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Testing

@testable import MCPBridge

@Suite struct SpawnedChildTests {
    /// A child on /dev/null for all three descriptors.
    private func spawn(_ executable: String, _ arguments: [String]) throws -> SpawnedChild {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        return try SpawnedChild.spawn(ChildCommand(executable: executable, arguments: arguments, environment: ["PATH": "/usr/bin:/bin"]),
                                      stdin: null, stdout: null, stderr: null)
    }

    @Test func exitsAndSignalsAreReportedAndTheChildIsReaped() async throws {
        let exited = try spawn("sh", ["-c", "exit 7"])
        #expect(await exited.reap() == .exited(code: 7))
        let killed = try spawn("sleep", ["30"])
        #expect(killed.ending(reaping: false) == nil)
        killed.signalGroup(SIGKILL)
        #expect(await killed.reap() == .signalled(SIGKILL))
        #expect(kill(killed.pid, 0) != 0, "reaped: the pid is gone")
    }

    @Test func aStepThatFailsBeforeExecIsNamed() {
        #expect {
            _ = try SpawnedChild.spawn(ChildCommand(executable: "/", arguments: [], environment: [:]), stdin: 0, stdout: 1, stderr: 2)
        } throws: { error in
            (error as? SpawnedChild.Failure).map { $0.step == "execve" && $0.code == EACCES } ?? false
        }
    }

    /// A cancelled task (a bridge being cancelled, not gracefully stopped) still waits out the
    /// grace period by sleeping: `Task.sleep` throws at once when cancelled, and a loop around it
    /// spun on the CPU for the whole grace period.
    @Test func waitingForAnExitInACancelledTaskSleepsInsteadOfSpinning() async throws {
        let child = try spawn("sleep", ["30"])
        defer { child.signalGroup(SIGKILL) }
        let started = ContinuousClock.now
        let waiter = Task { await child.waitForExitCountingPolls(timeout: .milliseconds(500)) }
        waiter.cancel()
        let (ended, polls) = await waiter.value
        #expect(!ended)
        #expect(ContinuousClock.now - started >= .milliseconds(450))
        // Backing off from 1 ms to 50 ms asks about 16 times in 500 ms; a spinning loop asks
        // hundreds of thousands of times. (Not the process's CPU time: parallel tests share it.)
        #expect(polls < 40, "the wait spun: \(polls) polls in 500 ms")
        child.signalGroup(SIGKILL)
        _ = await child.reap()
    }
}
