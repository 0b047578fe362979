import Logging
import NIOCore

/// Why the HTTP layer could not attach a request or stream to a session.
public enum SessionError: Error, Equatable, Sendable {
    /// The session has ended (child exit, DELETE, idle timeout): answer 404.
    case ended
    /// A request with this id is already in flight in this session.
    case duplicateRequestID(JSONRPCID)
    /// A standalone GET stream is already open: answer 409.
    case streamAlreadyOpen
}

/// Settings every session shares.
public struct SessionConfiguration: Sendable {
    /// Bytes buffered per client stream before the child's output waits (backpressure).
    public var streamBufferBytes: Int = 4 << 20
    /// Messages kept for a Streamable HTTP session while no stream can take them, bounded in
    /// count and in bytes (oldest dropped first), so a child writing while nobody listens cannot
    /// grow the bridge by more than `backlogBytes` per session.
    public var backlogMessages: Int = 256
    public var backlogBytes: Int = 4 << 20
    public var childLimits = ChildLimits()

    public init() {}
}

/// One MCP session: exactly one child process, and the streams its messages go to.
public final class Session: Sendable {
    public enum Transport: String, Sendable {
        case streamableHTTP = "streamable-http"
        case legacySSE = "sse"
    }

    private struct PendingRequest {
        var stream: ClientStream
        var progressToken: JSONRPCID?
        var isInitialize: Bool
        var sent = ContinuousClock.now
    }

    private struct State {
        var pending: [JSONRPCID: PendingRequest] = [:]
        var progressStreams: [JSONRPCID: ClientStream] = [:]
        /// Open SSE POST streams in the order they opened, with their unanswered request count.
        var requestStreams: [(stream: ClientStream, outstanding: Int)] = []
        var jsonStreams: [Int: Int] = [:]
        var standalone: ClientStream?
        var legacy: ClientStream?
        var backlog = CircularBuffer<ByteBuffer>()
        var backlogBytes = 0
        /// Messages the bound dropped (evicted or too large), for tests to know the router is done.
        var backlogDropped = 0
        var negotiatedVersion: ProtocolVersion?
        var processID: Int32?
        var exit: ChildExit?
        var ended = false
        var openStreams = 0
        var lastActivity = ContinuousClock.now
        var created = ContinuousClock.now
        var transport: Transport
        /// A warm spare: its child runs, but no client has it yet.
        var spare = false
    }

    public let id: String
    public var transport: Transport { state.withLock { $0.transport } }
    public let child: ChildProcess
    public let logger: Logger
    private let configuration: SessionConfiguration
    private let metrics: BridgeMetrics
    private let state: Locked<State>

    /// How many messages the backlog's bound has dropped so far.
    var backlogDropped: Int { state.withLock { $0.backlogDropped } }
    /// Opens once the child is running or has failed to start.
    private let startupSettled = Latch()

    init(id: String, transport: Transport, command: ChildCommand, configuration: SessionConfiguration, metrics: BridgeMetrics, logger: Logger) {
        self.id = id
        self.state = Locked(State(transport: transport))
        self.configuration = configuration
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "mcp.session"] = "\(id.prefix(8))"
        self.logger = logger
        self.child = ChildProcess(command: command, limits: configuration.childLimits)
    }

    // MARK: Lifecycle

    /// Runs the child to completion, routing its output. Returns when the session is over.
    func run() async {
        let exit = await child.run(
            logger: logger,
            started: { pid in
                self.state.withLock { $0.processID = pid }
                self.logger.info("child started", metadata: ["pid": "\(pid)"])
                self.startupSettled.open()
            },
            route: { frame in self.route(frame) }
        )
        finish(exit: exit)
    }

    /// Waits until the child is running; returns why it is not if it could not start.
    public func waitUntilStarted() async -> ChildExit? {
        await startupSettled.wait()
        return state.withLock { $0.processID == nil ? ($0.exit ?? .failedToStart("unknown")) : nil }
    }

    public var isEnded: Bool { state.withLock { $0.ended } }

    /// Makes this session a warm spare: started ahead, handed to a client by `claim`.
    func markSpare() {
        state.withLock { $0.spare = true }
    }

    /// Hands a warm spare to a new client; its timers start now. False if it already ended.
    func claim(transport: Transport) -> Bool {
        state.withLock { state in
            guard !state.ended else { return false }
            state.spare = false
            state.transport = transport
            state.created = .now
            state.lastActivity = .now
            return true
        }
    }

    var isSpare: Bool { state.withLock { $0.spare } }
    var age: Duration { state.withLock { .now - $0.created } }
    public var negotiatedVersion: ProtocolVersion? { state.withLock { $0.negotiatedVersion } }
    public var processID: Int32? { state.withLock { $0.processID } }

    /// Ends the session (DELETE, idle timeout, legacy stream closed, bridge shutdown).
    public func terminate(reason: String) {
        let first = state.withLock { state -> Bool in
            defer { state.ended = true }
            return !state.ended
        }
        if first { logger.info("session ending", metadata: ["reason": "\(reason)"]) }
        child.shutDown()
    }

    private func finish(exit: ChildExit) {
        let (pending, streams) = state.withLock { state in
            state.exit = exit
            state.ended = true
            let pending = state.pending.map { ($0.key, $0.value.stream) }
            state.pending.removeAll()
            state.progressStreams.removeAll()
            // Every stream a client may be waiting on: SSE and JSON POSTs, GET, legacy.
            var streams: [Int: ClientStream] = [:]
            for (_, stream) in pending { streams[stream.id] = stream }
            for entry in state.requestStreams { streams[entry.stream.id] = entry.stream }
            for stream in [state.standalone, state.legacy].compactMap({ $0 }) { streams[stream.id] = stream }
            return (pending, Array(streams.values))
        }
        switch exit {
        case .failedToStart(let why): logger.error("child failed to start", metadata: ["error": "\(why)"])
        case .exited(let code): logger.info("child exited", metadata: ["code": "\(code)"])
        case .signalled(let signal): logger.info("child killed", metadata: ["signal": "\(signal)"])
        }
        let reason = Self.describe(exit)
        for (id, stream) in pending {
            metrics.errors(kind: "child_exit_pending_request")
            stream.queue.enqueue(.message(JSONRPCErrorBody.buffer(id: id, code: .internalError, message: reason)))
        }
        for stream in streams { stream.queue.finish() }
        startupSettled.open()
    }

    static func describe(_ exit: ChildExit) -> String {
        switch exit {
        case .exited(let code): return "MCP server process exited (status \(code)) before answering"
        case .signalled(let signal): return "MCP server process was killed by signal \(signal) before answering"
        case .failedToStart(let why): return "MCP server process could not be started: \(why)"
        }
    }

    // MARK: Client → child

    /// Records client activity for the idle reaper.
    public func touch() {
        state.withLock { $0.lastActivity = .now }
    }

    /// Whether the session was created more than `timeout` ago and has still not negotiated a
    /// protocol version (its `initialize` never completed): it holds a session slot for nothing.
    func neverInitialized(within timeout: Duration, now: ContinuousClock.Instant) -> Bool {
        state.withLock { $0.negotiatedVersion == nil && now - $0.created > timeout }
    }

    /// Answers every request that has waited longer than `timeout` with a JSON-RPC error, as if
    /// the child had, and tells the child to stop working on it (`notifications/cancelled`). A
    /// child that drops or never answers a request cannot leave a client waiting forever.
    func expireRequests(olderThan timeout: Duration, now: ContinuousClock.Instant) async {
        let overdue = state.withLock { state in
            state.pending.filter { now - $0.value.sent > timeout }.map(\.key)
        }
        for id in overdue {
            metrics.errors(kind: "request_timeout")
            logger.warning("the MCP server did not answer in time; the request is answered with an error", metadata: ["id": "\(id.json)"])
            let seconds = timeout.components.seconds
            let error = JSONRPCErrorBody.buffer(id: id, code: .internalError,
                                                message: "MCP server did not answer within \(seconds) s (the bridge's --request-timeout)")
            if let wait = route(.line(error)) { await wait() }
            _ = await child.send(ByteBuffer(string: #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"# + id.json
                                                      + #","reason":"request timed out in mcp-bridge"}}"#))
        }
    }

    /// Whether the session has had no open stream and no request for `timeout`.
    func isIdle(for timeout: Duration, now: ContinuousClock.Instant) -> Bool {
        (idleTime(now: now) ?? .zero) > timeout
    }

    /// How long the session has had no request and no open stream; nil while it has one.
    func idleTime(now: ContinuousClock.Instant) -> Duration? {
        state.withLock { $0.openStreams == 0 && !$0.ended ? now - $0.lastActivity : nil }
    }

    /// Registers the requests of one POST so their responses come back to `stream`.
    /// Must happen before the requests reach the child, or a fast answer could find no stream.
    public func register(requests: [Envelope], on stream: ClientStream) throws(SessionError) {
        try state.withLock { (state) throws(SessionError) in
            guard !state.ended else { throw .ended }
            // One request per POST is the common case: it needs no set to find duplicates in.
            var seen = Set<JSONRPCID>()
            var counted = 0
            for request in requests {
                guard let id = request.id else { continue }
                let repeated = requests.count > 1 && !seen.insert(id).inserted
                if state.pending[id] != nil || repeated { throw .duplicateRequestID(id) }
                counted += 1
            }
            for request in requests {
                guard let id = request.id else { continue }
                state.pending[id] = PendingRequest(stream: stream, progressToken: request.progressToken, isInitialize: request.isInitializeRequest)
                if let token = request.progressToken, stream.kind != .requestJSON {
                    state.progressStreams[token] = stream
                }
            }
            state.lastActivity = .now
            switch stream.kind {
            case .requestSSE: state.requestStreams.append((stream, counted))
            case .requestJSON: state.jsonStreams[stream.id] = counted
            case .standalone, .legacy: return
            }
            state.openStreams += 1
        }
    }

    /// Registers requests POSTed to a legacy session; their answers go to its one stream.
    public func registerLegacy(requests: [Envelope]) throws(SessionError) {
        let stream = state.withLock { $0.legacy }
        guard let stream else { throw .ended }
        try register(requests: requests, on: stream)
    }

    /// Opens the standalone GET stream and hands it any messages that were waiting.
    public func attachStandalone(_ stream: ClientStream) throws(SessionError) {
        try state.withLock { (state) throws(SessionError) in
            guard !state.ended else { throw .ended }
            guard state.standalone == nil else { throw .streamAlreadyOpen }
            state.standalone = stream
            state.openStreams += 1
            state.lastActivity = .now
            while let message = state.backlog.popFirst() { stream.queue.enqueue(.message(message)) }
            state.backlogBytes = 0
        }
    }

    /// Opens the single stream of a legacy HTTP+SSE session.
    public func attachLegacy(_ stream: ClientStream) throws(SessionError) {
        try state.withLock { (state) throws(SessionError) in
            guard !state.ended else { throw .ended }
            state.legacy = stream
            state.openStreams += 1
        }
    }

    /// Called when an HTTP response stream ends, normally or because the client left.
    /// Requests still unanswered on it stay running in the child (a disconnect is not a
    /// cancellation, SH-10); their responses are dropped when they arrive.
    /// Idempotent: a stream may be detached by its response body and again by its lease.
    public func detach(_ stream: ClientStream) {
        guard stream.claimDetach() else { return }
        stream.queue.close()
        state.withLock { state in
            state.openStreams -= 1
            state.lastActivity = .now
            if state.standalone === stream { state.standalone = nil }
            // A stream still listed has unanswered requests (an answered one was removed as its
            // last answer went out): only then do pending entries point at it.
            let abandoned = state.requestStreams.contains { $0.stream === stream } || state.jsonStreams[stream.id] != nil
            state.requestStreams.removeAll { $0.stream === stream }
            state.jsonStreams[stream.id] = nil
            if abandoned || stream.kind == .legacy {
                state.pending = state.pending.filter { $0.value.stream !== stream }
                state.progressStreams = state.progressStreams.filter { $0.value !== stream }
            }
        }
        if transport == .legacySSE, stream.kind == .legacy {
            terminate(reason: "SSE stream closed")
        }
    }

    /// Takes back requests whose POST is being refused because they never reached the child,
    /// so the session's end cannot also answer them on the stream. False when the end already
    /// answered them there (it takes every pending request at once).
    public func withdraw(_ requests: [Envelope]) -> Bool {
        state.withLock { state in
            let ids = requests.compactMap(\.id)
            guard ids.allSatisfy({ state.pending[$0] != nil }) else { return false }
            for id in ids {
                if let token = state.pending.removeValue(forKey: id)?.progressToken { state.progressStreams[token] = nil }
            }
            return true
        }
    }

    /// Sends client messages (already validated, one JSON text each) to the child.
    public func forward(_ messages: [ByteBuffer]) async -> Bool {
        for message in messages {
            guard await child.send(message) else { return false }
            metrics.bytesToChild(message.readableBytes)
        }
        return true
    }

    // MARK: Child → client

    /// Routes one frame of the child's output, on the pipe's event loop. Every message is
    /// admitted to its client stream at once; if a stream is then over its budget, the reader
    /// pauses until it has room again.
    private func route(_ frame: LineFramer.Frame) -> ChildOutputReader.Wait? {
        var full: [ClientStream] = []
        switch frame {
        case .line(let line):
            route(line: line, full: &full)
        case .oversized(let prefix, let length):
            metrics.errors(kind: "child_message_too_large")
            let id = prefix.withUnsafeReadableBytes { EnvelopeScanner.peekID(inPrefix: $0) }
            logger.warning(
                "child message over the size limit dropped",
                metadata: ["bytes": "\(length)", "limit": "\(child.limits.maximumMessageBytes)", "id": "\(id?.json ?? "none")"]
            )
            if let id {
                let error = JSONRPCErrorBody.buffer(
                    id: id, code: .internalError,
                    message: "MCP server response of \(length) bytes exceeds the bridge limit of \(child.limits.maximumMessageBytes) bytes")
                route(line: error, full: &full)
            }
        }
        guard !full.isEmpty else { return nil }
        return { [full] in for stream in full { await stream.queue.waitForRoom() } }
    }

    private func route(line: ByteBuffer, full: inout [ClientStream]) {
        let parsed: ParsedMessage
        do {
            parsed = try line.withUnsafeReadableBytes { (raw) throws(EnvelopeError) in try EnvelopeScanner.parse(raw) }
        } catch {
            metrics.errors(kind: "child_invalid_output")
            logger.warning("child wrote a stdout line that is not JSON-RPC; skipped", metadata: [
                "error": "\(error.message)", "line": "\(Self.preview(line))",
            ])
            return
        }
        metrics.bytesFromChild(line.readableBytes)
        switch parsed {
        case .single(let envelope):
            deliver(line, envelope: envelope, full: &full)
        case .batch(let elements):
            guard negotiatedVersion?.allowsBatches == true else {
                metrics.errors(kind: "child_invalid_output")
                logger.warning("child wrote a batch outside a 2025-03-26 session; skipped")
                return
            }
            for element in elements {
                let slice = line.getSlice(at: line.readerIndex + element.range.lowerBound, length: element.range.count) ?? line
                deliver(slice, envelope: element.envelope, full: &full)
            }
        }
    }

    private enum Delivery {
        case stream(ClientStream, finishAfter: Bool)
        case backlogged
        case dropped(String)
    }

    /// Hands one message to its stream (or the backlog); a stream left over its budget is added
    /// to `full`.
    private func deliver(_ message: ByteBuffer, envelope: Envelope, full: inout [ClientStream]) {
        var message = message
        var endAfterDelivery = false
        let delivery: Delivery = state.withLock { state in
            if let legacy = state.legacy {
                if envelope.kind == .response, let id = envelope.id, let pending = state.pending.removeValue(forKey: id), pending.isInitialize {
                    endAfterDelivery = !Self.acceptNegotiation(of: &message, id: id, into: &state)
                }
                return .stream(legacy, finishAfter: false)
            }
            switch envelope.kind {
            case .response:
                guard let id = envelope.id, let pending = state.pending.removeValue(forKey: id) else {
                    return .dropped("response to an unknown or abandoned request")
                }
                if let token = pending.progressToken { state.progressStreams[token] = nil }
                if pending.isInitialize {
                    endAfterDelivery = !Self.acceptNegotiation(of: &message, id: id, into: &state)
                }
                return .stream(pending.stream, finishAfter: Self.markAnswered(pending.stream, in: &state))
            case .notification where envelope.method == "notifications/progress":
                if let token = envelope.progressToken, let stream = state.progressStreams[token] {
                    return .stream(stream, finishAfter: false)
                }
            default:
                break
            }
            // Requests and log messages from the child almost always belong to a call in
            // flight, so they prefer a POST stream; so does a child's `notifications/cancelled`,
            // which can only cancel one of the child's own requests (its id is in the child's id
            // space, never the client's). Other notifications prefer the GET stream.
            let relatesToCall = envelope.kind == .request || envelope.method == "notifications/message"
                || envelope.method == "notifications/cancelled"
            let oldestCall = state.requestStreams.first?.stream
            if let stream = relatesToCall ? (oldestCall ?? state.standalone) : (state.standalone ?? oldestCall) {
                return .stream(stream, finishAfter: false)
            }
            guard message.readableBytes <= configuration.backlogBytes else {
                metrics.errors(kind: "backlog_overflow")
                state.backlogDropped += 1
                return .dropped("larger than the whole backlog (\(configuration.backlogBytes) bytes) with no stream open")
            }
            while !state.backlog.isEmpty,
                  state.backlog.count >= configuration.backlogMessages || state.backlogBytes + message.readableBytes > configuration.backlogBytes {
                state.backlogBytes -= state.backlog.removeFirst().readableBytes
                metrics.errors(kind: "backlog_overflow")
                state.backlogDropped += 1
            }
            state.backlog.append(message)
            state.backlogBytes += message.readableBytes
            return .backlogged
        }
        switch delivery {
        case .stream(let stream, let finishAfter):
            switch stream.queue.admit(.message(message, endsStream: finishAfter)) {
            case .rejected:
                logger.debug("client stream gone; message dropped", metadata: ["method": "\(envelope.method ?? "-")"])
            case .admittedOverBudget where !full.contains(where: { $0 === stream }):
                full.append(stream)
            case .admitted, .admittedOverBudget:
                break
            }
            if finishAfter { stream.queue.finish() }
        case .backlogged:
            logger.debug("no client stream open; message queued", metadata: ["method": "\(envelope.method ?? "-")"])
        case .dropped(let why):
            logger.debug("child message dropped", metadata: ["reason": "\(why)", "id": "\(envelope.id?.json ?? "-")"])
        }
        if endAfterDelivery { terminate(reason: "MCP server negotiated an unsupported protocol version") }
    }

    /// Decrements a POST stream's unanswered count; true when its last response is going out.
    private static func markAnswered(_ stream: ClientStream, in state: inout State) -> Bool {
        if let index = state.requestStreams.firstIndex(where: { $0.stream === stream }) {
            state.requestStreams[index].outstanding -= 1
            if state.requestStreams[index].outstanding <= 0 {
                state.requestStreams.remove(at: index)
                return true
            }
            return false
        }
        if let remaining = state.jsonStreams[stream.id] {
            state.jsonStreams[stream.id] = remaining - 1
            if remaining <= 1 {
                state.jsonStreams[stream.id] = nil
                return true
            }
        }
        return false
    }

    /// Reads `result.protocolVersion` of the child's initialize answer (B-07). An unsupported
    /// version replaces the answer with an error; returns false when the session must end.
    private static func acceptNegotiation(of message: inout ByteBuffer, id: JSONRPCID, into state: inout State) -> Bool {
        let offered = message.withUnsafeReadableBytes { EnvelopeScanner.initializeResultVersion($0) }
        guard let offered else { return true }  // an error answer passes through
        guard let version = offered.version else {
            let offered = offered.text ?? "none"
            message = JSONRPCErrorBody.buffer(
                id: id, code: .internalError,
                message: "MCP server chose protocol version \(offered), which this bridge does not support")
            return false
        }
        state.negotiatedVersion = version
        return true
    }

    static func preview(_ line: ByteBuffer) -> String {
        let limit = 200
        let text = String(decoding: line.readableBytesView.prefix(limit), as: UTF8.self)
        return line.readableBytes > limit ? text + "…" : text
    }
}
