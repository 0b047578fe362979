import AsyncAlgorithms
import HTTPTypes
import Hummingbird
import MCPConnect
import NIOCore
import NIOHTTP1
import NIOPosix

/// Forwards one front-door request to a deployment's bridge on its loopback port and streams
/// the answer back as it comes (SSE is never buffered). Chunks are handed over one at a time
/// (`AsyncThrowingChannel`): a slow client slows the read from the bridge instead of growing a
/// buffer; a client that leaves cancels the upstream request.
struct UpstreamRelay: Sendable {
    let exchange = HTTPExchange(connectTimeout: .seconds(5), group: MultiThreadedEventLoopGroup.singleton)

    /// Request headers that describe this hop, not the message.
    static let hopHeaders: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
        "proxy-connection", "host", "content-length", "user-agent", "x-api-key", "x-forwarded-for", "forwarded",
    ]
    static let hopResponseHeaders: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length",
    ]

    struct Head: Sendable {
        var status: HTTPResponse.Status
        var headers: HTTPFields
    }

    /// `rewritePrefix`: for the legacy `/sse` stream, the path prefix put before the message
    /// URL of its first (`endpoint`) event, which the bridge gives relative to its own root.
    /// `request`: watched for the client closing its side when `watchInboundClose` (GET streams,
    /// which never end on their own); a POST's stream ends with its answer or a failed write, and
    /// its connection stays open for the client's next request (as in the bridge).
    func forward(request: Request, port: Int, target: String, body: ByteBuffer?, rewritePrefix: String?,
                 watchInboundClose: Bool, onEnd: @escaping @Sendable () async -> Void) async throws -> Response {
        let method = request.method
        let headers = request.headers
        let endpoint = RemoteEndpoint(secure: false, host: "127.0.0.1", port: port, target: target)
        let forwarded = headers.filter { !Self.hopHeaders.contains($0.name.canonicalName) }.map { ($0.name.rawName, $0.value) }
        let chunks = AsyncThrowingChannel<ByteBuffer, any Error>()
        let (heads, headContinuation) = AsyncThrowingStream<Head, any Error>.makeStream()
        let exchange = self.exchange
        let task = Task {
            do {
                try await exchange.perform(HTTPMethod(rawValue: method.rawValue), endpoint, headers: forwarded, body: body) { head, body in
                    var fields = HTTPFields()
                    for (name, value) in head.headers where !Self.hopResponseHeaders.contains(name.lowercased()) {
                        if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
                    }
                    headContinuation.yield(Head(status: HTTPResponse.Status(code: Int(head.status.code)), headers: fields))
                    headContinuation.finish()
                    var rewriter = rewritePrefix.map { EndpointEventRewriter(prefix: $0) }
                    while let chunk = try await body.next() {
                        let output = rewriter?.feed(chunk) ?? chunk
                        if output.readableBytes > 0 { await chunks.send(output) }
                        try Task.checkCancellation()
                    }
                    if let rest = rewriter?.flush(), rest.readableBytes > 0 { await chunks.send(rest) }
                }
                chunks.finish()
            } catch {
                headContinuation.finish(throwing: error)
                chunks.fail(error)
            }
            await onEnd()
        }
        let head: Head
        do {
            var iterator = heads.makeAsyncIterator()
            guard let received = try await iterator.next() else { throw CancellationError() }
            head = received
        } catch {
            task.cancel()
            throw Problem.upstream("the deployment's bridge did not answer: \(error)")
        }
        let lease = UpstreamLease(task)
        return Response(status: head.status, headers: head.headers, body: ResponseBody { writer in
            defer { lease.cancel() }
            if watchInboundClose {
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    for try await chunk in chunks { try await writer.write(chunk) }
                }
            } else {
                for try await chunk in chunks { try await writer.write(chunk) }
            }
            try await writer.finish(nil)
        })
    }
}
