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
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
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
        return body.withUnsafeReadableBytes { bytes -> Result<Accepted, Refusal> in
            do throws(EnvelopeError) {
                let parsed = try EnvelopeScanner.parse(bytes)
                let lines: [ByteBuffer]
                switch parsed {
                case .single:
                    lines = [StdioLine.compact(bytes)]
                case .batch(let elements):
                    lines = elements.map { StdioLine.compact(UnsafeRawBufferPointer(rebasing: bytes[$0.range])) }
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
    static func response(
        for request: Request, stream: ClientStream, session: Session, headers extra: HTTPFields = [:],
        preamble: ByteBuffer? = nil, keepAlive: Duration
    ) -> Response {
        var headers = Reply.sseHeaders
        headers.append(contentsOf: extra)
        // If the client is gone before the head is written, the framework never runs the body:
        // the lease then detaches the stream when the response is dropped, so the session's open
        // stream count still returns to zero and idle reaping still happens.
        let lease = StreamLease(session: session, stream: stream)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { lease.release() }
            try await request.body.consumeWithCancellationOnInboundClose { _ in
                if let preamble { try await writer.write(preamble) }
                while true {
                    switch await stream.queue.next(timeout: keepAlive) {
                    case .element(.message(let message, _)): try await writer.write(SSEEncoding.messageEvent(message))
                    case .timedOut: try await writer.write(SSEEncoding.keepAlive)
                    case .end: return
                    }
                }
            }
            try await writer.finish(nil)
        })
    }
}
