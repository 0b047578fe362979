import HTTPTypes
import NIOCore

/// What the bridge writes to a connection, above `ConnectionGuard`: a response in parts (a head,
/// then its body as it comes), or a whole response whose body is known, which leaves as one write. As three parts, a JSON answer
/// went through the pipeline three times, each time cast out of `NIOAny` and framed by NIO's
/// encoder: ~31,000 instructions of a ~154,000-instruction call (callgrind, bench/NOTES.md).
enum ResponsePart {
    case head(HTTPResponse)
    case body(ByteBuffer)
    case end
    case whole(HTTPResponse, body: ByteBuffer)
}
