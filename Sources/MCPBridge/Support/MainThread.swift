#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The process's asynchronous work, run while the main thread waits for good.
///
/// An `async` `main` hands the main thread to `dispatch_main`, which leaves it through
/// `pthread_exit`: a forced unwind of the main thread's stack that binary-searches the binary's
/// unwind tables and loads libgcc's unwinder, about 0.7 MiB of pages that then stay mapped for
/// the life of the process (measured in bench/NOTES.md). Waiting in `pause()` touches none of
/// them. Signals are received as before: the main thread blocks none, the worker threads block
/// them.
public enum MainThread {
    /// Starts `operation` as a task and never returns: the process exits with status 0 when the
    /// operation returns (it exits on its own for any other status).
    public static func run(_ operation: @escaping @Sendable () async -> Void) -> Never {
        Task.detached {
            await operation()
            exit(0)
        }
        while true { pause() }
    }
}
