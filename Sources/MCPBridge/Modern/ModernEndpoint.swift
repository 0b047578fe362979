import HTTPTypes
import Hummingbird
import NIOCore

/// `/mcp` for 2026-07-28 clients: sessionless requests served by the child pool, beside the
/// session-based revisions on the same endpoint (dual-era).
struct ModernEndpoint: Sendable {
    let pool: ChildPool
    let configuration: BridgeConfiguration

    /// Whether a request should be served as 2026-07-28: a version header naming no
    /// initialize-era revision, or (without one) a session-less body carrying the modern `_meta`.
    /// With a session id, only 2026-07-28 itself counts: an unknown version there is a session
    /// client's mistake, answered by the session path (400, with its supported versions).
    static func claims(_ headers: HTTPFields) -> Bool {
        claims(version: headers.combinedValue(.mcpProtocolVersion), sessionID: headers.combinedValue(.mcpSessionID))
    }

    /// `claims` on the two headers' values, for a caller that has read them already.
    static func claims(version: String?, sessionID: String?) -> Bool {
        guard let version, !ModernProtocol.isLegacy(version: version) else { return false }
        return sessionID == nil || version == ModernProtocol.version
    }

    static func claims(body: ByteBuffer) -> Bool {
        body.readableBytesView.firstRange(of: Array(ModernProtocol.protocolVersionKey.utf8)) != nil
    }

    func respond(to request: Request, body: ByteBuffer, watch: InboundCloseWatch) async -> BridgeResponse {
        let message: ModernMessage
        switch ModernRequest.validate(body: body, headers: request.headers) {
        case .success(let value): message = value
        case .failure(let refusal): return Self.refuse(refusal)
        }
        guard case .request(let modern) = message else { return Reply.empty(.accepted) }
        guard ModernProtocol.methods.contains(modern.method) else {
            return Self.refuse(ModernRefusal(status: .notFound, code: -32601, message: "Method not found: \(modern.method)", id: modern.id))
        }
        if let token = modern.requestState {
            return await continueHeld(modern, token: token, request: request, watch: watch)
        }
        let child: PoolChild
        switch await pool.acquire(interactive: ModernProtocol.interactiveMethods.contains(modern.method)) {
        case .success(let acquired): child = acquired
        case .failure(let refusal): return Self.unavailable(refusal, id: modern.id)
        }
        if child.era == .legacy {
            // Non-interactive methods hold no reservation, so answering here leaks nothing.
            if modern.method == "server/discover", let initialize = child.initializeResult {
                return Reply.json(LegacyAdapter.response(id: modern.id, result: LegacyAdapter.discoverResult(initializeResult: initialize)).buffer)
            }
            if modern.method == "subscriptions/listen" {
                return await listen(modern, request: request, watch: watch, capabilities: child.initializeResult?["capabilities"])
            }
        }
        return await call(modern, on: child, request: request, watch: watch)
    }

    private func call(_ modern: ModernRequest, on child: PoolChild, request: Request, watch: InboundCloseWatch) async -> BridgeResponse {
        let stream = ClientStream(kind: .requestSSE, bufferBytes: pool.streamBufferBytes)
        guard let callID = await child.start(modern, stream: stream) else {
            return Self.unavailable(.unavailable("the MCP server process ended"), id: modern.id)
        }
        return await reply(request: request, watch: watch, id: modern.id, stream: stream, longLived: modern.method == "subscriptions/listen") {
            child.streamClosed(callID: callID, stream: stream)
        }
    }

    /// A retry carrying `requestState`: the held call continues on the child that holds it.
    private func continueHeld(_ modern: ModernRequest, token: String, request: Request, watch: InboundCloseWatch) async -> BridgeResponse {
        if ChildPool.isBridgeState(token) {
            let unknown = Self.unknownState(id: modern.id)
            guard let peeked = pool.peekHeld(token) else { return unknown }
            guard peeked.child.isRetry(of: peeked.callID, heldState: token, request: modern) else {
                return Self.rpcError(id: modern.id, code: -32602, message: "Invalid params: requestState belongs to another request; retry the original one")
            }
            guard let held = pool.takeHeld(token) else { return unknown }
            let stream = ClientStream(kind: .requestSSE, bufferBytes: pool.streamBufferBytes)
            guard await held.child.resume(callID: held.callID, heldState: token, with: modern, stream: stream) else {
                return Self.rpcError(id: modern.id, code: -32602, message: "Invalid params: requestState does not belong to this request")
            }
            return await reply(request: request, watch: watch, id: modern.id, stream: stream, longLived: false) {
                held.child.streamClosed(callID: held.callID, stream: stream)
            }
        }
        // A modern child's own state: back to the process that issued it, if it still runs.
        if let child = pool.child(forModernState: token), !child.isEnded {
            return await call(modern, on: child, request: request, watch: watch)
        }
        switch await pool.acquire(interactive: true) {
        case .success(let child) where child.era == .legacy:
            // A legacy child has no state of its own to continue: never run the call afresh.
            child.releaseReservation()
            return Self.unknownState(id: modern.id)
        case .success(let child): return await call(modern, on: child, request: request, watch: watch)
        case .failure(let refusal): return Self.unavailable(refusal, id: modern.id)
        }
    }

    private func listen(_ modern: ModernRequest, request: Request, watch: InboundCloseWatch, capabilities: JSONValue?) async -> BridgeResponse {
        let stream = ClientStream(kind: .requestSSE, bufferBytes: pool.streamBufferBytes)
        let key = await pool.listen(modern, stream: stream, capabilities: capabilities)
        let pool = self.pool
        return SSEResponder.response(stream: stream, watch: watch, keepAlive: configuration.keepAliveInterval) {
            stream.queue.close()
            pool.stopListening(key)
        }
    }

    /// Plain JSON when the only answer comes quickly; otherwise SSE, watched so that a client
    /// closing the stream cancels the request (2026-07-28 has no other cancellation on HTTP).
    private func reply(request: Request, watch: InboundCloseWatch, id: JSONValue, stream: ClientStream, longLived: Bool,
                       closed: @escaping @Sendable () -> Void) async -> BridgeResponse {
        var preamble: ByteBuffer?
        let accepted = AcceptedMediaTypes(header: request.headers.combinedValue(.accept))
        if !accepted.eventStream, !longLived {
            // A client that takes only JSON gets the answer alone, whenever it comes.
            defer { closed() }
            while case .message(let message, let last)? = await stream.queue.next() {
                if last { return Reply.json(message) }
            }
            return Self.unavailable(.unavailable("the MCP server process ended"), id: id)
        }
        let window = min(configuration.jsonReplyWindow, .seconds(1))
        if !longLived, window > .zero, accepted.json {
            switch await stream.queue.next(timeout: window) {
            case .element(.message(let message, endsStream: true)):
                closed()
                return Reply.json(message)
            case .element(.message(let message, endsStream: false)):
                preamble = SSEEncoding.messageEvent(message)
            case .timedOut:
                break
            case .end:
                closed()
                return Self.unavailable(.unavailable("the MCP server process ended"), id: id)
            }
        }
        return SSEResponder.response(stream: stream, watch: watch, preamble: preamble, keepAlive: configuration.keepAliveInterval) {
            stream.queue.close()
            closed()
        }
    }

    static func refuse(_ refusal: ModernRefusal) -> BridgeResponse {
        BridgeResponse(status: refusal.status, headers: [.contentType: "application/json"], body: .whole(refusal.body))
    }

    /// A JSON-RPC error about the request itself (not the transport): HTTP 200, like a result.
    static func rpcError(id: JSONValue, code: Int, message: String) -> BridgeResponse {
        Reply.json(LegacyAdapter.errorResponse(id: id, code: code, message: message).buffer)
    }

    static func unknownState(id: JSONValue) -> BridgeResponse {
        rpcError(id: id, code: -32602,
                 message: "Invalid params: requestState is unknown or expired (the bridge keeps it for its --input-timeout); call again without it")
    }

    static func unavailable(_ refusal: ChildPool.Refusal, id: JSONValue?) -> BridgeResponse {
        let message = switch refusal {
        case .shuttingDown: "The bridge is shutting down"
        case .unavailable(let why): "No MCP server process is available: \(why)"
        }
        return refuse(ModernRefusal(status: .serviceUnavailable, code: -32000, message: message, id: id))
    }
}
