import Logging

/// What a request's handling gets besides the request: the logger, and the connection's
/// inbound-close watch for responses that stream until the client leaves.
struct BridgeRequestContext: Sendable {
    var logger: Logger
    var inboundClose: InboundCloseWatch
}
