import CoreMetrics
import Logging

/// Counts every time a connection limit bites (`mcp_bridge_limits_total{limit=…}`) and logs it,
/// at most one line per limit every `interval`, with how many were folded into that line: a
/// flood of slow clients must be visible without flooding the log.
public final class LimitReport: Sendable {
    public enum Limit: String, Sendable, CaseIterable {
        case headerTimeout = "header_timeout"
        case bodyTimeout = "body_timeout"
        case connectionCap = "connection_cap"
        case shutdownDrain = "shutdown_drain"
    }

    private struct Window {
        var lastLogged: ContinuousClock.Instant?
        var folded = 0
    }

    private let logger: Logger
    private let interval: Duration
    private let windows = Locked<[Limit: Window]>([:])
    private let counters: [Limit: Counter]

    public init(logger: Logger, interval: Duration = .seconds(10)) {
        self.logger = logger
        self.interval = interval
        var counters: [Limit: Counter] = [:]
        for limit in Limit.allCases {
            counters[limit] = Counter(label: "mcp_bridge_limits_total", dimensions: [("limit", limit.rawValue)])
        }
        self.counters = counters
    }

    /// Records one hit of `limit`; `detail` says what happened and what to do about it.
    public func hit(_ limit: Limit, _ detail: @autoclosure () -> String, now: ContinuousClock.Instant = .now) {
        counters[limit]?.increment()
        let folded: Int? = windows.withLock { windows in
            var window = windows[limit] ?? Window()
            defer { windows[limit] = window }
            if let last = window.lastLogged, now - last < interval {
                window.folded += 1
                return nil
            }
            let folded = window.folded
            window = Window(lastLogged: now, folded: 0)
            return folded
        }
        guard let folded else { return }
        var metadata: Logger.Metadata = ["limit": "\(limit.rawValue)"]
        if folded > 0 { metadata["also_since_last_line"] = "\(folded)" }
        logger.warning("\(detail())", metadata: metadata)
    }
}
