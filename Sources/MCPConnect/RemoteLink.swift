import Logging
import MCPBridge
import NIOCore
import NIOHTTP1

/// What both transports share: how to reach the server and where its messages go.
struct RemoteLink: Sendable {
    let exchange: HTTPExchange
    let endpoint: RemoteEndpoint
    /// Authorization and the user's extra headers, sent with every request.
    let baseHeaders: [(String, String)]
    let sink: ClientSink
    let logger: Logger
    let maximumMessageBytes: Int

    var hasToken: Bool { baseHeaders.contains { $0.0.lowercased() == "authorization" } }

    /// 401 or 403 as the failure that says whether a token was sent.
    func unauthorized(_ status: UInt) -> ConnectFailure {
        .unauthorized(status: Int(status), hasToken: hasToken)
    }

    /// Whether a response streams Server-Sent Events.
    static func isEventStream(_ head: HTTPResponseHead) -> Bool {
        head.headers["content-type"].first?.lowercased().hasPrefix("text/event-stream") ?? false
    }

    /// Hands every event of an SSE body to `handle` as it arrives; an event over the message
    /// limit ends the stream with `tooLarge`.
    func forEachEvent(in body: inout HTTPExchange.Body, _ handle: (SSEDecoder.Event) async throws -> Void) async throws {
        var decoder = SSEDecoder(maximumEventBytes: maximumMessageBytes)
        var events: [SSEDecoder.Event] = []
        while let chunk = try await body.next() {
            do {
                try decoder.feed(chunk.readableBytesView, into: &events)
            } catch {
                throw ConnectFailure.tooLarge(limit: maximumMessageBytes)
            }
            for event in events { try await handle(event) }
            events.removeAll(keepingCapacity: true)
        }
    }
}
