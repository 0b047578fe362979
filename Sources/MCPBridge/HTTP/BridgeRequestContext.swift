import Logging
import NIOCore

/// What a request's handling gets besides the request: the logger, the connection's
/// inbound-close watch for responses that stream until the client leaves, and the body.
struct BridgeRequestContext: Sendable {
    var logger: Logger
    var inboundClose: InboundCloseWatch
    /// The whole request body, already collected by the connection's handler: at most the body
    /// limit plus one byte, so a body over the limit is seen as such (413). Reading it here
    /// costs nothing; iterating the request's body sequence costs an async iterator per request.
    var body: ByteBuffer
}
