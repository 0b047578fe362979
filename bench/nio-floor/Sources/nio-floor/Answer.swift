import NIOCore
import NIOHTTP1

/// Answers a request with `body` as JSON: head, body and end, flushed once.
enum Answer {
    static func write(_ body: ByteBuffer, to context: ChannelHandlerContext) {
        context.write(NIOAny(HTTPServerResponsePart.head(head(for: body))), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
    }

    /// The same from a task, which holds the channel rather than a handler's context.
    static func write(_ body: ByteBuffer, to channel: any Channel) {
        channel.write(HTTPServerResponsePart.head(head(for: body)), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }

    private static func head(for body: ByteBuffer) -> HTTPResponseHead {
        HTTPResponseHead(version: .http1_1, status: .ok,
                         headers: ["Content-Type": "application/json", "Content-Length": String(body.readableBytes)])
    }
}
