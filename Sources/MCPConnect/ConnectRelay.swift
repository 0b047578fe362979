#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import MCPBridge
import NIOCore
import NIOPosix

/// `mcp-bridge connect`: a remote MCP server presented to a local client as a stdio server.
///
/// Lines from stdin go to the remote endpoint; everything the server sends comes out on stdout,
/// one message per line. Requests run concurrently (a tool call may wait on the client's answer
/// to a sampling request); `initialize`, notifications and responses go in order. Failures reach
/// the client as JSON-RPC errors for its requests, never as a silent exit. Returns when stdin
/// closes, after ending the remote session.
public struct ConnectRelay: Sendable {
    let configuration: ConnectConfiguration
    let logger: Logger

    public init(configuration: ConnectConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The transport in use, chosen at `initialize`.
    private actor Remote {
        enum State { case undecided, streamable(StreamableSession), legacy(LegacySession) }
        var state: State = .undecided
        func set(_ state: State) { self.state = state }
    }

    public func run() async throws {
        // A client that stops reading must not kill the relay with SIGPIPE; its write fails instead.
        signal(SIGPIPE, SIG_IGN)
        let tls = configuration.endpoint.secure ? try TLSClient(policy: configuration.trust) : nil
        logger.notice("relaying stdio to \(configuration.endpoint)", metadata: ["transport": "\(configuration.transport.rawValue)", "tls": "\(trustSummary)"])
        if configuration.trust == .insecure {
            logger.warning("--insecure: the server's certificate is not checked; anyone on the path can read the token and every message")
        }
        if !configuration.endpoint.secure, configuration.token != nil, !configuration.endpoint.isLoopback {
            logger.warning("the bearer token travels in clear text over plain http:// to \(configuration.endpoint.host)")
        }
        let exchange = HTTPExchange(connectTimeout: configuration.connectTimeout, tls: tls, group: MultiThreadedEventLoopGroup.singleton)
        let link = StdioLink()
        let sink = ClientSink(link: link, logger: logger)
        var headers = configuration.headers.map { ($0.name, $0.value) }
        if let token = configuration.token { headers.append(("Authorization", "Bearer \(token)")) }
        let remoteLink = RemoteLink(exchange: exchange, endpoint: configuration.endpoint, baseHeaders: headers, sink: sink,
                                    logger: logger, maximumMessageBytes: configuration.maximumMessageBytes)
        let streamable = StreamableSession(link: remoteLink)
        let legacy = LegacySession(link: remoteLink)
        let remote = Remote()
        switch configuration.transport {
        case .auto: break
        case .streamable: await remote.set(.streamable(streamable))
        case .sse: await remote.set(.legacy(legacy))
        }

        let inFlight = InFlightCount(limit: configuration.maximumInFlight)
        do {
            try await withThrowingDiscardingTaskGroup { group in
                var framer = LineFramer(maximumLineBytes: configuration.maximumMessageBytes)
                var frames: [LineFramer.Frame] = []
                var ended = false
                while !ended {
                    if let chunk = try await link.read() {
                        chunk.withUnsafeBytes { framer.append($0, into: &frames) }
                    } else {
                        framer.finish(into: &frames)
                        ended = true
                    }
                    for frame in frames {
                        guard let message = try await accept(frame, sink: sink) else { continue }
                        if message.requestIDs.isEmpty || message.isInitialize {
                            // In order: initialize first, then notifications and responses as written.
                            try await relay(message, remote: remote, streamable: streamable, legacy: legacy, sink: sink)
                        } else if !inFlight.enter() {
                            try await sink.fail(message.requestIDs, .tooManyInFlight(limit: configuration.maximumInFlight))
                        } else {
                            group.addTask {
                                defer { inFlight.leave() }
                                do {
                                    try await relay(message, remote: remote, streamable: streamable, legacy: legacy, sink: sink)
                                } catch is CancellationError {
                                    // stdin closed while this request was in flight: abandoned, not an error.
                                }
                            }
                        }
                    }
                    frames.removeAll(keepingCapacity: true)
                }
                // stdin closed: the client is done; requests still in flight are abandoned.
                group.cancelAll()
            }
        } catch is StdioLink.Closed {
            logger.notice("the local client stopped reading stdout")
        }
        switch await remote.state {
        case .streamable(let session): await session.close(timeout: configuration.closeTimeout)
        case .legacy(let session): await session.close()
        case .undecided: break
        }
        await link.flush()
    }

    private var trustSummary: String {
        guard configuration.endpoint.secure else { return "none (plain http)" }
        switch configuration.trust {
        case .system: return "system trust store"
        case .caFile(let path): return "CA file \(path)"
        case .fingerprint(let pin): return "pinned SHA-256 \(pin)"
        case .insecure: return "NOT VERIFIED (--insecure)"
        }
    }

    /// A stdin frame as a message to relay, or nil after answering it locally (not JSON-RPC, too large).
    private func accept(_ frame: LineFramer.Frame, sink: ClientSink) async throws -> ClientMessage? {
        switch frame {
        case .oversized(let prefix, let length):
            let id = prefix.withUnsafeReadableBytes { EnvelopeScanner.peekID(inPrefix: $0) }
            logger.error("a message from the client of \(length) bytes exceeds --max-message-bytes \(configuration.maximumMessageBytes)")
            try await sink.reject(id, code: .invalidRequest, message: "message of \(length) bytes exceeds mcp-bridge connect's --max-message-bytes (\(configuration.maximumMessageBytes))")
            return nil
        case .line(let line):
            let bytes = Array(line.readableBytesView)
            guard bytes.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0D) }) else { return nil }
            do {
                return ClientMessage(bytes: bytes, parsed: try EnvelopeScanner.parse(bytes))
            } catch {
                try await sink.reject(nil, code: error.code, message: error.message)
                return nil
            }
        }
    }

    /// Sends one message on the transport in use (choosing it at `initialize`); failures become
    /// errors for the message's requests.
    private func relay(_ message: ClientMessage, remote: Remote, streamable: StreamableSession, legacy: LegacySession, sink: ClientSink) async throws {
        do {
            switch await remote.state {
            case .streamable(let session):
                try await answerMissing(message, answered: try await session.send(message), sink: sink)
            case .legacy(let session):
                try await session.send(message)
            case .undecided:
                guard message.isInitialize else {
                    // Nothing decided yet: the streamable endpoint is the default.
                    await remote.set(.streamable(streamable))
                    try await answerMissing(message, answered: try await streamable.send(message), sink: sink)
                    return
                }
                do {
                    let answered = try await streamable.send(message)
                    await remote.set(.streamable(streamable))
                    try await answerMissing(message, answered: answered, sink: sink)
                } catch let refusal as RemoteReply.Refusal where [400, 404, 405].contains(refusal.status) {
                    // The spec's fallback: a server that refuses a POSTed initialize may be legacy HTTP+SSE.
                    logger.info("\(configuration.endpoint) answered \(refusal.status) to initialize; trying the legacy HTTP+SSE transport")
                    do {
                        try await legacy.send(message)
                        await remote.set(.legacy(legacy))
                        logger.notice("connected with the legacy HTTP+SSE transport")
                    } catch {
                        logger.info("the legacy transport failed too: \(error)")
                        throw refusal
                    }
                }
            }
        } catch let refusal as RemoteReply.Refusal {
            if let answer = refusal.answer(for: message.requestIDs) {
                try await sink.deliver(answer)
            } else {
                try await sink.fail(message.requestIDs, refusal.failure)
            }
        } catch let failure as ConnectFailure {
            try await sink.fail(message.requestIDs, failure)
        } catch is RemoteReply.SessionExpired {
            try await sink.fail(message.requestIDs, .httpStatus(404, body: "the session expired and could not be renewed"))
        } catch let closed as StdioLink.Closed {
            throw closed
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // Anything unforeseen still answers the client instead of ending the relay.
            try await sink.fail(message.requestIDs, .unexpected("\(error)"))
        }
    }

    private func answerMissing(_ message: ClientMessage, answered: Set<JSONRPCID>, sink: ClientSink) async throws {
        let missing = message.requestIDs.filter { !answered.contains($0) }
        if !missing.isEmpty { try await sink.fail(missing, .streamEnded) }
    }
}
