import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Writes a response body to its connection. A body of known length (every JSON answer) is
/// written without a flush until its end, so head, body and end leave in one `writev`; a
/// streamed body (SSE) is flushed event by event and waits while the socket is not writable,
/// so a slow reader holds back its own stream only.
struct ChannelResponseBodyWriter: ResponseBodyWriter {
    let channel: any Channel
    let streamed: Bool

    /// Writes `response` (head, body, end) to `channel`; a body that fails half-way closes the
    /// connection, since the client cannot tell where the response ended.
    static func write(_ response: consuming Response, to channel: any Channel) async {
        var head = response.head
        head.headerFields[.date] = HTTPDate.now
        let streamed = response.body.contentLength == nil
        if streamed {
            // The client learns the stream is open now, not with its first event.
            channel.writeAndFlush(HTTPResponsePart.head(head), promise: nil)
        } else {
            channel.write(HTTPResponsePart.head(head), promise: nil)
        }
        do {
            try await response.body.write(ChannelResponseBodyWriter(channel: channel, streamed: streamed))
        } catch {
            channel.close(promise: nil)
        }
    }

    func write(_ buffer: ByteBuffer) async throws {
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        guard streamed else {
            channel.write(HTTPResponsePart.body(buffer), promise: nil)
            return
        }
        guard !channel.isWritable else {
            channel.writeAndFlush(HTTPResponsePart.body(buffer), promise: nil)
            return
        }
        // Over the high-water mark: this write waits until the socket takes it.
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(HTTPResponsePart.body(buffer), promise: written)
        try await written.futureResult.get()
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        channel.writeAndFlush(HTTPResponsePart.end(trailingHeaders), promise: nil)
    }
}
