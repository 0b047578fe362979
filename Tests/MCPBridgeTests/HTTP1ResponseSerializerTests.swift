import HTTPTypes
import NIOCore
import Testing

@testable import MCPBridge

/// The bytes of responses and how their bodies are framed (RFC 9112 §6), without a channel.
@Suite struct HTTP1ResponseSerializerTests {
    private let get11 = HTTP1ResponseSerializer.Request(head: false, readsChunks: true)
    private let get10 = HTTP1ResponseSerializer.Request(head: false, readsChunks: false)
    private let head11 = HTTP1ResponseSerializer.Request(head: true, readsChunks: true)

    private func whole(_ head: HTTPResponse, _ body: String, answering request: HTTP1ResponseSerializer.Request) -> [String] {
        var serializer = HTTP1ResponseSerializer()
        var parts: [String] = []
        serializer.whole(head, body: ByteBuffer(string: body), answering: request, allocator: ByteBufferAllocator()) {
            parts.append(Self.dated(String(buffer: $0)))
        }
        #expect(serializer.framing == .none)
        return parts
    }

    private func head(_ fields: [(String, String)], status: HTTPResponse.Status = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headerFields: HTTPFields(fields.map { HTTPField(name: HTTPField.Name($0.0)!, value: $0.1) }))
    }

    /// `text` (a head, maybe with a body) with its date, which follows the clock, as `D`; the date
    /// must be the line after the status line.
    private static func dated(_ text: String) -> String {
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count > 1, lines[0].hasPrefix("HTTP/1.1 ") else { return text }
        #expect(lines[1].hasPrefix("Date: ") && lines[1].hasSuffix(" GMT"), "\(lines[1])")
        lines[1] = "Date: D"
        return lines.joined(separator: "\r\n")
    }

    @Test func aWholeResponseIsOneBufferWithItsBodysLengthInThePlaceOfTheHeads() {
        let parts = whole(head([("Content-Type", "application/json"), ("content-LENGTH", "99"), ("X-After", "1")]), "{}", answering: get11)
        #expect(parts == ["HTTP/1.1 200 OK\r\nDate: D\r\nContent-Type: application/json\r\ncontent-LENGTH: 2\r\nX-After: 1\r\n\r\n{}"])
    }

    @Test func aWholeResponseWithoutALengthGetsOneAndLosesAnyTransferEncoding() {
        let parts = whole(head([("Transfer-Encoding", "chunked"), ("A", "b")], status: .notFound), "gone", answering: get10)
        #expect(parts == ["HTTP/1.1 404 Not Found\r\nDate: D\r\nA: b\r\nContent-Length: 4\r\n\r\ngone"])
        // A second length field says nothing new: only the body's own is written.
        let twice = whole(head([("Content-Length", "1"), ("Content-Length", "2")]), "abc", answering: get11)
        #expect(twice == ["HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 3\r\n\r\nabc"])
    }

    @Test func anAnswerToHEADKeepsItsFieldsAndHasNoBody() {
        #expect(whole(head([("Content-Length", "5")]), "hello", answering: head11) == ["HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 5\r\n\r\n"])
        var serializer = HTTP1ResponseSerializer()
        let allocator = ByteBufferAllocator()
        let bytes = serializer.head(head([("Content-Type", "text/event-stream")]), answering: head11, allocator: allocator)
        #expect(Self.dated(String(buffer: bytes)) == "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(!serializer.body(ByteBuffer(string: "x"), allocator: allocator) { _ in Issue.record("a body part was written") })
        #expect(serializer.end(allocator: allocator).readableBytes == 0)
    }

    @Test(arguments: [HTTPResponse.Status.noContent, .notModified, .continue])
    func statusesWithoutABodyHaveNoFramingFields(status: HTTPResponse.Status) {
        let parts = whole(head([("Content-Length", "0"), ("Transfer-Encoding", "chunked"), ("Vary", "Origin")], status: status), "", answering: get11)
        #expect(parts == ["HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nDate: D\r\nVary: Origin\r\n\r\n"])
    }

    @Test func aStreamToAnHTTP11ClientIsChunked() throws {
        var serializer = HTTP1ResponseSerializer()
        let allocator = ByteBufferAllocator()
        let bytes = serializer.head(head([("Content-Type", "text/event-stream")]), answering: get11, allocator: allocator)
        #expect(Self.dated(String(buffer: bytes)).hasSuffix("Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(serializer.framing == .chunked)
        var written: [String] = []
        #expect(serializer.body(ByteBuffer(string: String(repeating: "a", count: 26)), allocator: allocator) { written.append(String(buffer: $0)) })
        // An empty part would read as the last chunk: it is not written.
        #expect(serializer.body(ByteBuffer(), allocator: allocator) { written.append(String(buffer: $0)) })
        #expect(written == ["1a\r\n" + String(repeating: "a", count: 26) + "\r\n"])
        #expect(String(buffer: serializer.end(allocator: allocator)) == "0\r\n\r\n")
        #expect(serializer.framing == .none)
    }

    @Test func aStreamToAnHTTP10ClientEndsWithTheConnection() {
        var serializer = HTTP1ResponseSerializer()
        let allocator = ByteBufferAllocator()
        let bytes = serializer.head(head([("Content-Type", "text/event-stream")]), answering: get10, allocator: allocator)
        #expect(Self.dated(String(buffer: bytes)) == "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Type: text/event-stream\r\n\r\n")
        #expect(serializer.framing == .closeDelimited)
        var written: [String] = []
        #expect(serializer.body(ByteBuffer(string: "raw"), allocator: allocator) { written.append(String(buffer: $0)) })
        #expect(written == ["raw"])
        #expect(serializer.end(allocator: allocator).readableBytes == 0)
    }

    @Test func aStreamedHeadWithALengthIsFramedByIt() {
        var serializer = HTTP1ResponseSerializer()
        let allocator = ByteBufferAllocator()
        let bytes = serializer.head(head([("Content-Length", "3")]), answering: get11, allocator: allocator)
        #expect(Self.dated(String(buffer: bytes)) == "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 3\r\n\r\n")
        #expect(serializer.framing == .length)
    }

    @Test func largeBodiesFollowTheirFramingUncopied() {
        let limit = HTTP1ResponseSerializer.copiedBodyLimit
        let large = String(repeating: "z", count: limit + 1)
        let parts = whole(head([]), large, answering: get11)
        #expect(parts == ["HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: \(limit + 1)\r\n\r\n", large])
        #expect(whole(head([]), String(repeating: "z", count: limit), answering: get11).count == 1)

        var serializer = HTTP1ResponseSerializer()
        let allocator = ByteBufferAllocator()
        _ = serializer.head(head([]), answering: get11, allocator: allocator)
        var written: [String] = []
        #expect(serializer.body(ByteBuffer(string: large), allocator: allocator) { written.append(String(buffer: $0)) })
        #expect(written == [String(limit + 1, radix: 16) + "\r\n", large, "\r\n"])
    }

    @Test func headsAreMeasuredForEveryLengthTheyCanTake() {
        // The head is copied into space measured beforehand: a replaced or an appended length, a
        // long value, an empty one and many fields all fit, byte for byte.
        let long = String(repeating: "v", count: 5000)
        for fields in [[("Content-Length", "1")], [], [("X", long), ("Y", "")], Array(repeating: ("N", "v"), count: 300)] {
            let parts = whole(head(fields, status: HTTPResponse.Status(code: 599, reasonPhrase: "Custom")), "body", answering: get11)
            let others = fields.filter { $0.0 != "Content-Length" }.map { "\($0.0): \($0.1)\r\n" }.joined()
            #expect(parts == ["HTTP/1.1 599 Custom\r\nDate: D\r\n" + others + "Content-Length: 4\r\n\r\nbody"])
        }
        var serializer = HTTP1ResponseSerializer()
        let bytes = serializer.head(head([("X", long)]), answering: get11, allocator: ByteBufferAllocator())
        #expect(Self.dated(String(buffer: bytes)) == "HTTP/1.1 200 OK\r\nDate: D\r\nX: \(long)\r\nTransfer-Encoding: chunked\r\n\r\n")
    }

    @Test func noValueOrReasonCanAddALineToTheHead() {
        // The serializer copies values and reasons as they are; what keeps a CR, LF or NUL out
        // of them (response splitting) is swift-http-types' legalizing, which this pins.
        let status = HTTPResponse.Status(code: 418, reasonPhrase: "Teapot\r\nX-Reason: injected")
        let parts = whole(head([("X-Echo", "a\r\nSet-Cookie: injected"), ("X-Nul", "b\0c\nd")], status: status), "", answering: get11)
        #expect(parts.count == 1)
        let lines = parts[0].split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.count == 7, "\(lines)")
        #expect(lines[0].hasPrefix("HTTP/1.1 418 Teapot"))
        #expect(lines[2].hasPrefix("X-Echo: a") && lines[3].hasPrefix("X-Nul: b"))
        #expect(!parts[0].utf8.contains(0) && parts[0].utf8.filter { $0 == 0x0A }.count == 6)
        #expect(!lines.contains { $0.hasPrefix("Set-Cookie") || $0.hasPrefix("X-Reason") })
    }

    @Test func everyAnswerSaysHTTP11AndCarriesOneCurrentDate() {
        // RFC 9110 §2.5: the highest version the server conforms to, even to an HTTP/1.0 client.
        let stale = head([("Date", "Thu, 01 Jan 1970 00:00:00 GMT"), ("A", "b")], status: .serviceUnavailable)
        #expect(whole(stale, "", answering: get10) == ["HTTP/1.1 503 Service Unavailable\r\nDate: D\r\nA: b\r\nContent-Length: 0\r\n\r\n"])
    }
}
