import NIOCore

/// How many event loop threads serve the bridge: every connection, every child's pipes and the
/// request tasks run on NIO's singleton group, so this is set once, before anything uses it.
///
/// One is the default. Measured on two cores (bench/NOTES.md), one loop served as many requests
/// as two with ~18 % less CPU per request and a lower p99, because a request, its child's pipes
/// and its response never change threads; one loop serves ~25,000 `tools/call` per second, far
/// above what MCP servers answer. It is also what a container gets at the builder's default
/// `--cpus 1.0`, where NIO sizes the group by the CPU quota.
public enum EventLoopCount {
    public static let `default` = 1
    public static let range = 1...64

    /// Sizes the singleton group. Call once, from `main`, before any event loop is used
    /// (NIO traps on a second call).
    public static func use(_ count: Int) {
        NIOSingletons.groupLoopCountSuggestion = count
    }
}
