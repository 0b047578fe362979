import HTTPTypes
import Hummingbird
import NIOCore

/// Reading and validating a POSTed JSON-RPC body, shared by `/mcp` and `/message`.
enum MessageIntake {
    struct Accepted {
        var parsed: ParsedMessage
        /// One compacted stdio line per message, in order.
        var lines: [ByteBuffer]
        /// Every message's envelope, in order, and those that are requests (made once here:
        /// `ParsedMessage.envelopes` builds a new array on every call).
        var envelopes: [Envelope]
        var requests: [Envelope]

        init(parsed: ParsedMessage, lines: [ByteBuffer]) {
            self.parsed = parsed
            self.lines = lines
            envelopes = parsed.envelopes
            // All requests (a single call, the common case): the same storage, no copy.
            requests = envelopes.allSatisfy { $0.kind == .request } ? envelopes : envelopes.filter { $0.kind == .request }
        }

        var isBatch: Bool {
            if case .batch = parsed { return true }
            return false
        }
    }

    /// Takes the body under `limit` (413 beyond it) and validates it (400 with −32700/−32600).
    static func read(_ request: Request, body: ByteBuffer, limit: Int) -> Result<Accepted, Refusal> {
        collect(request, body: body, limit: limit).flatMap(accept)
    }

    /// The body, already collected by the connection's handler (`BridgeRequestContext.body`),
    /// if it is within `limit`; 413 beyond it, whether `Content-Length` says so (the body was
    /// not read) or the body itself does (the handler keeps one byte past the limit).
    static func collect(_ request: Request, body: ByteBuffer, limit: Int) -> Result<ByteBuffer, Refusal> {
        if let length = request.headers.combinedValue(.contentLength).flatMap(Int.init), length > limit {
            return .failure(Refusal(tooLarge(limit)))
        }
        guard body.readableBytes <= limit else { return .failure(Refusal(tooLarge(limit))) }
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
                    lines = [StdioLine.line(bytes, of: body, at: 0)]
                case .batch(let elements):
                    lines = elements.map { StdioLine.line(UnsafeRawBufferPointer(rebasing: bytes[$0.range]), of: body, at: $0.range.lowerBound) }
                }
                let accepted = Accepted(parsed: parsed, lines: lines)
                if let odd = accepted.requests.first(where: { $0.id?.isPortable == false }), let id = odd.id {
                    let shown = id.json.count > 40 ? String(id.json.prefix(40)) + "…" : id.json
                    return .failure(Refusal(Reply.jsonRPCError(
                        .badRequest, code: .invalidRequest,
                        message: "Invalid Request: a numeric id must be an integer within ±9007199254740991 without fraction or exponent (got \(shown)); use a string id")))
                }
                return .success(accepted)
            } catch {
                return .failure(Refusal(Reply.jsonRPCError(.badRequest, code: error.code, message: error.message)))
            }
        }
    }

    static func tooLarge(_ limit: Int) -> BridgeResponse {
        Reply.jsonRPCError(.contentTooLarge, code: .serverError, message: "Request body exceeds the limit of \(limit) bytes")
    }
}

/// Streams a `ClientStream` to the client as server-sent events until it finishes, the
/// client goes away, or the write fails; then detaches it from its session.
enum SSEResponder {
    /// - Parameter watch: end the stream as soon as the client closes its side (the
    ///   connection's watch). Right for GET and legacy streams, which never end on their own,
    ///   and for 2026-07-28 calls, where closing is cancelling. A 2025 POST's stream ends with its
    ///   answer and is not watched (`nil`): a client that half-closes after sending still gets it;
    ///   one that leaves is noticed by a failed write (keep-alives come every `keepAlive`).
    static func response(
        stream: ClientStream, session: Session, watch: InboundCloseWatch? = nil, headers extra: HTTPFields = [:],
        preamble: ByteBuffer? = nil, keepAlive: Duration
    ) -> BridgeResponse {
        response(stream: stream, watch: watch, headers: extra, preamble: preamble, keepAlive: keepAlive) {
            session.detach(stream)
        }
    }

    /// The same for a stream that belongs to no session; `release` runs once when it ends.
    static func response(
        stream: ClientStream, watch: InboundCloseWatch?, headers extra: HTTPFields = [:], preamble: ByteBuffer? = nil,
        keepAlive: Duration, release: @escaping @Sendable () -> Void
    ) -> BridgeResponse {
        var headers = Reply.sseHeaders
        headers.append(contentsOf: extra)
        // Should the body never run (a response dropped unwritten), the lease detaches the stream
        // when the response goes, so the session's open stream count still returns to zero and
        // idle reaping still happens.
        let lease = StreamLease(release)
        return BridgeResponse(status: .ok, headers: headers, body: .stream(ResponseBody { writer in
            defer { lease.release() }
            if let watch {
                try await watch.cancellingOnClose {
                    try await pump(stream, into: &writer, preamble: preamble, keepAlive: keepAlive)
                }
            } else {
                try await pump(stream, into: &writer, preamble: preamble, keepAlive: keepAlive)
            }
            try await writer.finish(nil)
        }))
    }

    // `@concurrent`, as Hummingbird's writer is: the writer passed in belongs to the body's task.
    @concurrent
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
