import NIOCore
import NIOHTTP1

/// Answers every request with the nginx floor's fixed body.
final class FixedAnswer: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let body = ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"v1"}]}}"#)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        Answer.write(body, to: context)
    }
}
