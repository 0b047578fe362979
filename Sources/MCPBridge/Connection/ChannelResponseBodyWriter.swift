import HTTPTypes
import Hummingbird
import NIOCore

/// Writes a response to its connection. A whole body (every JSON answer) leaves with its head as
/// one write; a streamed body (SSE) follows its head event by event, flushed each time, and waits
/// while the socket is not writable, so a slow reader holds back its own stream only.
struct ChannelResponseBodyWriter: ResponseBodyWriter {
    let output: ResponseOutput

    /// Writes `response` to `output`; a body that fails half-way closes the connection, since the
    /// client cannot tell where the response ended.
    static func write(_ response: BridgeResponse, to output: ResponseOutput) async {
        let head = response.head
        do {
            switch response.body {
            case .whole(let body):
                output.write(.whole(head, body: body), flush: true)
            case .stream(let body):
                // A stream's client learns it is open now, not with its first event.
                output.write(.head(head), flush: true)
                try await body.write(ChannelResponseBodyWriter(output: output))
            }
        } catch {
            output.channel.close(promise: nil)
        }
    }

    func write(_ buffer: ByteBuffer) async throws {
        let channel = output.channel
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        guard !channel.isWritable else {
            output.write(.body(buffer), flush: true)
            return
        }
        // Over the high-water mark: this write waits until the socket takes it.
        let written = channel.eventLoop.makePromise(of: Void.self)
        output.write(.body(buffer), flush: true, promise: written)
        try await written.futureResult.get()
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        output.write(.end, flush: true)
    }
}
