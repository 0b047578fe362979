import Logging
import ServiceLifecycle

/// Owns every session: creates them under the session cap, runs each child as a child task,
/// reaps idle sessions, and on shutdown walks every child down its shutdown ladder.
public final class SessionManager: Service, Sendable {
    public enum CreateError: Error, Equatable {
        case limitReached(Int)
        case shuttingDown
    }

    public struct Configuration: Sendable {
        public var command: ChildCommand
        public var maximumSessions: Int = 100
        public var idleTimeout: Duration = .seconds(1800)
        /// A session whose `initialize` has not completed within this is ended, so sessions
        /// that never start cannot hold every `maximumSessions` slot for the idle timeout.
        public var initializeTimeout: Duration = .seconds(60)
        /// At the session cap, a new session evicts the session idle longest, if it has been idle
        /// this long: sessions clients forgot cannot lock everyone out for the idle timeout.
        public var evictIdleAfter: Duration = .seconds(60)
        /// A request the child has not answered within this gets a JSON-RPC error.
        public var requestTimeout: Duration = .seconds(600)
        /// Children started ahead of any client, so a new session skips the process start. Each
        /// costs one idle server process; they do not count against `maximumSessions`.
        public var warmSpares = 0
        public var session = SessionConfiguration()

        public init(command: ChildCommand) { self.command = command }
    }

    private struct State {
        var sessions: [String: Session] = [:]
        var spares: [Session] = []
        /// Spares that ended young before any client took them, in a row: a command that cannot
        /// stay up is not restarted in a loop (a new session tries again).
        var spareFailures = 0
        var childrenRunning = 0
        var shuttingDown = false
        var lastStartFailure: String?
    }

    public let configuration: Configuration
    private let logger: Logger
    private let metrics: BridgeMetrics
    private let state = Locked(State())
    private let launches: AsyncStream<Session>
    private let launchQueue: AsyncStream<Session>.Continuation
    private let stopping = Latch()

    public init(configuration: Configuration, metrics: BridgeMetrics, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        (launches, launchQueue) = AsyncStream.makeStream()
    }

    public var count: Int { state.withLock { $0.sessions.count } }

    /// Why the child command cannot be run, if it cannot (for `/readyz`).
    public var unreadyReason: String? {
        if let missing = configuration.command.unresolvableReason { return missing }
        return state.withLock { $0.lastStartFailure }
    }

    public func session(id: String) -> Session? {
        state.withLock { $0.sessions[id] }
    }

    /// Creates a session and starts its child.
    public func create(transport: Session.Transport) throws(CreateError) -> Session {
        let (session, launch) = try state.withLock { (state) throws(CreateError) -> (Session, Bool) in
            guard !state.shuttingDown else { throw .shuttingDown }
            if state.sessions.count >= configuration.maximumSessions {
                guard let evicted = Self.longestIdle(in: state.sessions.values, atLeast: configuration.evictIdleAfter) else {
                    throw .limitReached(configuration.maximumSessions)
                }
                // Its slot is free now; its child walks the shutdown ladder in the background.
                state.sessions[evicted.id] = nil
                evicted.terminate(reason: "evicted: idle while the session limit was reached")
            }
            // A client's demand is worth another try at a spare, even after a failing streak.
            state.spareFailures = 0
            while let spare = state.spares.popLast() {
                guard spare.claim(transport: transport) else { continue }
                state.sessions[spare.id] = spare
                metrics.sessionsChanged(active: state.sessions.count, children: state.childrenRunning)
                return (spare, false)
            }
            let session = makeSession(transport: transport, in: &state)
            state.sessions[session.id] = session
            metrics.sessionsChanged(active: state.sessions.count, children: state.childrenRunning)
            return (session, true)
        }
        metrics.sessionStarted(transport: transport.rawValue)
        if launch { launchQueue.yield(session) }
        refillSpares()
        return session
    }

    private func makeSession(transport: Session.Transport, in state: inout State) -> Session {
        var id = SessionID.make()
        while state.sessions[id] != nil || state.spares.contains(where: { $0.id == id }) { id = SessionID.make() }
        state.childrenRunning += 1
        return Session(id: id, transport: transport, command: configuration.command,
                       configuration: configuration.session, metrics: metrics, logger: logger)
    }

    /// Starts spares up to `warmSpares` (after a failing streak, only when a client takes one).
    private func refillSpares() {
        let started = state.withLock { state -> [Session] in
            guard !state.shuttingDown, state.spareFailures < 3 else { return [] }
            var started: [Session] = []
            while state.spares.count < configuration.warmSpares {
                let spare = makeSession(transport: .streamableHTTP, in: &state)
                spare.markSpare()
                state.spares.append(spare)
                started.append(spare)
            }
            if !started.isEmpty { metrics.sessionsChanged(active: state.sessions.count, children: state.childrenRunning) }
            return started
        }
        for spare in started { launchQueue.yield(spare) }
    }

    /// The session with no stream and no request for longest, if that is at least `minimum`.
    static func longestIdle(in sessions: some Sequence<Session>, atLeast minimum: Duration, now: ContinuousClock.Instant = .now) -> Session? {
        var chosen: (session: Session, idle: Duration)?
        for session in sessions {
            guard let idle = session.idleTime(now: now), idle >= minimum, idle > (chosen?.idle ?? .zero) else { continue }
            chosen = (session, idle)
        }
        return chosen?.session
    }

    public func run() async throws {
        refillSpares()
        await withTaskCancellationOrGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.reapIdleSessions() }
                for await session in launches {
                    group.addTask {
                        await session.run()
                        self.didEnd(session)
                    }
                }
            }
        } onCancelOrGracefulShutdown: {
            self.shutDownAll()
        }
    }

    private func didEnd(_ session: Session) {
        let startFailure: String? = session.processID == nil ? "the MCP server command could not be started" : nil
        let wasSpare = session.isSpare
        let age = session.age
        state.withLock { state in
            if wasSpare {
                state.spares.removeAll { $0 === session }
                // A spare that dies young (a command that cannot stay up) counts against refilling.
                if startFailure != nil || age < .seconds(2) { state.spareFailures += 1 } else { state.spareFailures = 0 }
            }
            state.sessions[session.id] = nil
            state.childrenRunning -= 1
            if let startFailure { state.lastStartFailure = startFailure } else { state.lastStartFailure = nil }
            metrics.sessionsChanged(active: state.sessions.count, children: state.childrenRunning)
        }
        if wasSpare { refillSpares() }
    }

    /// Stops taking sessions and ends every running one; `run()` returns once all children are gone.
    public func shutDownAll() {
        let sessions = state.withLock { state in
            state.shuttingDown = true
            return Array(state.sessions.values) + state.spares
        }
        logger.info("shutting down sessions", metadata: ["count": "\(sessions.count)"])
        stopping.open()
        for session in sessions { session.terminate(reason: "bridge shutting down") }
        launchQueue.finish()
    }

    private func reapIdleSessions() async {
        let interval = min(configuration.idleTimeout / 4, configuration.initializeTimeout / 4, configuration.requestTimeout / 4, .seconds(30))
        while await !stopping.wait(timeout: interval), !Task.isCancelled {
            let now = ContinuousClock.now
            let sessions = state.withLock { Array($0.sessions.values) }
            for session in sessions {
                if session.isIdle(for: configuration.idleTimeout, now: now) {
                    session.terminate(reason: "idle timeout")
                } else if session.neverInitialized(within: configuration.initializeTimeout, now: now) {
                    session.terminate(reason: "initialize did not complete within the initialize timeout")
                } else {
                    await session.expireRequests(olderThan: configuration.requestTimeout, now: now)
                }
            }
        }
    }
}

/// Session ids: 128 bits from the system's cryptographic generator, as 32 hex digits
/// (visible ASCII only, SH-17).
enum SessionID {
    static func make() -> String { SecureRandom.hex(byteCount: 16) }
}
