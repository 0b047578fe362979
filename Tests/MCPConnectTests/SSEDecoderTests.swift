import MCPBridge
import Testing

@Suite struct SSEDecoderTests {
    func decode(_ text: String, limit: Int = 1024, chunk: Int = 1) throws -> [SSEDecoder.Event] {
        var decoder = SSEDecoder(maximumEventBytes: limit)
        var events: [SSEDecoder.Event] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            try decoder.feed(bytes[start..<min(start + chunk, bytes.count)], into: &events)
            start += chunk
        }
        return events
    }

    @Test func everyLineEndingCommentsAndMultiLineData() throws {
        let text = ": keep-alive\r\nevent: endpoint\r\ndata: /message?sessionId=1\r\n\r\ndata: a\rdata:b\r\rid: 9\ndata: c\n\n"
        for chunk in [1, 2, 3, 1000] {
            let events = try decode(text, chunk: chunk)
            #expect(events == [
                .init(type: "endpoint", data: "/message?sessionId=1", lastEventID: nil),
                .init(type: "", data: "a\nb", lastEventID: nil),
                .init(type: "", data: "c", lastEventID: "9"),
            ])
        }
    }

    @Test func aLeadingByteOrderMarkIsDroppedOnlyAtTheStart() throws {
        #expect(try decode("\u{FEFF}data: x\n\n").map(\.data) == ["x"])
        // Mid-stream it is part of the field name, so the line is not `data`.
        #expect(try decode("data: x\n\n\u{FEFF}data: y\n\n").map(\.data) == ["x"])
    }

    @Test func anEventWithoutDataIsNotDispatchedAndTheTypeResets() throws {
        let events = try decode("event: ping\n\ndata: m\n\n")
        #expect(events == [.init(type: "", data: "m", lastEventID: nil)])
        #expect(events[0].isMessage)
    }

    @Test func linesAndEventsOverTheLimitAreRefused() {
        #expect(throws: SSEDecoder.Failure.eventTooLarge(limit: 16)) { try decode("data: " + String(repeating: "x", count: 40) + "\n\n", limit: 16) }
        #expect(throws: SSEDecoder.Failure.eventTooLarge(limit: 16)) {
            try decode(String(repeating: "data: 0123456789\n", count: 3) + "\n", limit: 16)
        }
    }
}
