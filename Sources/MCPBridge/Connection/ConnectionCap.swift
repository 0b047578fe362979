import NIOCore
import Synchronization

/// At most `maximum` open client connections. One beyond it is answered `503` with
/// `Connection: close` by its `ConnectionGuard` as soon as it is accepted, and closed: its
/// descriptor is freed at once, the client learns why, and the bridge reports it (rather than
/// reaching the descriptor limit, where `accept` fails and nobody is served or told).
final class ConnectionCap: Sendable {
    let maximum: Int
    private let report: LimitReport
    private let open = Atomic<Int>(0)

    init(maximum: Int, report: LimitReport) {
        self.maximum = maximum
        self.report = report
    }

    /// Counts `channel` in and returns true, or reports the refusal and returns false (the
    /// caller answers and closes, once the channel is active).
    func admit(_ channel: any Channel) -> Bool {
        let admitted = open.add(1, ordering: .relaxed).newValue
        guard admitted <= maximum else {
            open.subtract(1, ordering: .relaxed)
            report.hit(.connectionCap, "refused a connection: \(maximum) are open (--max-connections); raise it, or find who holds them")
            return false
        }
        channel.closeFuture.whenComplete { _ in self.open.subtract(1, ordering: .relaxed) }
        return true
    }
}
