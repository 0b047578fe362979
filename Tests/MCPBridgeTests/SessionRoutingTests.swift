import Logging
import NIOCore
import Testing

@testable import MCPBridge

/// The router, driven for real: the child is `cat`, so whatever the test "sends to the child"
/// comes back on its stdout as if the server had written it.
@Suite struct SessionRoutingTests {
    private func makeSession(_ transport: Session.Transport = .streamableHTTP, backlogBytes: Int = 4 << 20) -> Session {
        let command = ChildCommand(executable: "/bin/cat", arguments: [], environment: ["PATH": "/usr/bin:/bin"])
        var configuration = SessionConfiguration()
        configuration.childLimits.shutdownGrace = .milliseconds(200)
        configuration.backlogBytes = backlogBytes
        return Session(id: "test", transport: transport, command: command, configuration: configuration,
                       metrics: BridgeMetrics(), logger: Logger(label: "test"))
    }

    private func envelope(_ json: String) throws -> Envelope {
        guard case .single(let envelope) = try EnvelopeScanner.parse(Array(json.utf8)) else { throw EnvelopeError.notJSONRPC("batch") }
        return envelope
    }

    private func drain(_ stream: ClientStream) async -> [String] {
        var messages: [String] = []
        while let event = await stream.queue.next() {
            if case .message(let buffer, _) = event { messages.append(String(buffer: buffer)) }
        }
        return messages
    }

    private func withRunningSession(_ transport: Session.Transport = .streamableHTTP, backlogBytes: Int = 4 << 20,
                                    _ body: (Session) async throws -> Void) async throws {
        let session = makeSession(transport, backlogBytes: backlogBytes)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await session.run() }
            #expect(await session.waitUntilStarted() == nil)
            try await body(session)
            session.terminate(reason: "test over")
            try await group.waitForAll()
        }
    }

    @Test func theBacklogIsBoundedInBytesKeepingTheNewestMessages() async throws {
        try await withRunningSession(backlogBytes: 1000) { session in
            // 50 notifications of 100 bytes while no stream is open: only the newest 1000 bytes stay.
            let messages = (0..<50).map { index in
                let head = #"{"jsonrpc":"2.0","method":"notifications/n","params":{"i":\#(index + 10),"pad":""#
                return head + String(repeating: "x", count: 100 - head.utf8.count - 3) + #""}}"#
            }
            #expect(messages.allSatisfy { $0.utf8.count == 100 })
            _ = await session.forward(messages.map { ByteBuffer(string: $0) })
            // A message larger than the whole backlog is dropped, not kept.
            _ = await session.forward([ByteBuffer(string: #"{"jsonrpc":"2.0","method":"notifications/big","params":{"pad":""# + String(repeating: "y", count: 2000) + #""}}"#)])
            // The router is done once 40 were evicted and the big one dropped (a fixed sleep was
            // too short under ThreadSanitizer: the rest then went straight to the stream below).
            let deadline = ContinuousClock.now + .seconds(20)
            while session.backlogDropped < 41, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(session.backlogDropped == 41)
            let get = ClientStream(kind: .standalone, bufferBytes: 1 << 20)
            try session.attachStandalone(get)
            var received: [String] = []
            while case .element(.message(let buffer, _)) = await get.queue.next(timeout: .milliseconds(300)) {
                received.append(String(buffer: buffer))
            }
            #expect(received == Array(messages.suffix(10)))
            session.detach(get)
        }
    }

    @Test func responsesGoToTheStreamOfTheirRequestAndEachStreamEndsAfterItsLastAnswer() async throws {
        try await withRunningSession { session in
            let first = ClientStream(kind: .requestSSE, bufferBytes: 1 << 20)
            let second = ClientStream(kind: .requestSSE, bufferBytes: 1 << 20)
            try session.register(requests: [try envelope(#"{"jsonrpc":"2.0","id":1,"method":"a"}"#)], on: first)
            try session.register(requests: [try envelope(#"{"jsonrpc":"2.0","id":"two","method":"b"}"#)], on: second)
            _ = await session.forward([ByteBuffer(string: #"{"jsonrpc":"2.0","id":"two","result":{"n":2}}"#),
                                       ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"result":{"n":1}}"#)])
            #expect(await drain(first) == [#"{"jsonrpc":"2.0","id":1,"result":{"n":1}}"#])
            #expect(await drain(second) == [#"{"jsonrpc":"2.0","id":"two","result":{"n":2}}"#])
        }
    }

    @Test func progressFollowsItsTokenAndUnrelatedNotificationsWaitForTheGetStream() async throws {
        try await withRunningSession { session in
            let call = ClientStream(kind: .requestSSE, bufferBytes: 1 << 20)
            try session.register(requests: [try envelope(#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"_meta":{"progressToken":"p"}}}"#)], on: call)
            _ = await session.forward([
                ByteBuffer(string: #"{"jsonrpc":"2.0","method":"notifications/resources/list_changed"}"#),
                ByteBuffer(string: #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}}"#),
                ByteBuffer(string: #"{"jsonrpc":"2.0","id":5,"result":{}}"#),
            ])
            let onCall = await drain(call)
            #expect(onCall.count == 3)  // no GET stream: the unrelated notification fell back to the call
            #expect(onCall.last == #"{"jsonrpc":"2.0","id":5,"result":{}}"#)

            _ = await session.forward([ByteBuffer(string: #"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#)])
            try await Task.sleep(for: .milliseconds(200))  // nothing is open: it waits in the backlog
            let get = ClientStream(kind: .standalone, bufferBytes: 1 << 20)
            try session.attachStandalone(get)
            guard case .message(let queued, _) = await get.queue.next() else {
                Issue.record("the backlog did not reach the GET stream")
                return
            }
            #expect(String(buffer: queued) == #"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#)
            #expect(throws: SessionError.streamAlreadyOpen) { try session.attachStandalone(ClientStream(kind: .standalone, bufferBytes: 1)) }
            session.detach(get)
        }
    }

    @Test func childRequestsPreferAnInFlightCallOverTheGetStream() async throws {
        try await withRunningSession { session in
            let get = ClientStream(kind: .standalone, bufferBytes: 1 << 20)
            try session.attachStandalone(get)
            let call = ClientStream(kind: .requestSSE, bufferBytes: 1 << 20)
            try session.register(requests: [try envelope(#"{"jsonrpc":"2.0","id":9,"method":"tools/call"}"#)], on: call)
            _ = await session.forward([
                ByteBuffer(string: #"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}"#),
                ByteBuffer(string: #"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#),
                ByteBuffer(string: #"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"u"}}"#),
                ByteBuffer(string: #"{"jsonrpc":"2.0","id":9,"result":{}}"#),
            ])
            let onCall = await drain(call)
            #expect(onCall.count == 3)
            #expect(onCall[0].contains("sampling/createMessage") && onCall[1].contains("notifications/message"))
            guard case .message(let update, _) = await get.queue.next() else {
                Issue.record("nothing on the GET stream")
                return
            }
            #expect(String(buffer: update).contains("resources/updated"))
            session.detach(get)
        }
    }

    @Test func duplicateInFlightIdsAreRefused() async throws {
        try await withRunningSession { session in
            let stream = ClientStream(kind: .requestJSON, bufferBytes: 1 << 20)
            let request = try envelope(#"{"jsonrpc":"2.0","id":3,"method":"a"}"#)
            try session.register(requests: [request], on: stream)
            #expect(throws: SessionError.duplicateRequestID(.number("3"))) {
                try session.register(requests: [request], on: ClientStream(kind: .requestJSON, bufferBytes: 1))
            }
            session.detach(stream)
        }
    }

    @Test func whenTheChildExitsEveryPendingRequestGetsAnErrorAndTheSessionEnds() async throws {
        let session = makeSession()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await session.run() }
            #expect(await session.waitUntilStarted() == nil)
            let stream = ClientStream(kind: .requestJSON, bufferBytes: 1 << 20)
            try session.register(requests: [try envelope(#"{"jsonrpc":"2.0","id":"x","method":"slow"}"#)], on: stream)
            session.terminate(reason: "simulated crash")  // cat exits on stdin EOF without answering
            let messages = await drain(stream)
            #expect(messages.count == 1)
            #expect(messages.first?.contains(#""id":"x""#) == true)
            #expect(messages.first?.contains("-32603") == true)
            try await group.waitForAll()
            #expect(session.isEnded)
            #expect(throws: SessionError.ended) { try session.register(requests: [], on: stream) }
        }
    }

    @Test func aCommandThatCannotStartIsReported() async {
        let session = Session(
            id: "x", transport: .legacySSE,
            command: ChildCommand(executable: "/nonexistent/server", arguments: [], environment: [:]),
            configuration: SessionConfiguration(), metrics: BridgeMetrics(), logger: Logger(label: "test"))
        async let run: Void = session.run()
        guard case .failedToStart = await session.waitUntilStarted() else {
            Issue.record("expected a start failure")
            return
        }
        await run
    }
}
