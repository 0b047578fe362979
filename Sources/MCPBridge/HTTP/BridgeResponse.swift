import HTTPTypes
import Hummingbird
import NIOCore

/// An answer of the bridge: a status, fields and a body known whole (every JSON answer and
/// refusal) or streamed (SSE, through Hummingbird's body writer). A whole body goes to the
/// connection with its head as one write, past Hummingbird's body writer, whose calls hop and
/// box the writer: ~5,000 instructions a call (bench/NOTES.md, round two, thirteenth part).
struct BridgeResponse: Sendable {
    enum Body: Sendable {
        case whole(ByteBuffer)
        case stream(ResponseBody)
    }

    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: Body

    /// A whole body's `Content-Length` is written with it, in the place of any in `headers`; a
    /// stream without one in `headers` is chunked (or, to an HTTP/1.0 client, ends with the
    /// connection).
    init(status: HTTPResponse.Status, headers: HTTPFields = [:], body: Body = .whole(ByteBuffer())) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    var head: HTTPResponse { HTTPResponse(status: status, headerFields: headers) }
}
