import Logging
import MCPBridge
import NIOCore
import NIOHTTP1

/// The legacy HTTP+SSE side (protocol 2024-11-05): a GET stream announces, in an `endpoint`
/// event, where to POST; every answer arrives on that stream. When the stream ends, requests
/// still waiting get an error and the next message opens a new stream, replaying `initialize`.
actor LegacySession {
    private let link: RemoteLink

    private var postEndpoint: RemoteEndpoint?
    private var stream: Task<Void, Never>?
    private var opening: Task<RemoteEndpoint, any Error>?
    private var generation = 0
    /// Requests sent on the current stream and not answered yet.
    private var pending = Set<JSONRPCID>()
    /// Answers the relay waits for itself (a replayed `initialize`), not the client.
    private var swallowed: [JSONRPCID: CheckedContinuation<Void, any Error>] = [:]
    private var initializeMessage: ClientMessage?

    init(link: RemoteLink) {
        self.link = link
    }

    /// POSTs one client message; its answers arrive on the stream.
    func send(_ message: ClientMessage) async throws {
        if message.isInitialize { initializeMessage = message }
        var target = try await currentEndpoint(replaying: !message.isInitialize)
        pending.formUnion(message.requestIDs)
        do {
            do {
                try await post(message, to: target)
            } catch is RemoteReply.SessionExpired {
                pending.subtract(message.requestIDs)
                await lose(generation)
                target = try await currentEndpoint(replaying: !message.isInitialize)
                pending.formUnion(message.requestIDs)
                try await post(message, to: target)
            }
        } catch {
            pending.subtract(message.requestIDs)
            throw error
        }
    }

    func close() {
        stream?.cancel()
        stream = nil
    }

    /// The POST endpoint of a live stream, opening one (and replaying `initialize`) if needed.
    private func currentEndpoint(replaying: Bool) async throws -> RemoteEndpoint {
        if let postEndpoint { return postEndpoint }
        if let opening { return try await opening.value }
        let task = Task { try await self.open(replaying: replaying) }
        opening = task
        defer { opening = nil }
        return try await task.value
    }

    private func open(replaying: Bool) async throws -> RemoteEndpoint {
        generation += 1
        let current = generation
        let (announcements, announce) = AsyncStream<Result<RemoteEndpoint, any Error>>.makeStream()
        let headers = link.baseHeaders + [("Accept", "text/event-stream")]
        stream = Task { await self.read(headers: headers, generation: current, announce: announce) }
        var announced: Result<RemoteEndpoint, any Error> = .failure(ConnectFailure.streamEnded)
        for await result in announcements {
            announced = result
            break
        }
        let target = try announced.get()
        postEndpoint = target
        if replaying, let initializeMessage, let id = initializeMessage.requestIDs.first {
            link.logger.notice("the remote session ended; starting a new one with the client's initialize")
            try await withCheckedThrowingContinuation { continuation in
                swallowed[id] = continuation
                Task {
                    do {
                        try await self.post(initializeMessage, to: target)
                    } catch {
                        self.resumeSwallowed(id, throwing: error)
                    }
                }
            }
            try await post(.initialized, to: target)
        }
        return target
    }

    private func resumeSwallowed(_ id: JSONRPCID, throwing error: (any Error)? = nil) {
        guard let continuation = swallowed.removeValue(forKey: id) else { return }
        if let error { continuation.resume(throwing: error) } else { continuation.resume() }
    }

    /// Reads the stream: announces the endpoint, relays every message, and when it ends fails
    /// what is still pending.
    private nonisolated func read(headers: [(String, String)], generation: Int, announce: AsyncStream<Result<RemoteEndpoint, any Error>>.Continuation) async {
        do {
            try await link.exchange.perform(.GET, link.endpoint, headers: headers, body: nil) { head, body in
                switch head.status.code {
                case 200 where RemoteLink.isEventStream(head):
                    break
                case 401, 403:
                    throw link.unauthorized(head.status.code)
                default:
                    let reply = await body.excerpt()
                    throw RemoteReply.Refusal(status: Int(head.status.code), body: reply)
                }
                var announced = false
                try await link.forEachEvent(in: &body) { event in
                    if event.type == "endpoint", !announced {
                        announce.yield(Result { try link.endpoint.resolving(event.data.trimmingSpaces) }
                            .mapError { ConnectFailure.protocolViolation("\($0)") as any Error })
                        announced = true
                    } else if event.isMessage {
                        try await self.received(Array(event.data.utf8))
                    }
                }
            }
        } catch is CancellationError {
        } catch {
            announce.yield(.failure(error))
            link.logger.warning("SSE stream failed: \(error)")
        }
        announce.finish()
        await streamEnded(generation)
    }

    private func received(_ message: [UInt8]) async throws {
        let ids = RemoteReply.responseIDs(in: message)
        if ids.count == 1, let id = ids.first, swallowed[id] != nil {
            resumeSwallowed(id)
            return
        }
        pending.subtract(ids)
        try await link.sink.deliver(message)
    }

    private func streamEnded(_ ended: Int) async {
        await lose(ended)
    }

    /// Forgets the stream of `ended` (if still current): requests waiting on it get an error.
    private func lose(_ ended: Int) async {
        guard ended == generation, postEndpoint != nil || stream != nil else { return }
        postEndpoint = nil
        stream?.cancel()
        stream = nil
        let orphans = pending
        pending.removeAll()
        for id in swallowed.keys { resumeSwallowed(id, throwing: ConnectFailure.streamEnded) }
        if !orphans.isEmpty { try? await link.sink.fail(orphans, .streamEnded) }
    }

    private nonisolated func post(_ message: ClientMessage, to target: RemoteEndpoint) async throws {
        let headers = link.baseHeaders + [("Content-Type", "application/json")]
        try await link.exchange.perform(.POST, target, headers: headers, body: ByteBuffer(bytes: message.bytes)) { head, body in
            switch head.status.code {
            case 200..<300:
                _ = try? await body.collect(upTo: 64 * 1024)
            case 401, 403:
                throw link.unauthorized(head.status.code)
            case 404:
                throw RemoteReply.SessionExpired()
            default:
                let reply = await body.excerpt()
                throw RemoteReply.Refusal(status: Int(head.status.code), body: reply)
            }
        }
    }
}
