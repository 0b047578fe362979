import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `/mcp`: the Streamable HTTP transport, protocol versions 2025-03-26 to 2025-11-25, and
/// (handed to `ModernEndpoint`) 2026-07-28 on the same path.
struct StreamableHTTPEndpoint: Sendable {
    let manager: SessionManager
    let configuration: BridgeConfiguration
    let modern: ModernEndpoint

    func respond(to request: Request, body: ByteBuffer, watch: InboundCloseWatch) async -> BridgeResponse {
        if request.method != .post, ModernEndpoint.claims(request.headers) {
            // 2026-07-28 has no GET stream and no session to DELETE.
            return Reply.methodNotAllowed(allow: "POST")
        }
        switch request.method {
        case .post: return await post(request, body: body, watch: watch)
        case .get: return get(request, watch: watch)
        case .delete: return delete(request)
        default: return Reply.methodNotAllowed(allow: "GET, POST, DELETE")
        }
    }

    // MARK: POST

    private func post(_ request: Request, body: ByteBuffer, watch: InboundCloseWatch) async -> BridgeResponse {
        let accepted = AcceptedMediaTypes(header: request.headers.combinedValue(.accept))
        guard accepted.json || accepted.eventStream else {
            return Reply.jsonRPCError(.notAcceptable, code: .serverError, message: "Not Acceptable: Accept must admit application/json or text/event-stream")
        }
        guard request.headers.combinedValue(.contentType)?.isJSONMediaType == true else {
            return Reply.jsonRPCError(.unsupportedMediaType, code: .serverError, message: "Unsupported Media Type: Content-Type must be application/json")
        }
        if case .failure(let refusal) = MessageIntake.collect(request, body: body, limit: configuration.maximumMessageBytes) {
            return refusal.response
        }
        // Each read once: every lookup walks the fields.
        let version = request.headers.combinedValue(.mcpProtocolVersion)
        let sessionID = request.headers.combinedValue(.mcpSessionID)
        if ModernEndpoint.claims(version: version, sessionID: sessionID) {
            return await modern.respond(to: request, body: body, watch: watch)
        }
        if let refusal = checkProtocolVersionHeader(version) { return refusal }
        let intake: MessageIntake.Accepted
        switch MessageIntake.accept(body) {
        case .success(let value): intake = value
        case .failure(let refusal): return refusal.response
        }
        if sessionID == nil, case .single(let envelope) = intake.parsed, envelope.kind == .request,
           !envelope.isInitializeRequest, ModernEndpoint.claims(body: body) {
            // Modern `_meta` without the version header: validation answers −32020.
            return await modern.respond(to: request, body: body, watch: watch)
        }

        let session: Session
        var responseHeaders: HTTPFields = [:]
        if let sessionID {
            guard let existing = manager.session(id: sessionID), !existing.isEnded else { return Self.sessionNotFound }
            if intake.envelopes.contains(where: \.isInitializeRequest) {
                return Reply.jsonRPCError(.badRequest, code: .invalidRequest, message: "Invalid Request: this session is already initialized")
            }
            if intake.isBatch, existing.negotiatedVersion?.allowsBatches != true {
                return Reply.jsonRPCError(.badRequest, code: .invalidRequest, message: "Invalid Request: batches are only allowed in 2025-03-26 sessions")
            }
            session = existing
        } else {
            guard case .single(let envelope) = intake.parsed, envelope.isInitializeRequest else {
                return Reply.jsonRPCError(.badRequest, code: .serverError, message: "Bad Request: Mcp-Session-Id header is required (only initialize may be sent without one)")
            }
            switch await startSession(transport: .streamableHTTP, requestID: envelope.id) {
            case .success(let created): session = created
            case .failure(let refusal): return refusal.response
            }
            responseHeaders[.mcpSessionID] = session.id
        }
        session.touch()

        let requests = intake.requests
        guard !requests.isEmpty else {
            guard await session.forward(intake.lines) else { return Self.sessionNotFound }
            return Reply.empty(.accepted)
        }
        let stream = ClientStream(kind: accepted.eventStream ? .requestSSE : .requestJSON, bufferBytes: configuration.sessions.session.streamBufferBytes)
        do {
            try session.register(requests: requests, on: stream)
        } catch .duplicateRequestID(let id) {
            return Reply.jsonRPCError(.badRequest, code: .invalidRequest, message: "Invalid Request: a request with id \(id.json) is already in flight", id: id)
        } catch {
            return Self.sessionNotFound
        }
        guard await session.forward(intake.lines) else {
            session.detach(stream)
            return Self.sessionNotFound
        }
        if stream.kind == .requestSSE {
            return await streamOrReplyJSON(request: request, stream: stream, session: session, batch: intake.isBatch,
                                           allowJSON: accepted.json, headers: responseHeaders)
        }
        return await collectJSONResponses(request: request, stream: stream, session: session, batch: intake.isBatch, headers: responseHeaders)
    }

    /// Streams SSE, unless the POST's only answer arrives within the JSON reply window with
    /// nothing before it: then a plain JSON body is cheaper and escapes clients' SSE event
    /// size caps (mcp 2.x: 1 MiB). Anything streamed first (progress, logs, server requests)
    /// or a slow answer keeps SSE, so streaming semantics are never lost. A client whose Accept
    /// admits only SSE always gets SSE.
    private func streamOrReplyJSON(request: Request, stream: ClientStream, session: Session, batch: Bool, allowJSON: Bool,
                                   headers: HTTPFields) async -> BridgeResponse {
        var preamble: ByteBuffer?
        if !batch, allowJSON, configuration.jsonReplyWindow > .zero {
            switch await stream.queue.next(timeout: configuration.jsonReplyWindow) {
            case .element(.message(let message, endsStream: true)):
                session.detach(stream)
                return Reply.json(message, headers: headers)
            case .element(.message(let message, endsStream: false)):
                preamble = SSEEncoding.messageEvent(message)
            case .timedOut:
                break
            case .end:
                session.detach(stream)
                return Self.sessionNotFound
            }
        }
        return SSEResponder.response(stream: stream, session: session, headers: headers, preamble: preamble,
                                     keepAlive: configuration.keepAliveInterval)
    }

    private func collectJSONResponses(request: Request, stream: ClientStream, session: Session, batch: Bool, headers: HTTPFields) async -> BridgeResponse {
        defer { session.detach(stream) }
        // No inbound-close watch here: a client that half-closes after sending still gets its
        // answer, and one that leaves only costs the wait for it (disconnect is not cancellation).
        var responses: [ByteBuffer] = []
        while let event = await stream.queue.next() {
            if case .message(let message, _) = event { responses.append(message) }
        }
        guard !responses.isEmpty else { return Self.sessionNotFound }
        guard batch else { return Reply.json(responses[0], headers: headers) }
        var body = ByteBuffer(string: "[")
        for (index, response) in responses.enumerated() {
            if index > 0 { body.writeString(",") }
            body.writeImmutableBuffer(response)
        }
        body.writeString("]")
        return Reply.json(body, headers: headers)
    }

    // MARK: GET and DELETE

    private func get(_ request: Request, watch: InboundCloseWatch) -> BridgeResponse {
        guard AcceptedMediaTypes(header: request.headers.combinedValue(.accept)).eventStream else {
            return Reply.jsonRPCError(.notAcceptable, code: .serverError, message: "Not Acceptable: Accept must admit text/event-stream")
        }
        if let refusal = checkProtocolVersionHeader(request) { return refusal }
        guard let sessionID = request.headers.combinedValue(.mcpSessionID) else { return Self.sessionRequired }
        guard let session = manager.session(id: sessionID) else { return Self.sessionNotFound }
        let stream = ClientStream(kind: .standalone, bufferBytes: configuration.sessions.session.streamBufferBytes)
        do {
            try session.attachStandalone(stream)
        } catch .streamAlreadyOpen {
            return Reply.jsonRPCError(.conflict, code: .serverError, message: "Conflict: only one standalone SSE stream is allowed per session")
        } catch {
            return Self.sessionNotFound
        }
        return SSEResponder.response(stream: stream, session: session, watch: watch, keepAlive: configuration.keepAliveInterval)
    }

    private func delete(_ request: Request) -> BridgeResponse {
        if let refusal = checkProtocolVersionHeader(request) { return refusal }
        guard let sessionID = request.headers.combinedValue(.mcpSessionID) else { return Self.sessionRequired }
        guard let session = manager.session(id: sessionID), !session.isEnded else { return Self.sessionNotFound }
        session.terminate(reason: "client sent DELETE")
        return Reply.empty(.ok)
    }

    // MARK: Shared checks

    /// SH-26: a version header naming a revision this bridge does not speak gets 400 (POSTs
    /// with such a header are the modern endpoint's, which answers −32022 with the list).
    private func checkProtocolVersionHeader(_ request: Request) -> BridgeResponse? {
        checkProtocolVersionHeader(request.headers.combinedValue(.mcpProtocolVersion))
    }

    private func checkProtocolVersionHeader(_ version: String?) -> BridgeResponse? {
        guard let version, ProtocolVersion(rawValue: version) == nil else { return nil }
        let supported = ProtocolVersion.allCases.map(\.rawValue).joined(separator: ", ")
        return Reply.jsonRPCError(.badRequest, code: .serverError, message: "Bad Request: Unsupported protocol version: \(version) (supported: \(supported))")
    }

    static var sessionRequired: BridgeResponse { Reply.jsonRPCError(.badRequest, code: .serverError, message: "Bad Request: Mcp-Session-Id header is required") }
    static var sessionNotFound: BridgeResponse { Reply.jsonRPCError(.notFound, code: .sessionEnded, message: "Session not found; it may have ended. Start a new one with initialize") }

    /// Creates a session and waits for its child to be running.
    func startSession(transport: Session.Transport, requestID: JSONRPCID?) async -> Result<Session, Refusal> {
        let session: Session
        do {
            session = try manager.create(transport: transport)
        } catch .limitReached(let limit) {
            return .failure(Refusal(Reply.jsonRPCError(.serviceUnavailable, code: .serverError, message: "Too many sessions: the limit of \(limit) is reached; try again later", id: requestID, headers: [.retryAfter: "5"])))
        } catch {
            return .failure(Refusal(Reply.jsonRPCError(.serviceUnavailable, code: .serverError, message: "The bridge is shutting down", id: requestID)))
        }
        if let failure = await session.waitUntilStarted() {
            return .failure(Refusal(Reply.jsonRPCError(.badGateway, code: .internalError, message: Session.describe(failure), id: requestID)))
        }
        return .success(session)
    }
}
