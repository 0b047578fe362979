import Foundation
import MCPBridge

/// Counts failed authentications per client address in a fixed window; an address over the
/// limit is refused (429) until its window ends, whatever it presents. The table is bounded:
/// when full, the entry with the oldest window is dropped.
final class FailedAuthLimiter: Sendable {
    private struct Entry {
        var windowStart: ContinuousClock.Instant
        var failures: Int
    }

    let limit: Int
    let window: Duration
    let capacity: Int
    private let entries = Locked<[String: Entry]>([:])

    init(limit: Int = 10, window: Duration = .seconds(60), capacity: Int = 10_000) {
        self.limit = limit
        self.window = window
        self.capacity = capacity
    }

    /// Seconds until `address` may try again, or nil when it may try now.
    func retryAfter(_ address: String, now: ContinuousClock.Instant = .now) -> Int? {
        entries.withLock { entries in
            guard let entry = entries[address] else { return nil }
            let ends = entry.windowStart + window
            if now >= ends {
                entries[address] = nil
                return nil
            }
            guard entry.failures >= limit else { return nil }
            let remaining = ends - now
            return max(1, Int(remaining.components.seconds) + (remaining.components.attoseconds > 0 ? 1 : 0))
        }
    }

    func recordFailure(_ address: String, now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            if var entry = entries[address], now < entry.windowStart + window {
                entry.failures += 1
                entries[address] = entry
                return
            }
            if entries[address] == nil, entries.count >= capacity,
               let oldest = entries.min(by: { $0.value.windowStart < $1.value.windowStart })?.key {
                entries[oldest] = nil
            }
            entries[address] = Entry(windowStart: now, failures: 1)
        }
    }
}
