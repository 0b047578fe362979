import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Writes a response body to its connection. A body of known length (every JSON answer) is
/// written without a flush until its end, so head, body and end leave in one `writev`; a
/// streamed body (SSE) is flushed event by event and waits while the socket is not writable,
/// so a slow reader holds back its own stream only.
struct ChannelResponseBodyWriter: ResponseBodyWriter {
    let output: ResponseOutput
    let streamed: Bool

    /// Writes `response` (head, body, end) to `output`; a body that fails half-way closes the
    /// connection, since the client cannot tell where the response ended.
    static func write(_ response: consuming Response, to output: ResponseOutput) async {
        var head = HTTPResponseHead(response.head)
        // Added to NIO's head, not to swift-http-types' fields before the conversion: no response
        // has a Date before this, and an `HTTPFields` append is a generic replace plus a check
        // of the value (~1,300 instructions, against ~150).
        head.headers.add(name: "Date", value: HTTPDate.now)
        let streamed = response.body.contentLength == nil
        // A stream's client learns it is open now, not with its first event.
        output.write(.head(head), flush: streamed)
        do {
            try await response.body.write(ChannelResponseBodyWriter(output: output, streamed: streamed))
        } catch {
            output.channel.close(promise: nil)
        }
    }

    func write(_ buffer: ByteBuffer) async throws {
        let channel = output.channel
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        guard streamed else {
            output.write(.body(.byteBuffer(buffer)))
            return
        }
        guard !channel.isWritable else {
            output.write(.body(.byteBuffer(buffer)), flush: true)
            return
        }
        // Over the high-water mark: this write waits until the socket takes it.
        let written = channel.eventLoop.makePromise(of: Void.self)
        output.write(.body(.byteBuffer(buffer)), flush: true, promise: written)
        try await written.futureResult.get()
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        output.write(.end(trailingHeaders.map(HTTPHeaders.init)), flush: true)
    }
}
