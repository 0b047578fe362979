/// One 2026-07-28 request in flight on a pool child, under the bridge's id for it.
struct PoolCall {
    /// A server-to-client request of the child, waiting to be answered through MRTR.
    struct InputRequest {
        var key: String
        var childID: JSONValue
        var method: String
        var params: JSONValue?
    }

    var request: ModernRequest
    /// Where the answer goes; nil while the call waits for the client to retry with input.
    var stream: ClientStream?
    /// The `requestState` the client must present to continue this call.
    var heldState: String?
    var bridgeToken: String?
    /// Input requests not yet shown to the client, and those shown and not yet answered.
    var unsent: [InputRequest] = []
    var awaiting: [String: InputRequest] = [:]
    /// The child's answer, kept when it arrives while the client is away (held for input).
    var finalAnswer: JSONValue?
    var inputCount = 0
    let started = ContinuousClock.now
    /// Set when the client went away (or the request timed out) before a legacy child answered
    /// an interactive call: the call keeps the child's slot until the child confirms its end.
    var cancelledAt: ContinuousClock.Instant?

    var isInteractive: Bool { ModernProtocol.interactiveMethods.contains(request.method) }
}
