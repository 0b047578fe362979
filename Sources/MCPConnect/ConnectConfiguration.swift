import MCPBridge

/// Everything `mcp-bridge connect` needs, parsed and checked before anything connects.
public struct ConnectConfiguration: Sendable {
    public enum Transport: String, Sendable, CaseIterable {
        /// Streamable HTTP first; legacy HTTP+SSE when `initialize` gets 400, 404 or 405.
        case auto
        case streamable
        case sse
    }

    public var endpoint: RemoteEndpoint
    public var transport: Transport = .auto
    /// Sent as `Authorization: Bearer …` when set.
    public var token: String?
    /// Extra request headers, in order (already expanded).
    public var headers: [(name: String, value: String)] = []
    public var trust: TrustPolicy = .system
    public var connectTimeout: Duration = .seconds(10)
    /// Largest message accepted from either side (a stdin line, a JSON body, an SSE event).
    public var maximumMessageBytes = 16 * 1024 * 1024
    /// Requests waiting for their answer at once; more are answered with an error at once.
    public var maximumInFlight = 256
    /// How long the DELETE that ends the remote session may take once stdin has closed.
    public var closeTimeout: Duration = .seconds(3)

    public init(endpoint: RemoteEndpoint) {
        self.endpoint = endpoint
    }
}
