import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Serves one HTTP/1 connection: collects each request's body (up to `bodyLimit`), runs the
/// responder in a task on the connection's event loop, and answers requests one at a time in
/// arrival order. This replaces Hummingbird's `HTTP1Channel`, whose async-sequence plumbing
/// cost more instructions per request than the bridge's own work (bench/NOTES.md); the
/// connection's limits, deadlines and close rules stay in `ConnectionGuard` below it.
///
/// - A body over `bodyLimit` is not buffered: the request goes to the responder as soon as that
///   is known (at its head when `Content-Length` says so), carrying `bodyLimit + 1` bytes at
///   most, so collecting it fails as too large (413); the rest is discarded.
/// - Pipelined requests wait for the answer before them; once one is complete, reading stops
///   until it is served. Otherwise the connection is read while a response streams, so a client
///   that closes its side is noticed at once (`InboundCloseWatch`).
final class HTTPRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    /// Responses are written from this handler's context (`ResponseOutput`), already as the
    /// guard's parts; the handler is outbound only to hold reads while pipelined requests wait.
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart
    typealias Respond = @Sendable (Request, BridgeRequestContext) async -> BridgeResponse

    /// A request ready to serve: its head and its whole body (at most `bodyLimit + 1` bytes).
    private struct Received {
        var head: HTTPRequest
        var body: ByteBuffer
    }

    private struct Incoming {
        var head: HTTPRequest
        var body: ByteBuffer?
        /// Handed to the responder already (its body was over the limit).
        var dispatched: Bool
    }

    private let respond: Respond
    private let bodyLimit: Int
    private let logger: Logger
    private let watch = InboundCloseWatch()
    private var context: ChannelHandlerContext?
    private var incoming: Incoming?
    private var heads = HTTP1HeadCache()
    private var waiting = CircularBuffer<Received>()
    private var serving = false
    private var readHeld = false
    private var inputClosed = false
    private var badRequest = false
    /// A malformed request was read: nothing after it is read as a request.
    private var stopped = false

    init(bodyLimit: Int, logger: Logger, respond: @escaping Respond) {
        self.bodyLimit = bodyLimit
        self.logger = logger
        self.respond = respond
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !stopped else { return }
        switch unwrapInboundIn(data) {
        case .head(let decoded):
            let head: HTTPRequest
            do {
                head = try heads.request(decoded)
            } catch {
                errorCaught(context: context, error: error)
                return
            }
            if let length = head.headerFields.combinedValue(.contentLength).flatMap(Int.init), length > bodyLimit {
                incoming = Incoming(head: head, body: nil, dispatched: true)
                enqueue(Received(head: head, body: ByteBuffer()))
            } else {
                incoming = Incoming(head: head, body: nil, dispatched: false)
            }
        case .body(let chunk):
            guard var current = incoming, !current.dispatched else { return }
            incoming = nil
            if var body = current.body {
                current.body = nil
                body.writeImmutableBuffer(chunk)
                current.body = body
            } else {
                current.body = chunk
            }
            if let body = current.body, body.readableBytes > bodyLimit {
                current.dispatched = true
                enqueue(Received(head: current.head, body: body.getSlice(at: body.readerIndex, length: bodyLimit + 1) ?? body))
                current.body = nil
            }
            incoming = current
        case .end:
            guard let current = incoming else { return }
            incoming = nil
            if !current.dispatched {
                enqueue(Received(head: current.head, body: current.body ?? ByteBuffer()))
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
            // A request cut off by the close is not complete: nothing to answer.
            if incoming?.dispatched == false { incoming = nil }
            watch.inboundClosed()
            closeIfDone()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inputClosed = true
        watch.inboundClosed()
        // Nobody is left to read the answers.
        waiting.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        incoming = nil
        guard !(error is IOError) else {
            // The socket failed: nobody is left to answer.
            context.close(promise: nil)
            return
        }
        // A malformed request (the decoder's or the header conversion's error): the requests
        // before it are answered, then it gets a 400 and the connection closes, since nothing
        // after it can be framed. Once is enough.
        guard !stopped else { return }
        stopped = true
        badRequest = true
        if !serving, waiting.isEmpty { answerBadRequest() }
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if serving, !waiting.isEmpty {
            readHeld = true
            return
        }
        context.read()
    }

    // MARK: Serving

    private func enqueue(_ request: Received) {
        if serving {
            waiting.append(request)
        } else {
            serve(request)
        }
    }

    private func serve(_ received: Received) {
        guard let context else { return }
        serving = true
        let output = ResponseOutput(context: context), loop = context.eventLoop
        let respond = self.respond
        let request = Request(head: received.head, body: RequestBody(buffer: received.body))
        let requestContext = BridgeRequestContext(logger: logger, inboundClose: watch, body: received.body)
        let handler = NIOLoopBound(self, eventLoop: loop)
        let task = Task(executorPreference: EventLoopTaskExecutor.on(loop)) {
            let response = await respond(request, requestContext)
            await ChannelResponseBodyWriter.write(response, to: output)
            if loop.inEventLoop {
                handler.value.served()
            } else {
                loop.execute { handler.value.served() }
            }
        }
        watch.attach(task)
    }

    private func served() {
        serving = false
        watch.attach(nil)
        if let next = waiting.popFirst() {
            serve(next)
        } else {
            closeIfDone()
        }
        if readHeld, !serving || waiting.isEmpty {
            readHeld = false
            context?.read()
        }
    }

    /// A client that closed its side after its last request gets the connection closed once
    /// everything it asked is answered.
    private func closeIfDone() {
        guard !serving, waiting.isEmpty else { return }
        if badRequest {
            answerBadRequest()
        } else if inputClosed {
            context?.close(promise: nil)
        }
    }

    /// 400 with `Connection: close`; `ConnectionGuard` closes the connection once it is written.
    private func answerBadRequest() {
        guard let context else { return }
        badRequest = false
        let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close"])
        context.writeAndFlush(wrapOutboundOut(.whole(head, body: ByteBuffer())), promise: nil)
    }
}
