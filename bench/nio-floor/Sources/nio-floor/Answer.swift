import NIOCore
import NIOHTTP1

/// Answers a request with `body` as JSON (head, body and end in one flush).
enum Answer {
    static func write(_ body: ByteBuffer, to context: ChannelHandlerContext) {
        let headers: HTTPHeaders = ["Content-Type": "application/json", "Content-Length": String(body.readableBytes)]
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
    }
}
