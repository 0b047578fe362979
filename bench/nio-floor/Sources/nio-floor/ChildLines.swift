import NIOCore

final class ChildLines: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let link: ChildLink
    init(link: ChildLink) { self.link = link }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { link.received(unwrapInboundIn(data)) }
}
