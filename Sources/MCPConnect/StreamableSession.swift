import Logging
import MCPBridge
import NIOCore
import NIOHTTP1

/// The Streamable HTTP side of the relay: each client message is a POST; answers come back as
/// JSON or an SSE stream; server-initiated messages also arrive on a GET stream. A session the
/// server has forgotten (404) is replaced by replaying the client's own `initialize`.
actor StreamableSession {
    private let link: RemoteLink

    private var sessionID: String?
    private var protocolVersion: String?
    private var initializeMessage: ClientMessage?
    private var listener: Task<Void, Never>?
    private var renewal: Task<Void, any Error>?
    private var generation = 0

    init(link: RemoteLink) {
        self.link = link
    }

    /// Sends one client message; returns the ids of the requests in it that were answered.
    func send(_ message: ClientMessage) async throws -> Set<JSONRPCID> {
        if message.isInitialize {
            initializeMessage = message
            let (answered, session) = try await post(message, headers: headers(), deliver: true)
            try adopt(session)
            return answered
        }
        if let renewal { try await renewal.value }
        let started = generation
        let answered: Set<JSONRPCID>
        do {
            answered = try await post(message, headers: headers(), deliver: true).answered
        } catch is RemoteReply.SessionExpired {
            try await renew(after: started)
            answered = try await post(message, headers: headers(), deliver: true).answered
        }
        if message.isInitializedNotification { listen() }
        return answered
    }

    /// Ends the remote session (DELETE), within `timeout`.
    func close(timeout: Duration) async {
        listener?.cancel()
        guard let sessionID else { return }
        self.sessionID = nil
        let headers = headers(session: sessionID)
        let link = self.link
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try? await link.exchange.perform(.DELETE, link.endpoint, headers: headers, body: nil) { head, _ in head.status.code }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func headers(session: String? = nil) -> [(String, String)] {
        var headers = link.baseHeaders
        if let id = session ?? sessionID { headers.append(("Mcp-Session-Id", id)) }
        if let protocolVersion { headers.append(("MCP-Protocol-Version", protocolVersion)) }
        return headers
    }

    /// Takes the session the server assigned; its id is echoed in every request, so anything but
    /// visible ASCII (as the spec requires) is refused rather than sent on as a header.
    private func adopt(_ session: (id: String?, version: String?)) throws {
        if let id = session.id, id.isEmpty || id.utf8.count > 1024 || !id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            throw ConnectFailure.protocolViolation("the Mcp-Session-Id it assigned is not visible ASCII")
        }
        sessionID = session.id
        if let version = session.version { protocolVersion = version }
    }

    /// Replaces an expired session once, however many requests found it expired.
    private func renew(after started: Int) async throws {
        if let renewal {
            try await renewal.value
            return
        }
        guard started == generation else { return }
        let task = Task { try await self.replay() }
        renewal = task
        defer { renewal = nil }
        try await task.value
    }

    private func replay() async throws {
        listener?.cancel()
        listener = nil
        sessionID = nil
        guard let initializeMessage else {
            throw ConnectFailure.protocolViolation("the session expired before the client initialized")
        }
        link.logger.notice("the remote session ended; starting a new one with the client's initialize")
        let (_, session) = try await post(initializeMessage, headers: headers(), deliver: false)
        try adopt(session)
        generation += 1
        _ = try await post(.initialized, headers: headers(), deliver: true)
        listen()
    }

    /// Opens the GET stream for server-initiated messages (reopened while the session lives).
    private func listen() {
        guard listener == nil, sessionID != nil else { return }
        let headers = headers() + [("Accept", "text/event-stream")]
        listener = Task { await self.listenLoop(headers: headers) }
    }

    private nonisolated func listenLoop(headers: [(String, String)]) async {
        var delay = Duration.milliseconds(500)
        while !Task.isCancelled {
            enum Outcome { case ended, stop(String), retry(String) }
            let outcome: Outcome
            do {
                outcome = try await link.exchange.perform(.GET, link.endpoint, headers: headers, body: nil) { head, body in
                    switch head.status.code {
                    case 200 where RemoteLink.isEventStream(head):
                        try await self.relayEvents(&body, deliver: true)
                        return .ended
                    case 405: return .stop("the server offers no GET stream (405)")
                    case 404: return .stop("the session ended (404)")
                    case 401, 403: return .stop("the server refused the GET stream (HTTP \(head.status.code))")
                    default: return .retry("HTTP \(head.status.code)")
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                outcome = .retry("\(error)")
            }
            switch outcome {
            case .ended:
                delay = .milliseconds(500)
            case .stop(let why):
                link.logger.debug("GET stream closed: \(why)")
                return
            case .retry(let why):
                link.logger.debug("GET stream failed (\(why)); retrying in \(delay)")
                delay = min(delay * 2, .seconds(30))
            }
            try? await Task.sleep(for: delay)
        }
    }

    /// Delivers every message event of an SSE body; returns the ids of the responses among them.
    @discardableResult
    private nonisolated func relayEvents(_ body: inout HTTPExchange.Body, deliver: Bool) async throws -> (answered: Set<JSONRPCID>, version: String?) {
        var answered = Set<JSONRPCID>()
        var version: String?
        try await link.forEachEvent(in: &body) { event in
            guard event.isMessage else { return }
            let bytes = Array(event.data.utf8)
            answered.formUnion(RemoteReply.responseIDs(in: bytes))
            if version == nil { version = Self.negotiatedVersion(bytes) }
            if deliver { try await link.sink.deliver(bytes) }
        }
        return (answered, version)
    }

    private static func negotiatedVersion(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { EnvelopeScanner.initializeResultVersion($0)?.text }
    }

    /// One POST; answers go to the client when `deliver`. Returns the answered request ids and,
    /// for `initialize`, the new session's id and protocol version.
    private nonisolated func post(_ message: ClientMessage, headers: [(String, String)], deliver: Bool) async throws
        -> (answered: Set<JSONRPCID>, session: (id: String?, version: String?))
    {
        let hasSession = headers.contains { $0.0 == "Mcp-Session-Id" }
        let all = headers + [("Accept", "application/json, text/event-stream"), ("Content-Type", "application/json")]
        let limit = link.maximumMessageBytes
        return try await link.exchange.perform(.POST, link.endpoint, headers: all, body: ByteBuffer(bytes: message.bytes)) { head, body in
            let session = head.headers["mcp-session-id"].first
            switch head.status.code {
            case 200..<300:
                if RemoteLink.isEventStream(head) {
                    let (answered, version) = try await relayEvents(&body, deliver: deliver)
                    return (answered, (session, version))
                }
                let reply = Array(try await body.collect(upTo: limit).readableBytesView)
                if deliver { try await link.sink.deliver(reply) }
                return (RemoteReply.responseIDs(in: reply), (session, Self.negotiatedVersion(reply)))
            case 401, 403:
                throw link.unauthorized(head.status.code)
            case 404 where hasSession && !message.isInitialize:
                throw RemoteReply.SessionExpired()
            default:
                let reply = await body.excerpt()
                throw RemoteReply.Refusal(status: Int(head.status.code), body: reply)
            }
        }
    }
}
