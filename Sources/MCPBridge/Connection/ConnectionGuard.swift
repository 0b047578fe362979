import HTTPTypes
import NIOCore
import NIOHTTP1

/// Deadlines and close semantics for one HTTP/1 connection, just after HTTP decoding (it sees the
/// version and `Connection` headers that swift-http-types drops):
/// - the first request head must arrive within `headerTimeout`, each body within `bodyTimeout`
///   (a 408 when nothing was answered yet), and a keep-alive connection idles `idleTimeout` at most;
/// - a request that is not keep-alive (HTTP/1.0 without `keep-alive`, or `Connection: close`) is
///   closed right after its response, instead of half-closing and waiting for the client;
/// - an answer sent while the body still arrives (413) is followed by reading and discarding the
///   rest (bounded), then a close, so a client that writes its whole body first sees the answer;
/// - a request with no `Host` (HTTP/1.1) or several gets a 400, headers over the limits a 431,
///   and a close;
/// - on shutdown, an idle connection closes at once, a half-received body gets a 503, and any
///   other connection is closed after `shutdownDrain` whatever the client does;
/// - every response leaves as bytes written here (`HTTP1ResponseSerializer`, framed for the
///   request it answers: its version and whether it was `HEAD`), since it is the handler that
///   knows those; NIO's response encoder is not in the pipeline.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = IOData

    private enum Deadline { case firstHead, keepAlive, body, shutdown }

    /// What a response needs to know of the request it answers.
    private struct Asked {
        var version: HTTPVersion
        /// The request was `HEAD`: its answer has no body.
        var isHEAD: Bool

        var framing: HTTP1ResponseSerializer.Request {
            .init(head: isHEAD, readsChunks: version.major > 1 || (version.major == 1 && version.minor >= 1))
        }
    }

    private let limits: ConnectionLimits
    private let report: LimitReport
    /// The deadline in force. One timer serves them all: each request moves the deadline (twice),
    /// and scheduling plus cancelling a task each time cost ~8,800 instructions per request
    /// (callgrind). The timer is moved only when a deadline comes earlier than it; one that
    /// fires before the deadline in force sleeps again until it.
    private var deadline: (kind: Deadline, at: NIODeadline)?
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?
    private var readingBody = false
    /// A response is being written: its head went out, its end not yet.
    private var responseStarted = false
    /// Per request head read whose response has not ended, oldest first: whether its response
    /// ends the connection (HTTP/1.0 without keep-alive, `Connection: close`), its version and
    /// whether it was `HEAD`. Pipelined requests each keep their own: a later request's `close`
    /// must not cut off the answers before it.
    private var unanswered = CircularBuffer<(close: Bool, asked: Asked)>()
    /// The response being written ends the connection.
    private var closeAfterResponse = false
    private var draining = false
    /// A pipelined request's refusal, written once the answers before it are.
    private var deferredRefusal: (status: HTTPResponse.Status, message: String, asked: Asked)?
    /// The write of the answer the connection ends with, once it is sent.
    private var answerWritten: EventLoopFuture<Void>?
    private var drainedBytes = 0
    private var quiescing = false
    /// The last request head read (or refused): what a refusal answers.
    private var lastAsked = Asked(version: .http1_1, isHEAD: false)
    /// Writes the responses as bytes (NIO's encoder is not in this pipeline).
    private var serializer = HTTP1ResponseSerializer()
    private var started = false

    /// A connection over the cap: answered 503 and closed as soon as it is active.
    private let refuseAtOnce: Bool

    init(limits: ConnectionLimits, report: LimitReport, refuse: Bool = false) {
        self.limits = limits
        self.report = report
        self.refuseAtOnce = refuse
    }

    // MARK: Inbound

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        // Both handlerAdded (already active) and channelActive may arrive: start once.
        guard !started else { return }
        started = true
        if refuseAtOnce {
            refuse(.serviceUnavailable, message: "Service Unavailable: too many open connections", context: context)
        } else {
            arm(.firstHead, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimer()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimer()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard !draining else { return }
            let hosts = Self.hostCount(head.headers)
            if hosts > 1 || (hosts == 0 && head.version != .http1_0) {
                // RFC 9112 §3.2: which Host would the checks downstream trust?
                refuseInTurn(.badRequest, message: "Bad Request: a request needs exactly one Host header",
                             asked: Asked(version: head.version, isHEAD: head.method == .HEAD), context: context)
                return
            }
            readingBody = true
            responseStarted = false
            lastAsked = Asked(version: head.version, isHEAD: head.method == .HEAD)
            unanswered.append((close: !head.isKeepAlive, asked: lastAsked))
            arm(.body, context: context)
        case .body(let chunk):
            if draining {
                drainedBytes += chunk.readableBytes
                if drainedBytes > limits.drainBytes { context.close(promise: nil) }
                return
            }
        case .end:
            readingBody = false
            if draining {
                // A refusal waiting for the answers before it closes the connection itself.
                if deferredRefusal == nil { closeOnceAnswered(context: context) }
                return
            }
            if !unanswered.isEmpty { disarm() }
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // While discarding a refused body nobody above asks for more: keep reading ourselves.
        if draining { context.read() }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if draining, !(error is IOError) {
            // A refusal still waiting for its turn is followed by the close.
            guard deferredRefusal == nil else { return }
            // A malformed part after a refusal or inside a body being discarded: the client was
            // answered and the connection ends with that answer. Passed on, it would be answered
            // again (400) after the `Connection: close`. The fuzz target `http` found it.
            closeOnceAnswered(context: context)
            return
        }
        // Headers over the decoder's limits: the precise status, not a generic 400.
        if let parserError = error as? HTTPParserError, parserError == .headerOverflow {
            refuseInTurn(.requestHeaderFieldsTooLarge, message: "Request Header Fields Too Large: at most 80 KiB and 1000 fields",
                         asked: lastAsked, context: context)
            return
        }
        if !(error is IOError) {
            // The decoder reads nothing after a malformed part: a body it was in never ends, so
            // the 400 that answers it closes the connection at once instead of waiting to
            // discard the rest (found by the fuzz target `http`).
            readingBody = false
        }
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { quiesce(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let allocator = context.channel.allocator
        switch unwrapOutboundIn(data) {
        case .head(let head):
            let (head, asked) = begin(head)
            let bytes = serializer.head(head, answering: asked.framing, allocator: allocator)
            // A body that ends with the connection (a stream to an HTTP/1.0 client).
            if serializer.framing == .closeDelimited { closeAfterResponse = true }
            context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: promise)
        case .body(let chunk):
            var carried = false
            let last = writingAllButLast(context: context) { carried = serializer.body(chunk, allocator: allocator, emit: $0) }
            guard carried, let last else {
                // A bodiless answer (to `HEAD`, or a 204): there is nothing to send.
                promise?.succeed(())
                return
            }
            context.write(wrapOutboundOut(.byteBuffer(last)), promise: promise)
        case .end:
            finish(wrapOutboundOut(.byteBuffer(serializer.end(allocator: allocator))), promise: promise, context: context)
        case .whole(let head, let body):
            let (head, asked) = begin(head)
            let last = writingAllButLast(context: context) {
                serializer.whole(head, body: body, answering: asked.framing, allocator: allocator, emit: $0)
            }
            finish(wrapOutboundOut(.byteBuffer(last ?? allocator.buffer(capacity: 0))), promise: promise, context: context)
        }
    }

    /// Writes the buffers `serialize` emits but the last, which it returns: the caller writes that
    /// one with the part's promise.
    private func writingAllButLast(context: ChannelHandlerContext, _ serialize: ((ByteBuffer) -> Void) -> Void) -> ByteBuffer? {
        var last: ByteBuffer?
        serialize { bytes in
            if let previous = last { context.write(self.wrapOutboundOut(.byteBuffer(previous)), promise: nil) }
            last = bytes
        }
        return last
    }

    /// A response's head is about to be written: notes whether the connection ends with it, and
    /// says so in `head` to an HTTP/1.1 client. Returns the head and the request it answers.
    private func begin(_ head: HTTPResponse) -> (HTTPResponse, Asked) {
        responseStarted = true
        let request = unanswered.first
        let asked = request?.asked ?? lastAsked
        if request?.close == true { closeAfterResponse = true }
        // Only the bridge's own refusals carry `Connection`: most heads skip the split.
        if let connection = head.headerFields.combinedValue(.connection),
           connection.split(separator: ",").contains(where: { String($0).trimmingSpaces.lowercased() == "close" }) {
            closeAfterResponse = true
        } else if closeAfterResponse, asked.version == .http1_1 {
            // Say so, since the connection will not carry another request.
            var head = head
            head.headerFields[.connection] = "close"
            return (head, asked)
        }
        return (head, asked)
    }

    /// Writes `data`, the last bytes of a response, and applies what follows its end: a refusal
    /// waiting for it, the connection's close, or the keep-alive deadline.
    private func finish(_ data: NIOAny, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        _ = unanswered.popFirst()
        // No response is in progress now: a pipelined request's body deadline that expires
        // next gets its 408 (with the flag still set it was closed without one, depending
        // on whether its head came before this answer: found by the fuzz target `http`).
        responseStarted = false
        if let refusal = deferredRefusal, unanswered.isEmpty || closeAfterResponse {
            // The last answer before a refusal: the refusal follows it (unless this answer
            // ends the connection anyway), then the close.
            deferredRefusal = nil
            if closeAfterResponse {
                writeThenClose(data, promise: promise, context: context)
            } else {
                context.write(data, promise: promise)
                lastAsked = refusal.asked
                refuse(refusal.status, message: refusal.message, context: context)
            }
            return
        }
        if closeAfterResponse || (quiescing && unanswered.isEmpty) {
            if readingBody {
                // Answered before the body ended: discard the rest, then close.
                draining = true
                let written = context.eventLoop.makePromise(of: Void.self)
                answerWritten = written.futureResult
                context.writeAndFlush(data, promise: written)
                written.futureResult.cascade(to: promise)
                context.read()
            } else {
                writeThenClose(data, promise: promise, context: context)
            }
            return
        }
        context.write(data, promise: promise)
        if unanswered.isEmpty, !readingBody { arm(.keepAlive, context: context) }
    }

    /// How many `Host` fields `headers` has, without the array of their values that the
    /// subscript builds (~750 instructions a request, against ~150).
    static func hostCount(_ headers: HTTPHeaders) -> Int {
        var count = 0
        for (name, _) in headers where HTTP1Conversion.isHost(name) { count += 1 }
        return count
    }

    // MARK: Deadlines

    private func arm(_ kind: Deadline, context: ChannelHandlerContext) {
        let delay: Duration
        switch kind {
        case .firstHead: delay = limits.headerTimeout
        case .keepAlive: delay = limits.idleTimeout
        case .body: delay = limits.bodyTimeout
        case .shutdown: delay = limits.shutdownDrain
        }
        let at = context.eventLoop.now + TimeAmount(delay)
        deadline = (kind, at)
        if let timer, timer.at <= at { return }
        schedule(at: at, context: context)
    }

    private func schedule(at: NIODeadline, context: ChannelHandlerContext) {
        timer?.task.cancel()
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { [self] in
            timer = nil
            guard let deadline else { return }
            if context.eventLoop.now < deadline.at {
                schedule(at: deadline.at, context: context)
            } else {
                self.deadline = nil
                expire(deadline.kind, context: context)
            }
        }
        timer = (task, at)
    }

    /// No deadline until the next `arm`; a pending timer finds none and ends.
    private func disarm() {
        deadline = nil
    }

    private func stopTimer() {
        deadline = nil
        timer?.task.cancel()
        timer = nil
    }

    private func expire(_ deadline: Deadline, context: ChannelHandlerContext) {
        let peer = context.channel.remoteAddress.map { "\($0)" } ?? "a client"
        switch deadline {
        case .firstHead:
            report.hit(.headerTimeout, "closed a connection from \(peer) that sent no complete request head within \(limits.headerTimeout) (--header-timeout)")
            context.close(promise: nil)
        case .keepAlive:
            context.close(promise: nil)
        case .body:
            report.hit(.bodyTimeout, "closed a connection from \(peer) whose request body did not arrive within \(limits.bodyTimeout) (--body-timeout)")
            let message = "Request Timeout: the body did not arrive within \(limits.bodyTimeout)"
            if unanswered.count > 1 {
                // Pipelined behind requests still being answered: the 408 follows their answers
                // (it overtook them, and its close cut them off; the fuzz target `http` checks
                // it with expiring deadlines).
                refuseBodyInTurn(.requestTimeout, message: message, context: context)
            } else if responseStarted {
                context.close(promise: nil)
            } else {
                refuse(.requestTimeout, message: message, context: context)
            }
        case .shutdown:
            report.hit(.shutdownDrain, "closed a connection from \(peer) still busy \(limits.shutdownDrain) after shutdown began")
            context.close(promise: nil)
        }
    }

    private func quiesce(context: ChannelHandlerContext) {
        quiescing = true
        if unanswered.isEmpty {
            context.close(promise: nil)
        } else if readingBody, unanswered.count > 1 {
            // Pipelined behind answers still being written: the 503 follows them, within the
            // shutdown's drain.
            refuseBodyInTurn(.serviceUnavailable, message: Self.shuttingDown, context: context)
            arm(.shutdown, context: context)
        } else if readingBody, !responseStarted {
            refuse(.serviceUnavailable, message: Self.shuttingDown, context: context)
        } else {
            arm(.shutdown, context: context)
        }
    }

    /// Refuses a request whose head cannot be served, after the answers to the requests before
    /// it: written at once, a pipelined request's refusal would overtake them and its close
    /// would cut them off (found by the fuzz target `http`). Nothing after it is read.
    private func refuseInTurn(_ status: HTTPResponse.Status, message: String, asked: Asked, context: ChannelHandlerContext) {
        draining = true
        if unanswered.isEmpty {
            lastAsked = asked
            refuse(status, message: message, context: context)
        } else {
            deferredRefusal = (status, message, asked)
        }
    }

    /// Refuses the request whose body is being read (the last unanswered one) after the answers
    /// to the requests ahead of it; the refusal alone answers it.
    private func refuseBodyInTurn(_ status: HTTPResponse.Status, message: String, context: ChannelHandlerContext) {
        _ = unanswered.popLast()
        refuseInTurn(status, message: message, asked: lastAsked, context: context)
    }

    private static let shuttingDown = "Service Unavailable: the bridge is shutting down"

    /// Answers the request being read with a JSON-RPC error and closes.
    private func refuse(_ status: HTTPResponse.Status, message: String, context: ChannelHandlerContext) {
        responseStarted = true
        let body = JSONRPCErrorBody.buffer(id: nil, code: .serverError, message: message)
        let head = HTTPResponse(status: status, headerFields: [.contentType: "application/json", .connection: "close"])
        // Written from here, below `write`: a refusal is not one of the answers it counts.
        let last = writingAllButLast(context: context) {
            serializer.whole(head, body: body, answering: lastAsked.framing, allocator: context.channel.allocator, emit: $0)
        }
        writeThenClose(wrapOutboundOut(.byteBuffer(last ?? ByteBuffer())), promise: nil, context: context)
    }

    /// Closes once the answer the connection ends with has been written: a close before would
    /// drop it if the socket has not taken it yet.
    private func closeOnceAnswered(context: ChannelHandlerContext) {
        guard let answerWritten else {
            context.close(promise: nil)
            return
        }
        answerWritten.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func writeThenClose(_ data: NIOAny, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        let written = context.eventLoop.makePromise(of: Void.self)
        answerWritten = written.futureResult
        context.writeAndFlush(data, promise: written)
        written.futureResult.assumeIsolated().whenComplete { result in
            promise?.completeWith(result)
            context.close(promise: nil)
        }
    }
}
