/// Tells a long response that its client has gone: when the connection's inbound side closes,
/// the request task of a response that asked to be watched is cancelled. An SSE stream that
/// never ends on its own (GET, legacy `/sse`, a 2026-07-28 call) watches, so its session is
/// released at once instead of at the next failed keep-alive write. One per connection; the
/// connection's handler attaches each request's task in turn.
final class InboundCloseWatch: Sendable {
    private struct State {
        var closed = false
        var watching = false
        var task: Task<Void, Never>?
    }

    private let state = Locked(State())

    /// The task now serving the connection's request (`nil` once it has ended).
    func attach(_ task: Task<Void, Never>?) {
        state.withLock { state in
            state.task = task
            state.watching = false
        }
    }

    /// The client closed its side (or the connection is gone).
    func inboundClosed() {
        let cancel = state.withLock { state -> Task<Void, Never>? in
            state.closed = true
            return state.watching ? state.task : nil
        }
        cancel?.cancel()
    }

    /// Runs `body`, cancelling the request's task if the client closes its side meanwhile;
    /// throws `CancellationError` at once if it already has.
    /// `@concurrent`, with its body, as the Hummingbird response bodies that call it are.
    @concurrent
    func cancellingOnClose<T: Sendable>(_ body: @concurrent () async throws -> T) async throws -> T {
        let closed = state.withLock { state -> Bool in
            state.watching = true
            return state.closed
        }
        defer { state.withLock { $0.watching = false } }
        if closed { throw CancellationError() }
        return try await body()
    }
}
