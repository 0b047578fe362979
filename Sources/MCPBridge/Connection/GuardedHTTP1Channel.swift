import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1 child channel with a `ConnectionGuard` placed right after the HTTP
/// decoder, where the request's version and `Connection` header are still visible, and the
/// connection cap applied before anything is set up.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let limits: ConnectionLimits
    let report: LimitReport
    let cap: ConnectionCap

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let admitted = cap.admit(channel)
        let limits = self.limits, report = self.report
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try operations.addHandler(ConnectionGuard(limits: limits, report: report, refuse: !admitted), position: .after(decoder))
            return value
        }
    }

    /// The connection's requests are handled on its own event loop (see `EventLoopTaskExecutor`).
    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor.on(value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}
