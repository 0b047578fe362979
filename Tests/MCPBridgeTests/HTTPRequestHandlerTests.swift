#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import MCPBridge

/// The bridge's HTTP/1 connection handling, on a real loopback socket with a test responder.
@Suite struct HTTPRequestHandlerTests {
    @Test func pipelinedRequestsAreAnsweredInOrderEvenWhenTheFirstIsSlower() async throws {
        let server = try await TestHTTPServer.start { request, _ in
            if request.uri.path == "/slow" { try? await Task.sleep(for: .milliseconds(200)) }
            return BridgeResponse(status: .ok, body: .whole(ByteBuffer(string: "<\(request.uri.path)>")))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
        let text = try client.read(until: { $0.contains("</fast>") })
        let slow = try #require(offset(of: "</slow>", in: text))
        let fast = try #require(offset(of: "</fast>", in: text))
        #expect(slow < fast)
        #expect(text.split(separator: "HTTP/1.1 200 OK").count == 2)
        #expect(text.lowercased().contains("date: "))
    }

    @Test func aBodyOverTheLimitReachesTheResponderCutToOneByteOverIt() async throws {
        let server = try await TestHTTPServer.start(bodyLimit: 10) { request, _ in
            var request = request
            let answer: String
            do {
                answer = "read \(try await request.collectBody(upTo: 10).readableBytes)"
            } catch {
                answer = "too large, given \((try? await request.collectBody(upTo: 1000).readableBytes) ?? -1)"
            }
            return BridgeResponse(status: .ok, body: .whole(ByteBuffer(string: answer)))
        }
        defer { server.stop() }
        let small = try RawClient(port: server.port)
        try small.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try small.read(until: { $0.contains("read ") }).hasSuffix("read 5"))

        let chunked = try RawClient(port: server.port)
        try chunked.send("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1e\r\n\(String(repeating: "x", count: 30))\r\n0\r\n\r\n")
        #expect(try chunked.read(until: { $0.contains("given") }).hasSuffix("too large, given 11"))

        // Content-Length over the limit: handed over at once with no body (the responder refuses it
        // by the header, as `MessageIntake` does), without waiting for a body that never comes.
        let declared = try RawClient(port: server.port)
        try declared.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
        #expect(try declared.read(until: { $0.contains("read ") }).hasSuffix("read 0"))
    }

    @Test func theContextCarriesTheCollectedBodyAndMessageIntakeRefusesOneOverTheLimit() async throws {
        let server = try await TestHTTPServer.start(bodyLimit: 10) { request, context in
            switch MessageIntake.collect(request, body: context.body, limit: 10) {
            case .success(let body): return BridgeResponse(status: .ok, body: .whole(ByteBuffer(string: "body <\(String(buffer: body))>")))
            case .failure(let refusal): return refusal.response
            }
        }
        defer { server.stop() }
        let small = try RawClient(port: server.port)
        try small.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try small.read(until: { $0.contains("body <") }).hasSuffix("body <hello>"))

        let chunkedWithin = try RawClient(port: server.port)
        try chunkedWithin.send("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n7\r\ndefghij\r\n0\r\n\r\n")
        #expect(try chunkedWithin.read(until: { $0.contains("body <") }).hasSuffix("body <abcdefghij>"))

        for request in [
            "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n\(String(repeating: "x", count: 11))\r\n0\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n",
        ] {
            let large = try RawClient(port: server.port)
            try large.send(request)
            let answer = try large.read(until: { $0.contains("}") })
            #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
            #expect(answer.contains("exceeds the limit of 10 bytes"), "\(answer)")
        }
    }

    @Test func aWatchedStreamIsCancelledWhenTheClientClosesItsSide() async throws {
        let cancelled = Latch()
        let server = try await TestHTTPServer.start { _, context in
            BridgeResponse(status: .ok, body: .stream(ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "started"))
                do {
                    try await context.inboundClose.cancellingOnClose {
                        try await Task.sleep(for: .seconds(30))
                    }
                } catch is CancellationError {
                    cancelled.open()
                }
                try await writer.finish(nil)
            }))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.read(until: { $0.contains("started") })
        shutdown(client.descriptor, Int32(SHUT_WR))
        #expect(await cancelled.wait(timeout: .seconds(5)))
        // Its connection is closed once the response ended: the client reads end of file.
        _ = try client.read(until: { _ in false }, untilClosed: true)
    }

    @Test func anUnwatchedResponseStillReachesAClientThatHalfClosed() async throws {
        let server = try await TestHTTPServer.start { _, _ in
            try? await Task.sleep(for: .milliseconds(200))
            return BridgeResponse(status: .ok, body: .whole(ByteBuffer(string: "late answer")))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        shutdown(client.descriptor, Int32(SHUT_WR))
        #expect(try client.read(until: { _ in false }, untilClosed: true).hasSuffix("late answer"))
    }

    @Test func aPipelinedRequestRefusedAtItsHeadIsAnsweredAfterTheRequestBeforeIt() async throws {
        let server = try await TestHTTPServer.start { request, _ in
            try? await Task.sleep(for: .milliseconds(100))
            return BridgeResponse(status: .ok, body: .whole(ByteBuffer(string: "<\(request.uri.path)>")))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        // The second request has no Host: refused (400) and the connection closed, but only after
        // the first request's answer (found by the fuzz target `http`; the refusal came first and
        // its close cut the answer off).
        try client.send("GET /first HTTP/1.1\r\nHost: t\r\n\r\nGET /second HTTP/1.1\r\n\r\n")
        let text = try client.read(until: { _ in false }, untilClosed: true)
        let answered = try #require(offset(of: "</first>", in: text))
        let refused = try #require(offset(of: "HTTP/1.1 400", in: text))
        #expect(answered < refused)
        #expect(text.contains("exactly one Host header") && !text.contains("</second>"))
    }

    /// The body of the second request stops after 3 of 10 bytes. While the first was still being
    /// answered (`/slow`), its 408 came first and the close cut the first answer off; once the
    /// first was answered (`/fast`), the connection was closed without any 408.
    @Test(arguments: ["/slow", "/fast"])
    func aPipelinedRequestWhoseBodyStallsGets408AfterTheAnswerBeforeIt(first: String) async throws {
        var limits = ConnectionLimits()
        limits.bodyTimeout = .milliseconds(300)
        let server = try await TestHTTPServer.start(limits: limits) { request, _ in
            if request.uri.path == "/slow" { try? await Task.sleep(for: .milliseconds(1500)) }
            return BridgeResponse(status: .ok, body: .whole(ByteBuffer(string: "<\(request.uri.path)>")))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("GET \(first) HTTP/1.1\r\nHost: t\r\n\r\nPOST /stalled HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        let text = try client.read(until: { _ in false }, untilClosed: true)
        let answered = try #require(offset(of: "<\(first)>", in: text))
        let refused = try #require(offset(of: "HTTP/1.1 408", in: text))
        #expect(answered < refused)
    }

    @Test func aShutdownAnswersTheRequestAheadBeforeRefusingThePipelinedOne() async throws {
        let server = try await TestHTTPServer.start { request, _ in
            if request.uri.path == "/slow" { try? await Task.sleep(for: .milliseconds(1500)) }
            return BridgeResponse(status: .ok, body: .whole(ByteBuffer(string: "<\(request.uri.path)>")))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\nPOST /pending HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        try await Task.sleep(for: .milliseconds(200))
        // Shutdown begins while /slow is being answered and /pending's body is incomplete: the
        // 503 came first and its close cut /slow's answer off (found by reading the guard; the
        // fuzz target `http` checks it now).
        let connections = server.connections.withLock { $0 }
        #expect(connections.count == 1)
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let text = try client.read(until: { _ in false }, untilClosed: true)
        let answered = try #require(offset(of: "</slow>", in: text))
        let refused = try #require(offset(of: "HTTP/1.1 503", in: text), "\(text)")
        #expect(answered < refused)
    }

    @Test func aSecondRequestWithHeadersOverTheLimitsGets431() async throws {
        let server = try await TestHTTPServer.start { request, _ in
            BridgeResponse(status: .ok, body: .whole(ByteBuffer(string: "<\(request.uri.path)>")))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("GET /first HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.read(until: { $0.contains("</first>") })
        // 81 KiB of one header on the same connection: the precise 431, not a generic 400 (the
        // flag that chose between them still described the first request's answer).
        try client.send("GET /second HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 81 * 1024))\r\n\r\n")
        let text = try client.read(until: { $0.contains("Too Large") || $0.contains("\r\n\r\n") && !$0.hasPrefix("HTTP/1.1 431") })
        #expect(text.hasPrefix("HTTP/1.1 431"), "\(text.prefix(200))")
    }

    @Test func aMalformedChunkedBodyIsAnswered400AndTheConnectionClosesAtOnce() async throws {
        let server = try await TestHTTPServer.start { _, _ in BridgeResponse(status: .ok) }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        // The decoder reads nothing after the bad chunk size, so the body never ends: the 400
        // must close the connection now, not when the 60 s body deadline expires.
        try client.send("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n")
        let started = ContinuousClock.now
        let text = try client.read(until: { _ in false }, untilClosed: true)
        #expect(text.hasPrefix("HTTP/1.1 400") && text.lowercased().contains("connection: close"))
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    /// An HTTP/1.0 client cannot read chunks (RFC 9112 §7.1): a stream to it is delimited by the
    /// connection's close. NIO's encoder chunked it, keyed on the response head's version (1.1).
    @Test func aStreamToAnHTTP10ClientIsNotChunkedAndEndsWithTheConnection() async throws {
        let server = try await TestHTTPServer.start { _, _ in
            BridgeResponse(status: .ok, body: .stream(ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "first,"))
                try await writer.write(ByteBuffer(string: "second"))
                try await writer.finish(nil)
            }))
        }
        defer { server.stop() }
        for keepAlive in ["", "Connection: keep-alive\r\n"] {
            let client = try RawClient(port: server.port)
            try client.send("GET /stream HTTP/1.0\r\nHost: t\r\n\(keepAlive)\r\n")
            let text = try client.read(until: { _ in false }, untilClosed: true)
            #expect(text.hasSuffix("\r\n\r\nfirst,second"), "\(text.debugDescription)")
            #expect(!text.lowercased().contains("transfer-encoding"))
        }
        // HTTP/1.1 still gets chunks, and the connection stays open after the last one.
        let client = try RawClient(port: server.port)
        try client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        let text = try client.read(until: { $0.hasSuffix("0\r\n\r\n") })
        #expect(text.contains("Transfer-Encoding: chunked\r\n"))
        #expect(text.hasSuffix("\r\n\r\n6\r\nfirst,\r\n6\r\nsecond\r\n0\r\n\r\n"))
        try client.send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.read(until: { $0.hasSuffix("0\r\n\r\n") }).hasPrefix("HTTP/1.1 200 OK"))
    }

    /// The answer to `HEAD` keeps the fields a `GET` would get, and has no body.
    @Test func anAnswerToHEADHasItsLengthButNoBody() async throws {
        let server = try await TestHTTPServer.start { _, _ in BridgeResponse(status: .ok, body: .whole(ByteBuffer(string: "twelve bytes"))) }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        let text = try client.read(until: { $0.hasSuffix("twelve bytes") })
        let answers = text.split(separator: "HTTP/1.1 200 OK")
        #expect(answers.count == 2)
        #expect(answers[0].contains("Content-Length: 12\r\n") && answers[0].hasSuffix("\r\n\r\n"))
        #expect(answers[1].hasSuffix("\r\n\r\ntwelve bytes"))
    }

    @Test func theDateHeaderIsAnIMFFixdate() {
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_796_135_021) == "Tue, 01 Dec 2026 14:23:41 GMT")
    }
}

private func offset(of needle: String, in text: String) -> Int? {
    let haystack = Array(text.utf8), pattern = Array(needle.utf8)
    guard haystack.count >= pattern.count else { return nil }
    return (0...(haystack.count - pattern.count)).first { haystack[$0..<($0 + pattern.count)].elementsEqual(pattern) }
}

/// A loopback server running the bridge's connection pipeline around a test responder.
private struct TestHTTPServer {
    let channel: any Channel
    /// The accepted connections.
    let connections: Locked<[any Channel]>
    var port: Int { channel.localAddress?.port ?? 0 }

    static func start(bodyLimit: Int = 1 << 20, limits: ConnectionLimits = ConnectionLimits(),
                      respond: @escaping HTTPRequestHandler.Respond) async throws -> TestHTTPServer {
        let report = LimitReport(logger: Logger(label: "test"))
        let setup = BridgeHTTPChannel(limits: limits, report: report, cap: ConnectionCap(maximum: 64, report: report),
                                      bodyLimit: bodyLimit, respond: respond)
        let connections = Locked<[any Channel]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                connections.withLock { $0.append(child) }
                return setup.setup(channel: child, logger: Logger(label: "test")).map { _ in }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestHTTPServer(channel: channel, connections: connections)
    }

    func stop() { channel.close(promise: nil) }
}

/// A blocking socket client with a receive timeout, for bytes on the wire exactly as written.
private final class RawClient {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw RawClientError.failed("connect") }
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(descriptor, bytes, bytes.count, 0) == bytes.count else { throw RawClientError.failed("send") }
    }

    /// Reads until `done` holds for everything read so far (or, with `untilClosed`, until end of
    /// file); a 5 s silence throws.
    func read(until done: (String) -> Bool, untilClosed: Bool = false) throws -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 {
                if untilClosed { return String(decoding: received, as: UTF8.self) }
                throw RawClientError.failed("closed early: \(String(decoding: received, as: UTF8.self))")
            }
            guard count > 0 else { throw RawClientError.failed("timed out: \(String(decoding: received, as: UTF8.self))") }
            received += buffer.prefix(count)
            let text = String(decoding: received, as: UTF8.self)
            if !untilClosed, done(text) { return text }
        }
    }
}

private enum RawClientError: Error {
    case failed(String)
}
