import Logging
import NIOCore

/// One warm MCP server process of the pool that serves 2026-07-28 clients. Many clients share
/// it: every request goes to the child under a bridge-made id (and progress token), so answers
/// can never reach the wrong client. A legacy child also gets at most one interactive call
/// (`tools/call`, `prompts/get`, `resources/read`) at a time: its server-to-client requests and
/// log messages carry no request id on stdio, and exclusivity is what attributes them safely.
final class PoolChild: Sendable {
    struct State {
        var era: ChildEra?
        var ready = false
        var wasReady = false
        var ended = false
        var serverInfo: JSONValue?
        var initializeResult: JSONValue?
        var calls: [String: PoolCall] = [:]
        /// Bridge progress token → bridge call id.
        var tokens: [String: String] = [:]
        /// The bridge's own requests (probe, initialize, subscribe) awaiting their answer.
        var ownRequests: [String: CheckedContinuation<JSONValue?, Never>] = [:]
        /// The interactive call of a legacy child.
        var exclusive: String?
        var subscribedURIs: Set<String> = []
        /// No new calls; the process ends once the calls it still runs are done.
        var retiring = false
        var lastBusy = ContinuousClock.now
        var nextID = 0
    }

    let number: Int
    let child: ChildProcess
    let logger: Logger
    private let pool: ChildPool
    private let state = Locked(State())
    private let started = Latch()

    init(number: Int, command: ChildCommand, limits: ChildLimits, pool: ChildPool, logger: Logger) {
        self.number = number
        self.pool = pool
        var logger = logger
        logger[metadataKey: "mcp.pool_child"] = "\(number)"
        self.logger = logger
        self.child = ChildProcess(command: command, limits: limits)
    }

    var era: ChildEra? { state.withLock { $0.era } }
    var isReady: Bool { state.withLock { $0.ready && !$0.ended } }
    var isEnded: Bool { state.withLock { $0.ended } }
    /// Whether the child ever finished its handshake (a child that never did counts as a failed start).
    var wasReady: Bool { state.withLock { $0.wasReady } }
    var initializeResult: JSONValue? { state.withLock { $0.initializeResult } }
    var serverInfo: JSONValue? { state.withLock { $0.serverInfo } }
    var load: Int { state.withLock { $0.calls.count } }

    /// Whether this child can take a call now: ready, and for an interactive call to a legacy
    /// child, not already running one. An interactive call on a legacy child is reserved here,
    /// atomically with the check, so two requests cannot both claim the one slot; `start`
    /// turns the reservation into the call (or `release` gives it back).
    func reserve(interactive: Bool) -> Bool {
        state.withLock { state in
            guard state.ready, !state.ended, !state.retiring else { return false }
            guard interactive, state.era == .legacy else { return true }
            guard state.exclusive == nil else { return false }
            state.exclusive = Self.reservation
            return true
        }
    }

    /// Gives back a reservation `start` did not use.
    func releaseReservation() {
        state.withLock { state in
            if state.exclusive == Self.reservation { state.exclusive = nil }
        }
    }

    private static let reservation = "reserved"

    /// Whether the child has had no call for `duration`.
    func idle(for duration: Duration, now: ContinuousClock.Instant) -> Bool {
        state.withLock { $0.calls.isEmpty && $0.ownRequests.isEmpty && now - $0.lastBusy > duration }
    }

    // MARK: Lifecycle

    /// Runs the process until it exits.
    func run() async -> ChildExit {
        let exit = await child.run(
            logger: logger,
            started: { pid in
                self.logger.info("pool child started", metadata: ["pid": "\(pid)"])
                self.started.open()
            },
            // Routing here awaits the child's stdin and client streams: each frame finishes in
            // a task while the reader holds the next ones.
            route: { frame in { await self.route(frame) } }
        )
        let (calls, ownRequests) = state.withLock { state in
            state.ended = true
            defer { state.calls.removeAll(); state.ownRequests.removeAll(); state.tokens.removeAll() }
            return (state.calls, state.ownRequests)
        }
        started.open()
        for continuation in ownRequests.values { continuation.resume(returning: nil) }
        let reason = Session.describe(exit)
        for call in calls.values {
            if let stream = call.stream {
                stream.queue.enqueue(.message(LegacyAdapter.errorResponse(id: call.request.id, code: -32603, message: reason).buffer, endsStream: true))
                stream.queue.finish()
            }
            if let heldState = call.heldState { pool.forget(state: heldState) }
        }
        logger.info("pool child ended", metadata: ["exit": "\(exit)"])
        return exit
    }

    /// The stdio probe, then (for a legacy child) the bridge's own `initialize`.
    /// Returns false when the child cannot serve and has been told to stop.
    func handshake(probeTimeout: Duration, initializeTimeout: Duration) async -> Bool {
        await started.wait()
        guard !isEnded else { return false }
        let probe = JSONValue.object([
            "jsonrpc": .string("2.0"), "id": .string(nextInternalID()), "method": .string("server/discover"),
            "params": .object(["_meta": .object([
                ModernProtocol.protocolVersionKey: .string(ModernProtocol.version),
                ModernProtocol.clientCapabilitiesKey: LegacyAdapter.bridgeCapabilities,
                ModernProtocol.clientInfoKey: .object(["name": .string("mcp-bridge"), "version": .string(BridgeVersion.current)]),
            ])]),
        ])
        let answer = await internalRequest(probe, timeout: probeTimeout)
        if Self.isModern(probeAnswer: answer) {
            state.withLock { state in
                state.era = .modern
                state.serverInfo = answer?["result"]?["_meta"]?[ModernProtocol.serverInfoKey]
                state.ready = true
                state.wasReady = true
            }
            logger.info("pool child speaks 2026-07-28: passed through")
            return true
        }
        guard !isEnded else { return false }
        let initialize = LegacyAdapter.initializeRequest(id: nextInternalID())
        guard let reply = await internalRequest(initialize, timeout: initializeTimeout), let result = reply["result"],
              let version = result["protocolVersion"]?.stringValue else {
            logger.error("pool child did not answer initialize in time or refused it; stopping it")
            child.shutDown()
            return false
        }
        guard ModernProtocol.isLegacy(version: version) else {
            logger.error("pool child chose a protocol version this bridge does not speak; stopping it", metadata: ["version": "\(version)"])
            child.shutDown()
            return false
        }
        _ = await child.send(ByteBuffer(string: #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#))
        if result["capabilities"]?["logging"] != nil {
            // Messages are filtered per request by the level each opted in to; the child sends all.
            let setLevel = JSONValue.object(["jsonrpc": .string("2.0"), "id": .string(nextInternalID()), "method": .string("logging/setLevel"),
                                             "params": .object(["level": .string("debug")])])
            _ = await internalRequest(setLevel, timeout: initializeTimeout)
        }
        state.withLock { state in
            state.era = .legacy
            state.initializeResult = result
            state.serverInfo = result["serverInfo"]
            state.ready = true
            state.wasReady = true
        }
        logger.info("pool child speaks \(version): adapted to 2026-07-28")
        return true
    }

    /// A discover result, or a modern error naming 2026-07-28 among its versions, means modern.
    static func isModern(probeAnswer: JSONValue?) -> Bool {
        guard let probeAnswer else { return false }
        if let result = probeAnswer["result"], case .array(let versions)? = result["supportedVersions"] {
            return versions.contains(.string(ModernProtocol.version))
        }
        if let error = probeAnswer["error"], error["code"] == .int(Int64(ModernProtocol.unsupportedProtocolVersion)),
           case .array(let versions)? = error["data"]?["supported"] {
            return versions.contains(.string(ModernProtocol.version))
        }
        return false
    }

    private func nextInternalID() -> String {
        state.withLock { state in
            state.nextID += 1
            return "mcp-bridge-\(state.nextID)"
        }
    }

    /// Sends one of the bridge's own requests and waits for its answer (nil on timeout or exit).
    private func internalRequest(_ message: JSONValue, timeout: Duration) async -> JSONValue? {
        guard case .string(let id)? = message["id"] else { return nil }
        return await withCheckedContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.ended else { return false }
                state.ownRequests[id] = continuation
                return true
            }
            guard accepted else { return continuation.resume(returning: nil) }
            Task {
                if await !child.send(message.buffer) { self.resumeInternal(id, with: nil) }
                try? await Task.sleep(for: timeout)
                self.resumeInternal(id, with: nil)
            }
        }
    }

    private func resumeInternal(_ id: String, with answer: JSONValue?) {
        let continuation = state.withLock { $0.ownRequests.removeValue(forKey: id) }
        continuation?.resume(returning: answer)
    }

    // MARK: Client → child

    /// Starts a call: its answer, progress and (if it opted in) log messages go to `stream`.
    /// Returns the bridge's id for it, or nil when the child ended meanwhile.
    func start(_ request: ModernRequest, stream: ClientStream) async -> String? {
        let prepared = state.withLock { state -> (String, JSONValue)? in
            guard state.ready, !state.ended, !state.retiring, let era = state.era else { return nil }
            state.nextID += 1
            let id = "mcp-bridge-\(state.nextID)"
            var call = PoolCall(request: request, stream: stream)
            if request.progressToken != nil {
                call.bridgeToken = id
                state.tokens[id] = id
            }
            state.calls[id] = call
            state.lastBusy = .now
            if era == .legacy, call.isInteractive { state.exclusive = id }
            let message = era == .legacy
                ? LegacyAdapter.childRequest(request, id: id, progressToken: call.bridgeToken)
                : LegacyAdapter.passThroughRequest(request, id: id, progressToken: call.bridgeToken)
            return (id, message)
        }
        guard let (id, message) = prepared else {
            releaseReservation()
            return nil
        }
        guard await child.send(message.buffer) else {
            streamClosed(callID: id, stream: stream)
            return nil
        }
        return id
    }

    /// Whether `request` is a retry of the held call: same method, same tool, prompt or resource.
    /// A state presented on any other request is refused and stays valid for the right one.
    func isRetry(of callID: String, heldState: String, request: ModernRequest) -> Bool {
        state.withLock { state in
            guard let call = state.calls[callID], call.heldState == heldState, call.request.method == request.method else { return false }
            guard let key = ModernProtocol.nameParameter[request.method] else { return true }
            return call.request.params[key] == request.params[key]
        }
    }

    /// Continues a call held for input: answers the child's requests the client fulfilled, and
    /// sends the call's answer (or the next input request) to `stream`.
    func resume(callID: String, heldState: String, with request: ModernRequest, stream: ClientStream) async -> Bool {
        let outcome = state.withLock { state -> (answers: [JSONValue], reply: JSONValue?)? in
            guard var call = state.calls[callID], call.heldState == heldState else { return nil }
            var answers: [JSONValue] = []
            let responses = request.inputResponses
            for (key, input) in call.awaiting {
                guard let response = responses[key] else { continue }
                answers.append(LegacyAdapter.response(id: input.childID, result: response))
                call.awaiting[key] = nil
            }
            // Anything asked and not answered is asked again (MRTR: request missing input anew).
            call.unsent.insert(contentsOf: call.awaiting.values.sorted { $0.key < $1.key }, at: 0)
            call.awaiting.removeAll()
            call.request = request
            call.stream = stream
            call.heldState = nil
            state.lastBusy = .now
            var reply: JSONValue?
            if let final = call.finalAnswer {
                reply = final
                Self.forget(callID, in: &state)
            } else {
                state.calls[callID] = call
            }
            return (answers, reply)
        }
        guard let outcome else { return false }
        for answer in outcome.answers { _ = await child.send(answer.buffer) }
        if let reply = outcome.reply {
            var reply = reply
            reply["id"] = request.id
            stream.queue.enqueue(.message(reply.buffer, endsStream: true))
            stream.queue.finish()
            return true
        }
        await askForInput(callID: callID)
        return true
    }

    /// The client's stream ended. Before the answer, that is cancellation (2026-07-28): the
    /// child is told, and its pending input requests are refused so it cannot wait forever.
    func streamClosed(callID: String, stream: ClientStream) {
        let cancelled = state.withLock { state -> [PoolCall.InputRequest]? in
            guard var call = state.calls[callID], call.stream === stream, call.heldState == nil else { return nil }
            Self.cancel(&call, id: callID, in: &state)
            return call.unsent + Array(call.awaiting.values)
        }
        guard let cancelled else { return }
        logger.debug("client closed its stream before the answer; cancelling in the child", metadata: ["id": "\(callID)"])
        Task {
            for input in cancelled {
                _ = await child.send(LegacyAdapter.errorResponse(id: input.childID, code: -32603, message: "the client cancelled the request").buffer)
            }
            _ = await child.send(LegacyAdapter.cancelled(requestID: callID, reason: "the client closed its response stream").buffer)
        }
        pool.childChanged()
    }

    /// Removes a call that is over: its entry, its progress token and, if it held it, the
    /// interactive slot.
    private static func forget(_ callID: String, in state: inout State) {
        guard let call = state.calls.removeValue(forKey: callID) else { return }
        if state.exclusive == callID { state.exclusive = nil }
        if let token = call.bridgeToken { state.tokens[token] = nil }
    }

    /// Forgets a call the client no longer waits for. A legacy child's interactive call keeps
    /// the child's slot until the child answers it (SDK servers answer a cancelled request with
    /// an error at once): until then, a sampling request or log line from the child may still be
    /// that call's, and must not be attributed to the next client's call.
    private static func cancel(_ call: inout PoolCall, id: String, in state: inout State) {
        if let token = call.bridgeToken { state.tokens[token] = nil }
        guard state.era == .legacy, state.exclusive == id else {
            state.calls[id] = nil
            return
        }
        call.stream = nil
        call.cancelledAt = .now
        call.unsent.removeAll()
        call.awaiting.removeAll()
        state.calls[id] = call
    }

    /// A legacy child whose cancelled interactive call has not ended within `grace` may still be
    /// working for a client that left: it takes no new call and ends once idle, and the pool
    /// starts a fresh process in its place.
    func retireIfCancelledCallLingers(grace: Duration, now: ContinuousClock.Instant) {
        let (retire, idle) = state.withLock { state -> (Bool, Bool) in
            if !state.retiring, let id = state.exclusive, let since = state.calls[id]?.cancelledAt, now - since > grace {
                state.retiring = true
                return (true, state.calls.values.allSatisfy { $0.cancelledAt != nil })
            }
            return (false, state.retiring && state.calls.values.allSatisfy { $0.cancelledAt != nil })
        }
        if retire {
            logger.warning("a cancelled call did not end in time; replacing this process so its late requests cannot reach another client")
        }
        if idle { child.shutDown() }
    }

    /// A held call nobody continued in time: the child's requests are refused; the call itself
    /// stays until the child answers it (then it is dropped) or the request timeout ends it.
    func expireHeld(callID: String, heldState: String, after timeout: Duration) async {
        let inputs = state.withLock { state -> [PoolCall.InputRequest] in
            guard var call = state.calls[callID], call.heldState == heldState else { return [] }
            let inputs = call.unsent + Array(call.awaiting.values)
            call.unsent.removeAll()
            call.awaiting.removeAll()
            call.heldState = nil
            if call.finalAnswer != nil {
                Self.forget(callID, in: &state)
            } else {
                state.calls[callID] = call
            }
            return inputs
        }
        logger.warning("no client continued an input request in time; refused in the child",
                       metadata: ["id": "\(callID)", "timeout": "\(timeout)"])
        for input in inputs {
            _ = await child.send(LegacyAdapter.errorResponse(
                id: input.childID, code: -32603, message: "the client did not answer within \(timeout.components.seconds) s (mcp-bridge --input-timeout)").buffer)
        }
        pool.childChanged()
    }

    /// Ends calls the child has not answered within `timeout`, as the session paths do.
    func expireCalls(olderThan timeout: Duration, now: ContinuousClock.Instant) async {
        let overdue = state.withLock { state -> [(String, PoolCall)] in
            // A listen stream is meant to stay open; only real requests can be overdue.
            let overdue = state.calls.filter {
                now - $0.value.started > timeout && $0.value.request.method != "subscriptions/listen" && $0.value.cancelledAt == nil
            }
            for (id, call) in overdue {
                var call = call
                Self.cancel(&call, id: id, in: &state)
            }
            return Array(overdue)
        }
        for (id, call) in overdue {
            if let stream = call.stream {
                stream.queue.enqueue(.message(LegacyAdapter.errorResponse(
                    id: call.request.id, code: -32603, message: "MCP server did not answer within \(timeout.components.seconds) s (the bridge's --request-timeout)").buffer, endsStream: true))
                stream.queue.finish()
            }
            if let held = call.heldState { pool.forget(state: held) }
            _ = await child.send(LegacyAdapter.cancelled(requestID: id, reason: "request timed out in mcp-bridge").buffer)
        }
        if !overdue.isEmpty { pool.childChanged() }
    }

    /// Subscribes a legacy child to resource updates the listeners want (once per URI).
    func subscribe(to uris: Set<String>) async {
        let fresh = state.withLock { state -> [String] in
            guard state.era == .legacy, state.ready, !state.ended else { return [] }
            let fresh = uris.subtracting(state.subscribedURIs)
            state.subscribedURIs.formUnion(fresh)
            return fresh.sorted()
        }
        for uri in fresh {
            let request = JSONValue.object(["jsonrpc": .string("2.0"), "id": .string(nextInternalID()), "method": .string("resources/subscribe"),
                                            "params": .object(["uri": .string(uri)])])
            if await internalRequest(request, timeout: .seconds(10))?["result"] == nil {
                logger.warning("the MCP server refused resources/subscribe", metadata: ["uri": "\(uri)"])
            }
        }
    }

    /// Ends the process (surplus child, bridge shutdown).
    func shutDown() {
        child.shutDown()
    }

    // MARK: Child → client

    private func route(_ frame: LineFramer.Frame) async {
        let line: ByteBuffer
        switch frame {
        case .line(let complete):
            line = complete
        case .oversized(let prefix, let length):
            logger.warning("pool child wrote a message over the size limit; dropped", metadata: ["bytes": "\(length)"])
            let id = prefix.withUnsafeReadableBytes { EnvelopeScanner.peekID(inPrefix: $0) }
            await fail(childID: id, message: "MCP server response of \(length) bytes exceeds the bridge limit of \(child.limits.maximumMessageBytes) bytes")
            return
        }
        guard let message = try? JSONValue.parse(line), message.isObject else {
            logger.warning("pool child wrote a stdout line that could not be decoded; skipped", metadata: ["line": "\(Session.preview(line))"])
            let id = line.withUnsafeReadableBytes { EnvelopeScanner.peekID(inPrefix: $0) }
            await fail(childID: id, message: "MCP server sent an answer the bridge could not decode as JSON")
            return
        }
        if case .string(let method)? = message["method"] {
            if let id = message["id"] {
                await childRequest(id: id, method: method, params: message["params"])
            } else {
                await childNotification(method: method, message: message)
            }
        } else if let id = message["id"] {
            await childResponse(id: id, message: message)
        }
    }

    /// Answers the call a broken child message belonged to with an error, so its client is not
    /// left waiting for the request timeout.
    private func fail(childID: JSONRPCID?, message: String) async {
        guard case .string(let id)? = childID else { return }
        await childResponse(id: .string(id), message: LegacyAdapter.errorResponse(id: .string(id), code: -32603, message: message))
    }

    private func childResponse(id: JSONValue, message: JSONValue) async {
        guard case .string(let bridgeID) = id else { return }
        if state.withLock({ $0.ownRequests[bridgeID] != nil }) {
            resumeInternal(bridgeID, with: message)
            return
        }
        let delivery = state.withLock { state -> (ClientStream, JSONValue)? in
            guard var call = state.calls[bridgeID] else { return nil }
            var answer = message
            answer["id"] = call.request.id
            if let result = message["result"] {
                answer["result"] = state.era == .legacy
                    ? LegacyAdapter.clientResult(result, method: call.request.method, serverInfo: state.serverInfo) : result
            }
            guard let stream = call.stream else {
                // Held for input: the answer waits for the client's retry.
                if call.heldState != nil {
                    call.finalAnswer = answer
                    state.calls[bridgeID] = call
                } else {
                    Self.forget(bridgeID, in: &state)
                }
                return nil
            }
            Self.forget(bridgeID, in: &state)
            state.lastBusy = .now
            return (stream, answer)
        }
        guard let (stream, answer) = delivery else {
            pool.childChanged()
            return
        }
        if state.withLock({ $0.era }) == .modern, answer["result"]?["resultType"] == .string("input_required"),
           let requestState = answer["result"]?["requestState"]?.stringValue {
            pool.remember(modernState: requestState, child: self)
        }
        _ = await stream.queue.push(.message(answer.buffer, endsStream: true))
        stream.queue.finish()
        pool.childChanged()
    }

    private func childRequest(id: JSONValue, method: String, params: JSONValue?) async {
        if method == "ping" {
            _ = await child.send(LegacyAdapter.response(id: id, result: .object([:])).buffer)
            return
        }
        guard ["sampling/createMessage", "elicitation/create", "roots/list"].contains(method) else {
            _ = await child.send(LegacyAdapter.errorResponse(id: id, code: -32601, message: "Method not found: \(method)").buffer)
            return
        }
        let refusal = state.withLock { state -> String? in
            guard let callID = state.exclusive, var call = state.calls[callID], call.cancelledAt == nil else {
                return "no client request is in flight that \(method) could be asked through"
            }
            guard call.request.canFulfil(method) else {
                return "the client did not declare the capability \(method) needs"
            }
            call.inputCount += 1
            let kind = method.split(separator: "/").first.map(String.init) ?? "input"
            call.unsent.append(PoolCall.InputRequest(key: "\(kind)-\(call.inputCount)", childID: id, method: method, params: params))
            state.calls[callID] = call
            return nil
        }
        if let refusal {
            logger.info("refused a server-to-client request", metadata: ["method": "\(method)", "reason": "\(refusal)"])
            _ = await child.send(LegacyAdapter.errorResponse(id: id, code: -32603, message: refusal).buffer)
            return
        }
        if let callID = state.withLock({ $0.exclusive }) { await askForInput(callID: callID) }
    }

    /// Ends the call's stream with an `InputRequiredResult` if the client is there to see it.
    private func askForInput(callID: String) async {
        // Registered before the child's lock is taken: the pool locks children under its own lock.
        let heldState = pool.hold(callID: callID, child: self)
        let delivery = state.withLock { state -> (ClientStream, JSONValue)? in
            guard var call = state.calls[callID], let stream = call.stream, !call.unsent.isEmpty else { return nil }
            let inputs = call.unsent
            for input in inputs { call.awaiting[input.key] = input }
            call.unsent.removeAll()
            call.stream = nil
            call.heldState = heldState
            state.calls[callID] = call
            let result = LegacyAdapter.inputRequired(inputs.map { ($0.key, $0.method, $0.params) }, state: heldState)
            return (stream, LegacyAdapter.response(id: call.request.id, result: result))
        }
        guard let (stream, message) = delivery else {
            pool.forget(state: heldState)
            return
        }
        _ = await stream.queue.push(.message(message.buffer, endsStream: true))
        stream.queue.finish()
    }

    private func childNotification(method: String, message: JSONValue) async {
        switch method {
        case "notifications/progress":
            let target = state.withLock { state -> (ClientStream, JSONValue?)? in
                guard let token = message["params"]?["progressToken"]?.stringValue, let callID = state.tokens[token],
                      let call = state.calls[callID], let stream = call.stream else { return nil }
                return (stream, call.request.progressToken)
            }
            guard let (stream, clientToken) = target else { return }
            var notification = message
            notification["params"]?["progressToken"] = clientToken
            _ = await stream.queue.push(.message(notification.buffer))
        case "notifications/message":
            let level = message["params"]?["level"]?.stringValue ?? "info"
            let stream = state.withLock { state -> ClientStream? in
                // Only a call that opted in at this level hears it, and only when it is certainly
                // that call's: the exclusive interactive call, or the one call in flight.
                let candidates = state.exclusive.flatMap { state.calls[$0] }.map { [$0] } ?? Array(state.calls.values)
                guard candidates.count == 1, let call = candidates.first,
                      LegacyAdapter.wants(level: level, threshold: call.request.logLevel) else { return nil }
                return call.stream
            }
            _ = await stream?.queue.push(.message(message.buffer))
        case "notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/resources/list_changed",
             "notifications/resources/updated":
            if state.withLock({ $0.era }) == .modern {
                await deliverSubscriptionEvent(message)
            } else {
                await pool.broadcast(method: method, params: message["params"])
            }
        default:
            if method.hasPrefix("notifications/"), message["params"]?["_meta"]?[ModernProtocol.subscriptionIDKey] != nil {
                await deliverSubscriptionEvent(message)
            }
        }
    }

    /// A modern child's listen-stream notification: back to the listen call it names.
    private func deliverSubscriptionEvent(_ message: JSONValue) async {
        let target = state.withLock { state -> (ClientStream, JSONValue)? in
            guard let id = message["params"]?["_meta"]?[ModernProtocol.subscriptionIDKey]?.stringValue,
                  let call = state.calls[id], let stream = call.stream else { return nil }
            return (stream, call.request.id)
        }
        guard let (stream, clientID) = target else { return }
        var notification = message
        notification["params"]?["_meta"]?[ModernProtocol.subscriptionIDKey] = clientID
        _ = await stream.queue.push(.message(notification.buffer))
    }
}
