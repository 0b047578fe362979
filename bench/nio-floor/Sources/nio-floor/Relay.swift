import NIOCore
import NIOHTTP1

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
                let line = await link.sendAwaiting(request)
                let headers: HTTPHeaders = ["Content-Type": "application/json", "Content-Length": String(line.readableBytes)]
                channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)), promise: nil)
                channel.write(HTTPServerResponsePart.body(.byteBuffer(line)), promise: nil)
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
            }
        }
    }
}
