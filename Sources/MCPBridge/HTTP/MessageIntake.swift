import HTTPTypes
import Hummingbird
import NIOCore

/// Reading and validating a POSTed JSON-RPC body, shared by `/mcp` and `/message`.
enum MessageIntake {
    struct Accepted {
        var parsed: ParsedMessage
        /// One compacted stdio line per message, in order.
        var lines: [ByteBuffer]
        var requests: [Envelope] { parsed.envelopes.filter { $0.kind == .request } }
        var isBatch: Bool {
            if case .batch = parsed { return true }
            return false
        }
    }

    /// Collects the body under `limit` (413 beyond it) and validates it (400 with −32700/−32600).
    static func read(_ request: inout Request, limit: Int) async -> Result<Accepted, Refusal> {
        await collect(&request, limit: limit).flatMap(accept)
    }

    /// Collects the body under `limit` (413 beyond it).
    static func collect(_ request: inout Request, limit: Int) async -> Result<ByteBuffer, Refusal> {
        if let length = request.headers.combinedValue(.contentLength).flatMap(Int.init), length > limit {
            return .failure(Refusal(tooLarge(limit)))
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return .failure(Refusal(tooLarge(limit)))
        } catch is NIOTooManyBytesError {
            // A chunked body (no Content-Length) over the limit ends here: a 413 like any other.
            return .failure(Refusal(tooLarge(limit)))
        } catch {
            return .failure(Refusal(Reply.jsonRPCError(.badRequest, code: .parseError, message: "Could not read the request body")))
        }
        return .success(body)
    }

    /// Validates a collected body as JSON-RPC (400 with −32700/−32600).
    static func accept(_ body: ByteBuffer) -> Result<Accepted, Refusal> {
        body.withUnsafeReadableBytes { bytes -> Result<Accepted, Refusal> in
            do throws(EnvelopeError) {
                let parsed = try EnvelopeScanner.parse(bytes)
                let lines: [ByteBuffer]
                switch parsed {
                case .single:
                    lines = [StdioLine.compact(bytes)]
                case .batch(let elements):
                    lines = elements.map { StdioLine.compact(UnsafeRawBufferPointer(rebasing: bytes[$0.range])) }
                }
                if let odd = parsed.envelopes.first(where: { $0.kind == .request && $0.id?.isPortable == false }), let id = odd.id {
                    let shown = id.json.count > 40 ? String(id.json.prefix(40)) + "…" : id.json
                    return .failure(Refusal(Reply.jsonRPCError(
                        .badRequest, code: .invalidRequest,
                        message: "Invalid Request: a numeric id must be an integer within ±9007199254740991 without fraction or exponent (got \(shown)); use a string id")))
                }
                return .success(Accepted(parsed: parsed, lines: lines))
            } catch {
                return .failure(Refusal(Reply.jsonRPCError(.badRequest, code: error.code, message: error.message)))
            }
        }
    }

    static func tooLarge(_ limit: Int) -> Response {
        Reply.jsonRPCError(.contentTooLarge, code: .serverError, message: "Request body exceeds the limit of \(limit) bytes")
    }
}

/// Streams a `ClientStream` to the client as server-sent events until it finishes, the
/// client goes away, or the write fails; then detaches it from its session.
enum SSEResponder {
    /// - Parameter watchInboundClose: end the stream as soon as the client closes its side. Right
    ///   for GET and legacy streams, which never end on their own; but the framework then closes
    ///   the connection after the response, so a POST's stream (which ends with its answer) is
    ///   instead ended by a failed write (keep-alives come every `keepAlive` at the latest) and its
    ///   connection stays open for the client's next request.
    static func response(
        for request: Request, stream: ClientStream, session: Session, headers extra: HTTPFields = [:],
        preamble: ByteBuffer? = nil, keepAlive: Duration, watchInboundClose: Bool = true
    ) -> Response {
        response(for: request, stream: stream, headers: extra, preamble: preamble, keepAlive: keepAlive,
                 watchInboundClose: watchInboundClose) { session.detach(stream) }
    }

    /// The same for a stream that belongs to no session; `release` runs once when it ends.
    static func response(
        for request: Request, stream: ClientStream, headers extra: HTTPFields = [:], preamble: ByteBuffer? = nil,
        keepAlive: Duration, watchInboundClose: Bool = true, release: @escaping @Sendable () -> Void
    ) -> Response {
        var headers = Reply.sseHeaders
        headers.append(contentsOf: extra)
        // If the client is gone before the head is written, the framework never runs the body:
        // the lease then detaches the stream when the response is dropped, so the session's open
        // stream count still returns to zero and idle reaping still happens.
        let lease = StreamLease(release)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { lease.release() }
            if watchInboundClose {
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    try await pump(stream, into: &writer, preamble: preamble, keepAlive: keepAlive)
                }
            } else {
                try await pump(stream, into: &writer, preamble: preamble, keepAlive: keepAlive)
            }
            try await writer.finish(nil)
        })
    }

    private static func pump(_ stream: ClientStream, into writer: inout any ResponseBodyWriter, preamble: ByteBuffer?,
                             keepAlive: Duration) async throws {
        if let preamble { try await writer.write(preamble) }
        while true {
            switch await stream.queue.next(timeout: keepAlive) {
            case .element(.message(let message, _)): try await writer.write(SSEEncoding.messageEvent(message))
            case .timedOut: try await writer.write(SSEEncoding.keepAlive)
            case .end: return
            }
        }
    }
}
