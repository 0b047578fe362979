import Logging
import NIOCore
import ServiceLifecycle

/// Warm, initialized children that serve 2026-07-28 requests, which belong to no session. The
/// pool starts with the first modern request (a bridge only legacy clients use never runs it),
/// keeps `size` children from then on, grows to `maximum` under load and shrinks back when the
/// extra children fall idle. A call held for client input (MRTR) stays on its child.
public final class ChildPool: Service, Sendable {
    public struct Configuration: Sendable {
        public var size = 2
        public var maximum = 8
        /// Start the pool with the bridge instead of with the first modern request.
        public var eager = false
        /// How long the stdio probe waits for `server/discover` before calling the child legacy.
        public var probeTimeout: Duration = .seconds(10)
        public var initializeTimeout: Duration = .seconds(60)
        /// How long a call held for client input waits for the client's retry.
        public var inputTimeout: Duration = .seconds(300)
        public var requestTimeout: Duration = .seconds(600)
        /// How long a request waits for a free child before it is refused with 503.
        public var acquireTimeout: Duration = .seconds(30)
        /// An extra child (above `size`) idle this long is stopped.
        public var surplusIdle: Duration = .seconds(30)
        /// How long a legacy child may take to end a cancelled interactive call before it is replaced.
        public var cancelGrace: Duration = .seconds(2)

        public init() {}
    }

    public enum Refusal: Error, Equatable {
        case unavailable(String)
        case shuttingDown
    }

    struct Held {
        var child: PoolChild
        var callID: String
        var created = ContinuousClock.now
    }

    struct Listener {
        var id: JSONValue
        var stream: ClientStream
        var filter: [String: JSONValue]
        var uris: Set<String>
    }

    private struct State {
        var active = false
        var shuttingDown = false
        var children: [PoolChild] = []
        var starting = 0
        var waiting = 0
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        var nextChild = 0
        var held: [String: Held] = [:]
        var modernStates: [String: (child: PoolChild, created: ContinuousClock.Instant)] = [:]
        var listeners: [Int: Listener] = [:]
        var nextListener = 0
        var recentFailures = 0
        var lastFailure: String?
    }

    public let configuration: Configuration
    private let command: ChildCommand
    private let session: SessionConfiguration
    private let logger: Logger
    private let state = Locked(State())
    private let launches: AsyncStream<(PoolChild, Duration)>
    private let launchQueue: AsyncStream<(PoolChild, Duration)>.Continuation
    private let stopping = Latch()

    public init(command: ChildCommand, configuration: Configuration, session: SessionConfiguration, logger: Logger) {
        self.command = command
        self.configuration = configuration
        self.session = session
        self.logger = logger
        (launches, launchQueue) = AsyncStream.makeStream()
    }

    public var childCount: Int { state.withLock { $0.children.count } }
    var streamBufferBytes: Int { session.streamBufferBytes }

    public func run() async throws {
        if configuration.eager { activate() }
        await withTaskCancellationOrGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.sweep() }
                for await (child, delay) in launches {
                    group.addTask {
                        if delay > .zero { try? await Task.sleep(for: delay) }
                        let began = ContinuousClock.now
                        let exit = await child.run()
                        self.didEnd(child, exit: exit, lived: .now - began)
                    }
                    group.addTask {
                        let ready = await child.handshake(probeTimeout: self.configuration.probeTimeout,
                                                          initializeTimeout: self.configuration.initializeTimeout)
                        self.state.withLock { $0.starting -= 1 }
                        if ready {
                            let uris = self.state.withLock { Set($0.listeners.values.flatMap(\.uris)) }
                            if !uris.isEmpty { await child.subscribe(to: uris) }
                        }
                        self.childChanged()
                    }
                }
            }
        } onCancelOrGracefulShutdown: {
            self.shutDownAll()
        }
    }

    /// Starts the warm children (once).
    func activate() {
        let spawned = state.withLock { state -> [PoolChild] in
            guard !state.active, !state.shuttingDown else { return [] }
            state.active = true
            return (0..<max(configuration.size, 1)).map { _ in makeChild(&state) }
        }
        if !spawned.isEmpty { logger.info("starting the 2026-07-28 child pool", metadata: ["size": "\(spawned.count)"]) }
        for child in spawned { launchQueue.yield((child, .zero)) }
    }

    private func makeChild(_ state: inout State) -> PoolChild {
        state.nextChild += 1
        state.starting += 1
        let child = PoolChild(number: state.nextChild, command: command, limits: session.childLimits, pool: self, logger: logger)
        state.children.append(child)
        return child
    }

    private func didEnd(_ child: PoolChild, exit: ChildExit, lived: Duration) {
        let replacement = state.withLock { state -> (PoolChild, Duration)? in
            state.children.removeAll { $0 === child }
            state.held = state.held.filter { $0.value.child !== child }
            state.modernStates = state.modernStates.filter { $0.value.child !== child }
            if !child.wasReady {
                state.lastFailure = "\(Session.describe(exit).replacing(" before answering", with: "")) before it was ready"
                state.recentFailures += 1
            } else if lived >= .seconds(2) {
                state.recentFailures = 0
            }
            guard state.active, !state.shuttingDown, state.children.count < configuration.size else { return nil }
            // A child that keeps dying at once is restarted with backoff, not in a tight loop.
            let delay = state.recentFailures == 0 ? Duration.zero : .milliseconds(min(250 << min(state.recentFailures, 7), 30_000))
            return (makeChild(&state), delay)
        }
        if let replacement { launchQueue.yield(replacement) }
        childChanged()
    }

    /// A child that can take a call now, starting one if the pool may grow; waits (bounded) otherwise.
    func acquire(interactive: Bool) async -> Result<PoolChild, Refusal> {
        activate()
        let deadline = ContinuousClock.now + configuration.acquireTimeout
        while true {
            let (choice, spawned, generation, refusal) = state.withLock { state -> (PoolChild?, PoolChild?, Int, Refusal?) in
                if state.shuttingDown { return (nil, nil, 0, .shuttingDown) }
                for child in state.children.sorted(by: { $0.load < $1.load }) where child.reserve(interactive: interactive) {
                    return (child, nil, 0, nil)
                }
                // A command that keeps failing to come up is reported at once, not after a wait.
                if state.recentFailures >= 3, let failure = state.lastFailure { return (nil, nil, 0, .unavailable(failure)) }
                var spawned: PoolChild?
                if state.children.count < configuration.maximum, state.starting <= state.waiting {
                    spawned = makeChild(&state)
                }
                return (nil, spawned, state.generation, nil)
            }
            if let refusal { return .failure(refusal) }
            if let choice { return .success(choice) }
            if let spawned { launchQueue.yield((spawned, .zero)) }
            let now = ContinuousClock.now
            guard now < deadline else {
                let reason = state.withLock { $0.lastFailure } ?? "every MCP server process is busy"
                return .failure(.unavailable(reason))
            }
            await waitForChange(since: generation, timeout: min(deadline - now, .seconds(1)))
        }
    }

    private func waitForChange(since generation: Int, timeout: Duration) async {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let registered = state.withLock { state -> Bool in
                guard state.generation == generation, !state.shuttingDown else { return false }
                state.waiters[id] = continuation
                state.waiting += 1
                return true
            }
            guard registered else { return continuation.resume() }
            Task {
                try? await Task.sleep(for: timeout)
                self.resumeWaiter(id)
            }
        }
    }

    private func resumeWaiter(_ id: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiters.removeValue(forKey: id) else { return nil }
            state.waiting -= 1
            return waiter
        }
        waiter?.resume()
    }

    /// Something that may free a child happened: waiting requests look again.
    func childChanged() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation += 1
            defer { state.waiters.removeAll(); state.waiting = 0 }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: MRTR state

    /// Registers a call held for client input and returns the `requestState` for it: 256
    /// random bits, so it cannot be guessed, and known only to this bridge.
    func hold(callID: String, child: PoolChild) -> String {
        let token = "mb1." + SecureRandom.hex(byteCount: 32)
        state.withLock { $0.held[token] = Held(child: child, callID: callID) }
        return token
    }

    func forget(state token: String) {
        _ = state.withLock { $0.held.removeValue(forKey: token) }
    }

    func peekHeld(_ token: String) -> Held? {
        state.withLock { $0.held[token] }
    }

    /// Takes the held call a retry continues (single use).
    func takeHeld(_ token: String) -> Held? {
        state.withLock { $0.held.removeValue(forKey: token) }
    }

    /// Whether a `requestState` has the shape of the bridge's own (then it is never forwarded).
    static func isBridgeState(_ token: String) -> Bool { token.hasPrefix("mb1.") }

    /// A modern child's own `requestState`: its retry goes back to the same process.
    func remember(modernState: String, child: PoolChild) {
        state.withLock { state in
            if state.modernStates.count >= 10_000 { state.modernStates.removeAll() }
            state.modernStates[modernState] = (child, .now)
        }
    }

    func child(forModernState token: String) -> PoolChild? {
        state.withLock { $0.modernStates[token]?.child }
    }

    // MARK: Subscriptions (legacy children)

    /// Opens a `subscriptions/listen` stream served by the bridge: acknowledged with what the
    /// child can honour, then fed the children's change notifications. Returns its key.
    func listen(_ request: ModernRequest, stream: ClientStream, capabilities: JSONValue?) async -> Int {
        let asked = request.params["notifications"]?.objectValue ?? [:]
        var honored: [String: JSONValue] = [:]
        for (flag, capability) in [("toolsListChanged", "tools"), ("promptsListChanged", "prompts"), ("resourcesListChanged", "resources")]
        where asked[flag] == .bool(true) && capabilities?[capability]?["listChanged"] == .bool(true) {
            honored[flag] = .bool(true)
        }
        var uris = Set<String>()
        if capabilities?["resources"]?["subscribe"] == .bool(true), case .array(let wanted)? = asked["resourceSubscriptions"] {
            uris = Set(wanted.compactMap(\.stringValue))
            if !uris.isEmpty { honored["resourceSubscriptions"] = .array(uris.sorted().map(JSONValue.string)) }
        }
        let (key, children) = state.withLock { state -> (Int, [PoolChild]) in
            state.nextListener += 1
            state.listeners[state.nextListener] = Listener(id: request.id, stream: stream, filter: honored, uris: uris)
            return (state.nextListener, state.children)
        }
        if !uris.isEmpty {
            for child in children { await child.subscribe(to: uris) }
        }
        let ack = JSONValue.object([
            "jsonrpc": .string("2.0"), "method": .string("notifications/subscriptions/acknowledged"),
            "params": .object(["notifications": .object(honored), "_meta": .object([ModernProtocol.subscriptionIDKey: request.id])]),
        ])
        _ = await stream.queue.push(.message(ack.buffer))
        return key
    }

    func stopListening(_ key: Int) {
        _ = state.withLock { $0.listeners.removeValue(forKey: key) }
    }

    /// A legacy child's change notification, to every listener that opted in to it.
    func broadcast(method: String, params: JSONValue?) async {
        let uri = params?["uri"]?.stringValue
        let targets = state.withLock { state in
            state.listeners.values.filter { listener in
                switch method {
                case "notifications/tools/list_changed": return listener.filter["toolsListChanged"] == .bool(true)
                case "notifications/prompts/list_changed": return listener.filter["promptsListChanged"] == .bool(true)
                case "notifications/resources/list_changed": return listener.filter["resourcesListChanged"] == .bool(true)
                default: return uri.map { listener.uris.contains($0) } ?? false
                }
            }
        }
        for listener in targets {
            var notificationParams = params?.objectValue ?? [:]
            var meta = notificationParams["_meta"]?.objectValue ?? [:]
            meta[ModernProtocol.subscriptionIDKey] = listener.id
            notificationParams["_meta"] = .object(meta)
            let notification = JSONValue.object(["jsonrpc": .string("2.0"), "method": .string(method), "params": .object(notificationParams)])
            // A listener that stopped reading loses events rather than stalling every child.
            if !listener.stream.queue.enqueue(.message(notification.buffer)) {
                logger.debug("listen stream full or closed; event dropped", metadata: ["method": "\(method)"])
            }
        }
    }

    // MARK: Housekeeping

    private func sweep() async {
        while await !stopping.wait(timeout: .seconds(1)), !Task.isCancelled {
            let now = ContinuousClock.now
            let (expired, children, surplus) = state.withLock { state -> ([(String, Held)], [PoolChild], [PoolChild]) in
                let expired = state.held.filter { now - $0.value.created > configuration.inputTimeout }
                for (token, _) in expired { state.held[token] = nil }
                state.modernStates = state.modernStates.filter { now - $0.value.created <= configuration.inputTimeout }
                var surplus: [PoolChild] = []
                var extra = state.children.count - configuration.size
                for child in state.children where extra > 0 && child.isReady && child.idle(for: configuration.surplusIdle, now: now) {
                    surplus.append(child)
                    extra -= 1
                }
                return (Array(expired), state.children, surplus)
            }
            for (token, held) in expired {
                await held.child.expireHeld(callID: held.callID, heldState: token, after: configuration.inputTimeout)
            }
            for child in children {
                await child.expireCalls(olderThan: configuration.requestTimeout, now: now)
                child.retireIfCancelledCallLingers(grace: configuration.cancelGrace, now: now)
            }
            for child in surplus {
                logger.info("stopping an idle extra pool child", metadata: ["child": "\(child.number)"])
                child.shutDown()
            }
        }
    }

    public func shutDownAll() {
        let (children, listeners) = state.withLock { state -> ([PoolChild], [Listener]) in
            state.shuttingDown = true
            return (state.children, Array(state.listeners.values))
        }
        stopping.open()
        for child in children { child.shutDown() }
        for listener in listeners { listener.stream.queue.finish() }
        launchQueue.finish()
        childChanged()
    }
}
