/// A byte budget for forwarding an untrusted process's output into the bridge log: a token
/// bucket refilled at `bytesPerSecond` up to `burstBytes`. What does not fit is counted, not
/// logged, so a child writing megabytes of stderr cannot flood the log or the disk behind it.
struct LogBudget {
    let bytesPerSecond: Int
    let burstBytes: Int
    private var available: Double
    private var refilled: ContinuousClock.Instant
    /// Lines and bytes dropped since the last admitted line.
    private(set) var droppedLines = 0
    private(set) var droppedBytes = 0

    init(bytesPerSecond: Int = 64 << 10, burstBytes: Int = 256 << 10, now: ContinuousClock.Instant = .now) {
        self.bytesPerSecond = bytesPerSecond
        self.burstBytes = burstBytes
        self.available = Double(burstBytes)
        self.refilled = now
    }

    enum Verdict: Equatable {
        /// Log the line; `afterDropping` lines (bytes) were suppressed before it.
        case log(afterDroppingLines: Int, bytes: Int)
        case drop
    }

    mutating func admit(_ bytes: Int, now: ContinuousClock.Instant = .now) -> Verdict {
        let elapsed = now - refilled
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        available = min(Double(burstBytes), available + seconds * Double(bytesPerSecond))
        refilled = now
        let cost = Double(max(bytes, 1))
        guard available >= cost else {
            droppedLines += 1
            droppedBytes += bytes
            return .drop
        }
        available -= cost
        defer { droppedLines = 0; droppedBytes = 0 }
        return .log(afterDroppingLines: droppedLines, bytes: droppedBytes)
    }
}
