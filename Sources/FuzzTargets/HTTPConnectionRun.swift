import HTTPTypes
import Hummingbird
import Logging
@testable import MCPBridge
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// One client connection's bytes through the bridge's real HTTP/1 pipeline (`BridgeHTTPChannel`:
/// NIO's request decoder, `ConnectionGuard`, `HTTPRequestHandler`) on an embedded channel, fed in chunks of
/// a given size, with a responder that numbers the requests it is handed. What comes back is the
/// connection's whole output, parsed into responses, for the `http` fuzz target to check.
struct HTTPConnectionRun {
    struct Answer: Equatable {
        var status: Int
        /// Header lines as written, lower-cased, without `date` (it follows the clock).
        var headers: [String]
        var body: [UInt8]
        /// The responder's number for the request, when the responder answered it.
        var sequence: Int?
        /// The decoder's number for the request the responder answered.
        var request: Int?

        func header(_ name: String) -> String? {
            headers.first { $0.hasPrefix(name + ": ") }.map { String($0.dropFirst(name.count + 2)) }
        }
    }

    /// How many requests the responder was handed.
    let handed: Int
    /// The output parsed into responses; `nil` when it is not a sequence of whole responses.
    let answers: [Answer]?
    let output: [UInt8]
    let stillOpen: Bool
    /// The requests (numbered as read) the guard let through whole, head to end.
    let completed: Set<Int>

    static let bodyLimit = 64

    /// The output as text, for a failure's message.
    var transcript: String { String(decoding: output.prefix(2000), as: UTF8.self).debugDescription }

    /// - Parameters:
    ///   - quiesce: the server begins its shutdown after the last byte.
    ///   - late: the deadlines expire after the last byte (61 s pass), and requests for `/slow…`
    ///     are answered only after them (90 s each), until every request handed is answered.
    init(_ stream: [UInt8], chunk: Int, halfClose: Bool, quiesce: Bool, late: Bool) {
        let channel = EmbeddedChannel()
        let loop = channel.embeddedEventLoop
        let handed = Locked(0)
        let answered = Locked(0)
        let limit = Self.bodyLimit
        let logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
        // Registered as a remote peer's connection would be: active before the pipeline is set up.
        _ = channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 1))
        try! BridgeHTTPChannel.configure(channel, limits: ConnectionLimits(), report: LimitReport(logger: logger),
                                         refuse: false, bodyLimit: limit, logger: logger) { request, _ in
            let sequence = handed.withLock { count in
                defer { count += 1 }
                return count
            }
            var fields = HTTPFields()
            fields[HTTPField.Name("x-sequence")!] = "\(sequence)"
            fields[HTTPField.Name("x-request")!] = request.headers[HTTPField.Name(MethodLog.indexHeader)!]
            if late, request.uri.path.hasPrefix("/slow") {
                try? await loop.scheduleTask(in: .seconds(90)) {}.futureResult.get()
            }
            var request = request
            defer { answered.withLock { $0 += 1 } }
            do {
                let body = try await request.collectBody(upTo: limit)
                return BridgeResponse(status: .ok, headers: fields, body: .whole(ByteBuffer(string: "read \(body.readableBytes)")))
            } catch {
                return BridgeResponse(status: .contentTooLarge, headers: fields, body: .whole(ByteBuffer(string: "too large")))
            }
        }
        let operations = channel.pipeline.syncOperations
        try! operations.addHandler(ClosedSocket(), position: .first)
        let methods = MethodLog(), completions = CompletionLog()
        try! operations.addHandler(methods, position: .after(operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)))
        try! operations.addHandler(completions, position: .after(operations.handler(type: ConnectionGuard.self)))
        var start = 0
        while start < stream.count, channel.isActive {
            let end = min(stream.count, start + chunk)
            // A decoding error is answered by the pipeline itself (400); what reaches the end of
            // the pipeline is not the client's concern.
            _ = try? channel.writeInbound(ByteBuffer(bytes: stream[start..<end]))
            loop.run()
            start = end
        }
        if quiesce, channel.isActive {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            loop.run()
        }
        if halfClose, channel.isActive {
            channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            loop.run()
        }
        if late {
            loop.advanceTime(by: .seconds(61))
            // Pipelined `/slow` requests are served one after another, 90 s each.
            var rounds = 0
            while handed.withLock({ $0 }) > answered.withLock({ $0 }), rounds <= stream.count {
                loop.advanceTime(by: .seconds(91))
                rounds += 1
            }
        }
        var output: [UInt8] = []
        while let part = try? channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = part else { preconditionFailure("a file region in an HTTP answer") }
            output += buffer.readableBytesView
        }
        self.stillOpen = channel.isActive
        _ = try? channel.finish(acceptAlreadyClosed: true)
        loop.run()
        self.handed = handed.withLock { $0 }
        self.output = output
        self.answers = Self.parse(output, methods: methods.methods)
        self.completed = completions.completed
    }

    /// Splits `output` into responses framed by `Content-Length` (every answer of the bridge has
    /// one); the answer to a `HEAD` has no body. `methods`: the decoded requests', in order, which
    /// the answers follow one for one.
    static func parse(_ output: [UInt8], methods: [HTTPMethod]) -> [Answer]? {
        var answers: [Answer] = []
        var rest = output[...]
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while !rest.isEmpty {
            guard let headEnd = rest.firstRange(of: end) else { return nil }
            let lines = String(decoding: rest[rest.startIndex..<headEnd.lowerBound], as: UTF8.self)
                .split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
            rest = rest[headEnd.upperBound...]
            let statusLine = lines[0].split(separator: " ", maxSplits: 2)
            guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1" || statusLine[0] == "HTTP/1.0",
                  let status = Int(statusLine[1]) else { return nil }
            let headers = lines.dropFirst().map { $0.lowercased() }.filter { !$0.hasPrefix("date: ") }
            var answer = Answer(status: status, headers: headers, body: [], sequence: nil)
            answer.sequence = answer.header("x-sequence").flatMap { Int($0) }
            answer.request = answer.header("x-request").flatMap { Int($0) }
            guard let length = answer.header("content-length").flatMap({ Int($0) }), length >= 0 else { return nil }
            let bodiless = answers.count < methods.count && methods[answers.count] == .HEAD
            if !bodiless {
                guard rest.count >= length else { return nil }
                answer.body = Array(rest.prefix(length))
                rest = rest.dropFirst(length)
            }
            answers.append(answer)
        }
        return answers
    }

    /// The method of each request the decoder reads, in order; each head gets its number in a
    /// header the responder echoes, so an answer says which request it answers.
    private final class MethodLog: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart
        static let indexHeader = "x-fuzz-request-index"
        private(set) var methods: [HTTPMethod] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(var head) = unwrapInboundIn(data) else {
                context.fireChannelRead(data)
                return
            }
            head.headers.replaceOrAdd(name: Self.indexHeader, value: "\(methods.count)")
            methods.append(head.method)
            context.fireChannelRead(wrapInboundOut(.head(head)))
        }
    }

    /// Which requests pass `ConnectionGuard` whole, by `MethodLog`'s numbers.
    private final class CompletionLog: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        private(set) var completed: Set<Int> = []
        private var current: Int?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): current = head.headers[MethodLog.indexHeader].first.flatMap { Int($0) }
            case .body: break
            case .end: if let current { completed.insert(current) }
            }
            context.fireChannelRead(data)
        }
    }

    /// A socket takes no writes once closed; an embedded channel would keep them as output.
    private final class ClosedSocket: ChannelOutboundHandler {
        typealias OutboundIn = IOData

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard context.channel.isActive else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            context.write(data, promise: promise)
        }
    }
}
