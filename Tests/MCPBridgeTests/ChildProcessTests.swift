#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import NIOCore
import Testing

@testable import MCPBridge

@Suite struct ChildProcessTests {
    private func run(_ script: String, grace: Duration = .seconds(2)) async -> ChildExit {
        let child = ChildProcess(command: ChildCommand(executable: "/bin/sh", arguments: ["-c", script], environment: ["PATH": "/usr/bin:/bin"]),
                                 limits: ChildLimits(shutdownGrace: grace))
        return await child.run(logger: Logger(label: "test"), started: { _ in }, route: { _ in nil })
    }

    /// A server closes its stdout on the way out (Python's finalisation, coreutils' `close_stdout`)
    /// and exits a moment later: the end of its output must not get it killed in between, or a
    /// clean exit is reported as SIGTERM.
    @Test func aChildThatClosesItsOutputAndThenExitsIsNotKilled() async {
        #expect(await run("exec 1>&-; sleep 0.3; exit 3") == .exited(code: 3))
    }

    /// One that closes its output and stays is still made to go: SIGTERM after the grace period.
    @Test func aChildThatClosesItsOutputButStaysIsTerminated() async {
        let started = ContinuousClock.now
        #expect(await run("exec 1>&-; exec sleep 30", grace: .milliseconds(300)) == .signalled(SIGTERM))
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
