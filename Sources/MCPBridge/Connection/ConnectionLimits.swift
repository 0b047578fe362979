/// Bounds on what one TCP connection may hold, so silent or slow clients cannot pin
/// descriptors, tasks or the shutdown.
public struct ConnectionLimits: Sendable {
    /// A new connection must deliver a complete request head within this.
    public var headerTimeout: Duration = .seconds(10)
    /// A request body must arrive completely within this after its head.
    public var bodyTimeout: Duration = .seconds(60)
    /// A keep-alive connection with no request in flight is closed after this.
    public var idleTimeout: Duration = .seconds(60)
    /// Most open client connections; one more is answered 503 and closed, long before the
    /// descriptor limit (see `DescriptorBudget`).
    public var maximumConnections = 1024
    /// After a refusal sent while the body is still arriving (413), read and discard at most
    /// this much of it before closing, so a client that writes its whole body first sees the answer.
    public var drainBytes = 64 << 20
    /// Once shutdown begins, connections still busy are closed after this.
    public var shutdownDrain: Duration = .seconds(5)

    public init() {}
}
