import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Coarse deadlines for waits that almost always end early (the JSON-reply window of every
/// POST). Arming or cancelling one takes a lock and nothing else: no event-loop task per wait,
/// so no cross-thread wakeup per request. One repeating sweep fires what is due, every
/// `granularity`, only while deadlines are pending.
public final class DeadlineSweeper: Sendable {
    public static let shared = DeadlineSweeper(granularity: .milliseconds(10))

    public struct Ticket: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        var deadline: NIODeadline
        var action: @Sendable () -> Void
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 0
        var sweeping = false
    }

    // A pthread mutex (NIOLockedValueBox) rather than Synchronization.Mutex: this lock is taken
    // from many threads on every request, and ThreadSanitizer cannot see Mutex's futex, so it
    // reported the guarded accesses as a race (a false report that failed a CI run).
    private let state = NIOLockedValueBox(State())
    private let granularity: TimeAmount

    init(granularity: TimeAmount) {
        self.granularity = granularity
    }

    /// Runs `action` once, at most `granularity` after `delay`, unless cancelled first.
    public func schedule(in delay: TimeAmount, _ action: @escaping @Sendable () -> Void) -> Ticket {
        let (ticket, startSweeping): (Ticket, Bool) = state.withLockedValue { state in
            state.nextID &+= 1
            state.entries[state.nextID] = Entry(deadline: .now() + delay, action: action)
            defer { state.sweeping = true }
            return (Ticket(id: state.nextID), !state.sweeping)
        }
        if startSweeping {
            MultiThreadedEventLoopGroup.singleton.any().scheduleRepeatedTask(initialDelay: granularity, delay: granularity) { task in
                self.sweep(task)
            }
        }
        return ticket
    }

    public func cancel(_ ticket: Ticket) {
        _ = state.withLockedValue { $0.entries.removeValue(forKey: ticket.id) }
    }

    private func sweep(_ task: RepeatedTask) {
        let now = NIODeadline.now()
        let due: [@Sendable () -> Void] = state.withLockedValue { state in
            let expired = state.entries.filter { $0.value.deadline <= now }
            for id in expired.keys { state.entries.removeValue(forKey: id) }
            if state.entries.isEmpty {
                // Idle again: stop waking up until the next deadline is armed.
                state.sweeping = false
                task.cancel()
            }
            return expired.values.map(\.action)
        }
        for action in due { action() }
    }
}
