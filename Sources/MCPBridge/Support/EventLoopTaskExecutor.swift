import NIOCore
import NIOPosix

/// A NIO event loop as a Swift task executor. A task that prefers it (`withTaskExecutorPreference`)
/// runs its nonisolated code on the loop's thread: a connection's request handling next to its
/// socket, a child's output reader next to its pipe, instead of a hop to the global pool and
/// back for every message. NIO's own executor take-over does this process-wide but is not
/// available with the standard library linked statically (see bench/NOTES.md).
///
/// What runs here must not block: every wait in the bridge is an `await`, and its locks guard
/// only short critical sections.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    private init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }

    /// One executor per loop of the shared group, made once.
    private static let shared: [ObjectIdentifier: EventLoopTaskExecutor] = {
        var executors: [ObjectIdentifier: EventLoopTaskExecutor] = [:]
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            executors[ObjectIdentifier(loop)] = EventLoopTaskExecutor(loop)
        }
        return executors
    }()

    /// The executor for `eventLoop`: the shared one for a loop of the singleton group, a new one
    /// for any other loop (tests, embedded channels).
    static func on(_ eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        shared[ObjectIdentifier(eventLoop)] ?? EventLoopTaskExecutor(eventLoop)
    }
}
