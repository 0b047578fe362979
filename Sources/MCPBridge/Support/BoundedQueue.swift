import NIOConcurrencyHelpers
import NIOCore

/// A single-consumer async queue of a stream's messages, bounded by a byte budget.
///
/// `push` always admits the element (so ordering never depends on timing) and then suspends
/// the producer until the consumer has drained the queue back under its budget: a slow
/// reader slows its producer instead of growing memory. `finish` lets the consumer drain;
/// `close` (or cancelling the consumer) drops what is queued and releases every producer.
///
/// Not generic, although nothing in it depends on what it carries: a generic class's state is
/// copied and destroyed through runtime type lookups (its `deinit`, the outcomes its lock
/// returns), ~2,300 instructions for each request's stream (bench/NOTES.md).
public final class BoundedQueue: @unchecked Sendable {
    public typealias Element = ClientStream.Event

    private struct State {
        // Most queues carry one answer, usually handed straight to a waiting consumer; the
        // buffer grows by doubling for the streams that carry more.
        var buffer = CircularBuffer<Element>(initialCapacity: 4)
        var bufferedBytes = 0
        var finished = false
        var closed = false
        var consumer: CheckedContinuation<Dequeued, Never>?
        var consumerToken = 0
        /// The pending deadline of a timed `next`; cancelled as soon as the consumer wakes.
        var consumerDeadline: DeadlineSweeper.Ticket?

        mutating func takeConsumer() -> CheckedContinuation<Dequeued, Never>? {
            if let consumerDeadline { DeadlineSweeper.shared.cancel(consumerDeadline) }
            consumerDeadline = nil
            defer { consumer = nil }
            return consumer
        }
        var producers: [Int: CheckedContinuation<Bool, Never>] = [:]
        var nextProducerID = 0

        mutating func releaseProducers(ifBelow limit: Int) -> [CheckedContinuation<Bool, Never>] {
            guard closed || bufferedBytes <= limit, !producers.isEmpty else { return [] }
            defer { producers.removeAll() }
            return Array(producers.values)
        }
    }

    /// What a consumer wakes up with.
    public enum Dequeued: Sendable {
        case element(Element)
        case end
        case timedOut
    }

    private enum EnqueueOutcome {
        case rejected
        case queued(overBudget: Bool)
        case handedTo(CheckedContinuation<Dequeued, Never>)
    }

    /// What `admit` did with an element.
    public enum Admission: Sendable, Equatable {
        /// The queue was closed or finished: the element is dropped.
        case rejected
        case admitted
        /// Admitted, and the queue is now over its budget: a producer that can wait should
        /// `waitForRoom()` before the next element.
        case admittedOverBudget
    }

    // NIO's pthread lock rather than `Mutex`: timed waits expire on the event loop (the
    // DeadlineSweeper) while tasks push and pop, and ThreadSanitizer cannot see `Mutex`'s futex,
    // so it reported the guarded state as a race (a false report, once in seven runs here).
    // The state sits in this object beside the lock rather than in a `NIOLockedValueBox`: that
    // box's generic code (not specialized across modules) copied the state through runtime type
    // lookups, ~900 instructions per request stream (bench/NOTES.md). Not in the project's
    // `Locked` either, which is the same lock and state but one more object per stream.
    private let lock = NIOLock()
    // Only touched inside `lock` (`withState`).
    private var state = State()
    private let byteLimit: Int

    public init(byteLimit: Int) {
        self.byteLimit = byteLimit
    }

    /// What an element counts against the budget: its bytes.
    private static func weigh(_ element: Element) -> Int {
        switch element {
        case .message(let buffer, _): buffer.readableBytes
        }
    }

    private func withState<Result>(_ body: (inout State) -> Result) -> Result {
        lock.withLock { body(&state) }
    }

    /// Whether the queue no longer accepts elements.
    public var isClosed: Bool { withState { $0.closed || $0.finished } }

    /// Enqueues `element`, then waits while the queue is over budget.
    /// - Returns: `false` if the queue was closed (the element is dropped).
    @discardableResult
    public func push(_ element: Element) async -> Bool {
        guard enqueue(element) else { return false }
        return await waitForRoom()
    }

    /// Waits while the queue is over budget (`push`'s second half, for a producer that enqueued
    /// where it could not wait).
    /// - Returns: `false` if the queue was closed.
    @discardableResult
    public func waitForRoom() async -> Bool {
        let producerID: Int? = withState { state in
            guard !state.closed, state.bufferedBytes > byteLimit else { return nil }
            state.nextProducerID += 1
            return state.nextProducerID
        }
        guard let producerID else { return !withState { $0.closed } }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow: Bool? = withState { state in
                    if state.closed || Task.isCancelled { return false }
                    if state.bufferedBytes <= byteLimit { return true }
                    state.producers[producerID] = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            withState { $0.producers.removeValue(forKey: producerID) }?.resume(returning: false)
        }
    }

    /// Enqueues without waiting for room (small control messages, errors at teardown).
    @discardableResult
    public func enqueue(_ element: Element) -> Bool {
        admit(element) != .rejected
    }

    /// Enqueues without waiting, and says in the same lock whether the queue is now over its
    /// budget (for a producer that cannot wait here, such as the child's output reader on its
    /// event loop).
    public func admit(_ element: Element) -> Admission {
        let outcome: EnqueueOutcome = withState { state in
            guard !state.closed, !state.finished else { return .rejected }
            if let consumer = state.takeConsumer() {
                return .handedTo(consumer)
            }
            state.buffer.append(element)
            state.bufferedBytes += Self.weigh(element)
            return .queued(overBudget: state.bufferedBytes > byteLimit)
        }
        switch outcome {
        case .rejected: return .rejected
        case .queued(let overBudget): return overBudget ? .admittedOverBudget : .admitted
        case .handedTo(let consumer):
            consumer.resume(returning: .element(element))
            return .admitted
        }
    }

    /// The next element, or `nil` once the queue is finished and drained, or closed.
    /// Cancelling the waiting consumer closes the queue.
    public func next() async -> Element? {
        if case .element(let element) = await next(timeout: nil) { return element }
        return nil
    }

    /// The next element, `.end`, or `.timedOut` if nothing came within `timeout`
    /// (the queue stays open after a timeout).
    public func next(timeout: Duration?) async -> Dequeued {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Dequeued, Never>) in
                var released: [CheckedContinuation<Bool, Never>] = []
                let ready: Dequeued? = withState { state in
                    if let element = state.buffer.popFirst() {
                        state.bufferedBytes -= Self.weigh(element)
                        released = state.releaseProducers(ifBelow: byteLimit)
                        return .element(element)
                    }
                    if state.closed || state.finished || Task.isCancelled { return .end }
                    state.consumer = continuation
                    state.consumerToken += 1
                    if let timeout {
                        // A coarse deadline, not a sleeping Task or an event-loop task: arming and
                        // cancelling it costs a lock, and nothing is left behind once an element comes.
                        // It holds the queue (not weakly: a weak reference costs a side table per
                        // queue) until it fires or is cancelled, which waking the consumer does.
                        let token = state.consumerToken
                        state.consumerDeadline = DeadlineSweeper.shared.schedule(
                            in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
                        ) { [self] in
                            expireConsumer(token: token)
                        }
                    }
                    return nil
                }
                for producer in released { producer.resume(returning: true) }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            close()
        }
    }

    private func expireConsumer(token: Int) {
        let consumer: CheckedContinuation<Dequeued, Never>? = withState { state in
            guard state.consumerToken == token else { return nil }
            return state.takeConsumer()
        }
        consumer?.resume(returning: .timedOut)
    }

    /// No more elements will come; the consumer drains what is queued, then gets `nil`.
    public func finish() {
        let consumer = withState { state -> CheckedContinuation<Dequeued, Never>? in
            state.finished = true
            guard state.buffer.isEmpty else { return nil }
            return state.takeConsumer()
        }
        consumer?.resume(returning: .end)
    }

    /// Drops everything queued and wakes the consumer and all producers.
    public func close() {
        let (consumer, producers) = withState { state in
            state.closed = true
            // Only when there is something to drop: emptying reallocates the buffer.
            if !state.buffer.isEmpty { state.buffer.removeAll() }
            state.bufferedBytes = 0
            defer { state.producers.removeAll() }
            return (state.takeConsumer(), Array(state.producers.values))
        }
        consumer?.resume(returning: .end)
        for producer in producers { producer.resume(returning: false) }
    }
}
