import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import MCPBridge

/// Where the request path runs: a task that prefers an `EventLoopTaskExecutor` stays on that
/// loop's thread across suspensions, and a child's pipes run on the loop it was created on.
@Suite struct EventLoopExecutionTests {
    private let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())

    @Test func aTaskThatPrefersALoopRunsOnItBeforeAndAfterSuspending() async throws {
        for (index, loop) in loops.enumerated() {
            let other = loops[(index + 1) % loops.count]
            let onLoop = await withTaskExecutorPreference(EventLoopTaskExecutor.on(loop)) { () async -> [Bool] in
                var seen = [loop.inEventLoop]
                // Resumed from another thread: the continuation comes back to the loop.
                await withCheckedContinuation { continuation in
                    other.execute { continuation.resume() }
                }
                seen.append(loop.inEventLoop)
                try? await Task.sleep(for: .milliseconds(5))
                seen.append(loop.inEventLoop)
                return seen
            }
            #expect(onLoop == [true, true, true])
        }
        #expect(EventLoopTaskExecutor.on(loops[0]) === EventLoopTaskExecutor.on(loops[0]))
    }

    @Test func aChildsPipesAndItsOutputRunOnTheLoopItWasCreatedOn() async {
        // Two children per loop, made in loop order: with two loops or more, a round-robin
        // choice would put at least one of them elsewhere (with one loop there is no choice).
        let creators = loops.flatMap { [$0, $0] }
        for creator in creators {
            let child = await withTaskExecutorPreference(EventLoopTaskExecutor.on(creator)) {
                ChildProcess(command: ChildCommand(executable: "/bin/cat", arguments: [], environment: ["PATH": "/usr/bin:/bin"]),
                             limits: ChildLimits())
            }
            let onCreator = Mutex<[Bool]>([])
            // Run from a plain task, as the session manager does: only the pipes' loop decides.
            let run = Task {
                await child.run(logger: Logger(label: "test"), started: { _ in },
                                route: { _ in onCreator.withLock { $0.append(creator.inEventLoop) }; return nil })
            }
            #expect(await child.send(ByteBuffer(string: #"{"jsonrpc":"2.0","method":"ping"}"#)))
            child.shutDown()
            #expect(await run.value == .exited(code: 0))
            #expect(onCreator.withLock { $0 } == [true])
        }
    }
}
