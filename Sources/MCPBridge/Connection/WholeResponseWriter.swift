import HTTPTypes
import Hummingbird
import NIOCore

/// Collects a body of known length and writes it with its head when it ends, as one part
/// (`ResponsePart.whole`): one pass through the pipeline and one buffer, not three of each.
/// Hummingbird's bodies of known length (a buffer, or empty) always end with `finish`.
struct WholeResponseWriter: ResponseBodyWriter {
    let output: ResponseOutput
    let head: HTTPResponse
    private var body: ByteBuffer?

    init(output: ResponseOutput, head: HTTPResponse) {
        self.output = output
        self.head = head
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        if body == nil {
            body = buffer
        } else {
            body?.writeImmutableBuffer(buffer)
        }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        output.write(.whole(head, body: body ?? ByteBuffer()), flush: true)
    }
}
