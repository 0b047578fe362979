import NIOConcurrencyHelpers

/// A value behind a pthread mutex (NIO's `NIOLock`), with `Synchronization.Mutex`'s
/// `withLock` shape (typed throws). The bridge's state is shared between event loop threads and
/// task threads, and ThreadSanitizer (every Swift test runs under it) sees a pthread mutex's
/// ordering but not `Mutex`'s futex on Linux: guarded accesses from two threads looked like
/// races there (`ChildStdin`, `BoundedQueue`), an intermittent false failure of the whole run.
/// Every lock in the project is this type or `NIOLockedValueBox`, so none can report falsely
/// (swift-subprocess keeps its own `Mutex`es: scripts/tsan-suppressions.txt).
public final class Locked<Value: ~Copyable>: @unchecked Sendable {
    private let lock = NIOLock()
    // Only touched inside `lock`.
    private var value: Value

    public init(_ initial: consuming sending Value) {
        value = initial
    }

    public func withLock<Result: ~Copyable, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
