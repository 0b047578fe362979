import NIOCore
import NIOHTTP1

/// Where a connection's responses go: the connection handler's context, so each part enters the
/// pipeline below that handler already as the guard's type. Written from the pipeline's tail instead,
/// every part went through the handler only to be converted (~4,000 instructions a response).
struct ResponseOutput: Sendable {
    let channel: any Channel
    private let context: NIOLoopBound<ChannelHandlerContext>

    /// On `context`'s event loop.
    init(context: ChannelHandlerContext) {
        channel = context.channel
        self.context = NIOLoopBound(context, eventLoop: context.eventLoop)
    }

    /// Writes `part`, from any thread: off the event loop, the write is handed to it (as a
    /// channel's own `write` does), so parts written in order leave in order.
    func write(_ part: ResponsePart, flush: Bool = false, promise: EventLoopPromise<Void>? = nil) {
        let loop = channel.eventLoop
        guard loop.inEventLoop else {
            let context = self.context
            loop.execute { Self.write(part, flush: flush, promise: promise, to: context.value) }
            return
        }
        Self.write(part, flush: flush, promise: promise, to: context.value)
    }

    private static func write(_ part: ResponsePart, flush: Bool, promise: EventLoopPromise<Void>?, to context: ChannelHandlerContext) {
        if flush {
            context.writeAndFlush(NIOAny(part), promise: promise)
        } else {
            context.write(NIOAny(part), promise: promise)
        }
    }
}
