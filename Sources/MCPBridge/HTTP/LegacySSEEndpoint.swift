import HTTPTypes
import Hummingbird
import NIOCore

/// `/sse` and `/message`: the HTTP+SSE transport of protocol 2024-11-05. One `GET /sse`
/// is one session and one child; closing that stream ends both.
struct LegacySSEEndpoint: Sendable {
    let manager: SessionManager
    let configuration: BridgeConfiguration
    let streamable: StreamableHTTPEndpoint

    func openStream(_ request: Request, watch: InboundCloseWatch) async -> BridgeResponse {
        guard request.method == .get else { return Reply.methodNotAllowed(allow: "GET") }
        let session: Session
        switch await streamable.startSession(transport: .legacySSE, requestID: nil) {
        case .success(let created): session = created
        case .failure(let refusal): return refusal.response
        }
        let stream = ClientStream(kind: .legacy, bufferBytes: configuration.sessions.session.streamBufferBytes)
        do {
            try session.attachLegacy(stream)
        } catch {
            return StreamableHTTPEndpoint.sessionNotFound
        }
        let endpoint = SSEEncoding.event("endpoint", data: "\(configuration.basePath)/message?sessionId=\(session.id)")
        return SSEResponder.response(stream: stream, session: session, watch: watch, preamble: endpoint, keepAlive: configuration.keepAliveInterval)
    }

    func postMessage(_ request: Request, body: ByteBuffer) async -> BridgeResponse {
        guard request.method == .post else { return Reply.methodNotAllowed(allow: "POST") }
        guard let sessionID = request.uri.queryParameters["sessionId"].map(String.init), !sessionID.isEmpty else {
            return Reply.jsonRPCError(.badRequest, code: .serverError, message: "Bad Request: sessionId query parameter is required")
        }
        guard sessionID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return Reply.jsonRPCError(.badRequest, code: .serverError, message: "Bad Request: malformed sessionId")
        }
        guard let session = manager.session(id: sessionID), session.transport == .legacySSE, !session.isEnded else {
            return Reply.jsonRPCError(.notFound, code: .sessionEnded, message: "Session not found; open a new /sse stream")
        }
        guard request.headers.combinedValue(.contentType)?.isJSONMediaType == true else {
            return Reply.jsonRPCError(.badRequest, code: .serverError, message: "Bad Request: Content-Type must be application/json")
        }
        let intake: MessageIntake.Accepted
        switch MessageIntake.read(request, body: body, limit: configuration.maximumMessageBytes) {
        case .success(let value): intake = value
        case .failure(let refusal): return refusal.response
        }
        if intake.isBatch, session.negotiatedVersion?.allowsBatches != true {
            return Reply.jsonRPCError(.badRequest, code: .invalidRequest, message: "Invalid Request: batches are only allowed in 2025-03-26 sessions")
        }
        session.touch()
        do {
            try session.registerLegacy(requests: intake.requests)
        } catch .duplicateRequestID(let id) {
            return Reply.jsonRPCError(.badRequest, code: .invalidRequest, message: "Invalid Request: a request with id \(id.json) is already in flight", id: id)
        } catch {
            return Reply.jsonRPCError(.notFound, code: .sessionEnded, message: "Session not found; open a new /sse stream")
        }
        guard await session.forward(intake.lines) else {
            // One answer per request: a 404 here, or (when the session's end got there first)
            // the error it already put on the stream.
            guard session.withdraw(intake.requests) else { return Self.accepted }
            return Reply.jsonRPCError(.notFound, code: .sessionEnded, message: "Session not found; open a new /sse stream")
        }
        return Self.accepted
    }

    private static var accepted: BridgeResponse {
        BridgeResponse(status: .accepted, headers: [.contentType: "text/plain; charset=utf-8"], body: .whole(ByteBuffer(string: "Accepted")))
    }
}
