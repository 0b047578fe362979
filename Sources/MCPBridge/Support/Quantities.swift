/// Parsing of human-friendly sizes (`16MiB`) and durations (`30m`) for command-line options.
public enum Quantities {
    /// Bytes: a plain number, or with a suffix `K`/`KB`/`KiB`, `M`…, `G`… (all binary).
    public static func bytes(_ text: String) -> Int? {
        let lowered = text.lowercased().trimmingSpaces
        let digits = lowered.prefix(while: { $0.isNumber })
        guard let value = Int(digits), !digits.isEmpty else { return nil }
        let multiplier: Int
        switch lowered.dropFirst(digits.count) {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1 << 10
        case "m", "mb", "mib": multiplier = 1 << 20
        case "g", "gb", "gib": multiplier = 1 << 30
        default: return nil
        }
        let (result, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : result
    }

    /// The longest duration accepted: ten years, far beyond any sensible timeout and far from
    /// the nanosecond arithmetic's limits.
    public static let longestDuration: Duration = .seconds(10 * 365 * 86_400)

    /// A duration: a number of seconds, or with a suffix `ms`, `s`, `m`, `h`; at most `longestDuration`.
    public static func duration(_ text: String) -> Duration? {
        let lowered = text.lowercased().trimmingSpaces
        let number = lowered.prefix(while: { $0.isNumber || $0 == "." })
        guard let value = Double(number), value >= 0, value.isFinite else { return nil }
        let seconds: Double
        switch lowered.dropFirst(number.count) {
        case "", "s": seconds = value
        case "ms": seconds = value / 1000
        case "m": seconds = value * 60
        case "h": seconds = value * 3600
        default: return nil
        }
        guard seconds <= Double(longestDuration.components.seconds) else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
