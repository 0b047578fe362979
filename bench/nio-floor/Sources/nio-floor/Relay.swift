import NIOCore
import NIOHTTP1

/// Sends each request's body to the child and answers with the line it writes back: from the
/// handler (`pipe`), or from a task per request awaiting that line (`task`).
final class Relay: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let link: ChildLink
    private let executor: LoopExecutor?
    private var body: ByteBuffer?

    init(link: ChildLink, executor: LoopExecutor?) { self.link = link; self.executor = executor }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: body = nil
        case .body(var chunk):
            if body == nil { body = chunk } else { body?.writeBuffer(&chunk) }
        case .end:
            let request = body ?? ByteBuffer()
            body = nil
            guard let executor else { return link.send(request, for: context) }
            let link = self.link, channel = context.channel
            Task(executorPreference: executor) {
                Answer.write(await link.sendAwaiting(request), to: channel)
            }
        }
    }
}
