import MCPBridge

/// How many client requests are waiting for an answer, bounded: each holds a task and a
/// connection, so a runaway client cannot pile them up without limit.
final class InFlightCount: Sendable {
    private let count = Locked(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Takes a slot; false when all are taken.
    func enter() -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() {
        count.withLock { $0 -= 1 }
    }
}
