import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// One accepted connection's pipeline: NIO's HTTP/1 request decoder (limits 80 KiB of headers,
/// 1,000 fields; `HTTPRequestHandler` answers a malformed request 400), the `ConnectionGuard`
/// right after it (where the request's version and `Connection` header are still visible; it
/// also writes the responses' bytes), and `HTTPRequestHandler`, which converts to
/// swift-http-types.
/// The connection cap is applied before anything is set up.
struct BridgeHTTPChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
    }

    let limits: ConnectionLimits
    let report: LimitReport
    let cap: ConnectionCap
    let bodyLimit: Int
    let respond: HTTPRequestHandler.Respond

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let admitted = cap.admit(channel)
        return channel.eventLoop.makeCompletedFuture {
            try Self.configure(channel, limits: limits, report: report, refuse: !admitted, bodyLimit: bodyLimit,
                               logger: logger, respond: respond)
            return Value(channel: channel)
        }
    }

    /// Adds the connection's handlers to `channel`'s pipeline (on its event loop): the server's
    /// connections and the `http` fuzz target's embedded ones get the same pipeline.
    static func configure(_ channel: any Channel, limits: ConnectionLimits, report: LimitReport, refuse: Bool,
                          bodyLimit: Int, logger: Logger, respond: @escaping HTTPRequestHandler.Respond) throws {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = 80 * 1024
        decoderLimits.maxHeaderListSize = 80 * 1024
        decoderLimits.maxHeaderFieldCount = 1000
        let operations = channel.pipeline.syncOperations
        // NIO's request decoder without its response encoder: `ConnectionGuard` writes the
        // responses' bytes itself (`HTTP1ResponseSerializer`), so a whole answer is one write.
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: decoderLimits))
        try operations.addHandler(decoder)
        try operations.addHandler(ConnectionGuard(limits: limits, report: report, refuse: refuse))
        try operations.addHandler(HTTPRequestHandler(bodyLimit: bodyLimit, logger: logger, respond: respond))
    }

    /// The server's task for this connection lasts as long as the connection (graceful shutdown
    /// waits for it); requests are served by `HTTPRequestHandler`'s own tasks.
    func handle(value: Value, logger: Logger) async {
        try? await value.channel.closeFuture.get()
    }
}
