import Testing

@testable import MCPBridge

@Suite struct EnvelopeScannerTests {
    private func parse(_ text: String) throws(EnvelopeError) -> ParsedMessage {
        try EnvelopeScanner.parse(Array(text.utf8))
    }

    private func single(_ text: String) throws -> Envelope {
        guard case .single(let envelope) = try parse(text) else {
            Issue.record("expected a single message")
            throw EnvelopeError.notJSONRPC("batch")
        }
        return envelope
    }

    @Test func requestWithIntegerIdAndProgressTokenIsClassified() throws {
        let envelope = try single(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":"tok"}}}"#)
        #expect(envelope.kind == .request)
        #expect(envelope.id == .number("7"))
        #expect(envelope.method == "tools/call")
        #expect(envelope.progressToken == .string("tok"))
    }

    @Test func notificationHasNoIdAndCarriesItsProgressToken() throws {
        let envelope = try single(#"{"method":"notifications/progress","jsonrpc":"2.0","params":{"progressToken":3,"progress":50}}"#)
        #expect(envelope.kind == .notification)
        #expect(envelope.id == nil)
        #expect(envelope.progressToken == .number("3"))
    }

    @Test func cancelledNotificationNamesTheRequest() throws {
        let envelope = try single(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"abc"}}"#)
        #expect(envelope.referencedRequestID == .string("abc"))
    }

    @Test func responsesAndErrorResponsesAreResponses() throws {
        #expect(try single(#"{"jsonrpc":"2.0","id":"a","result":{}}"#).kind == .response)
        let error = try single(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#)
        #expect(error.kind == .response)
        #expect(error.id == nil)
    }

    @Test func memberNamesWrittenWithEscapesAreTheSameMembers() throws {
        // Keys are recognised on their bytes; one with escapes is decoded first.
        let envelope = try single(#"{"\u006Asonrpc":"2.0","\u0069d":5,"m\u0065thod":"tools/call","p\u0061rams":{"\u005fmeta":{"progress\u0054oken":"t"}}}"#)
        #expect(envelope.kind == .request)
        #expect(envelope.id == .number("5"))
        #expect(envelope.method == "tools/call")
        #expect(envelope.progressToken == .string("t"))
        let response = try single(#"{"jsonrpc":"2.0","id":"a","r\u0065sult":{}}"#)
        #expect(response.kind == .response)
    }

    @Test func namesThatOnlyResembleMembersAreOtherMembers() throws {
        // Same length or prefix as a member the scanner acts on, but not it: ignored.
        let envelope = try single(#"{"jsonrpc":"2.0","iD":1,"id":2,"methods":"x","method":"ping","Params":{"_meta":1},"result2":{},"_Meta":{}}"#)
        #expect(envelope.kind == .request)
        #expect(envelope.id == .number("2"))
        #expect(envelope.method == "ping")
        #expect(throws: EnvelopeError.self) { try parse(#"{"JSONRPC":"2.0","id":1,"method":"ping"}"#) }
    }

    @Test func escapedStringIdsCompareEqualToTheirPlainForm() throws {
        let escaped = try single(#"{"jsonrpc":"2.0","id":"\u0061b\"c","method":"ping"}"#)
        #expect(escaped.id == .string("ab\"c"))
        #expect(escaped.id?.json == #""ab\"c""#)
    }

    @Test func surrogatePairsDecode() throws {
        let envelope = try single(#"{"jsonrpc":"2.0","id":"\ud83d\ude00","method":"ping"}"#)
        #expect(envelope.id == .string("😀"))
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":1,"method":"#,
        #"{"jsonrpc":"2.0","id":1,"method":"x",}"#,
        #"{"jsonrpc":"2.0","id":01,"method":"x"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"x"} trailing"#,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\u{01}\"}",
        #"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":tru}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"\q"}"#,
        "",
    ])
    func malformedJSONIsAParseError(text: String) {
        #expect(throws: EnvelopeError.self) { try parse(text) }
        do {
            _ = try parse(text)
        } catch {
            #expect(error.code == .parseError)
        }
    }

    @Test func invalidUTF8IsAParseError() {
        let bytes: [UInt8] = Array(#"{"jsonrpc":"2.0","id":1,"method":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8)
        do {
            _ = try EnvelopeScanner.parse(bytes)
            Issue.record("accepted an overlong UTF-8 sequence")
        } catch {
            #expect(error.code == .parseError)
            #expect(error.message.contains("invalid UTF-8"))
        }
    }

    @Test(arguments: [
        #"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
        #"{"id":1,"method":"x"}"#,
        #"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":5}"#,
        #"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#,
        #"{"jsonrpc":"2.0","result":1}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"x","params":"s"}"#,
        #"[]"#,
        #"[1]"#,
        #""text""#,
    ])
    func wellFormedButNotJSONRPCIsAnInvalidRequest(text: String) {
        do {
            _ = try parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == .invalidRequest)
        }
    }

    @Test func batchesReportEachElementsRange() throws {
        let text = #"[ {"jsonrpc":"2.0","id":1,"method":"a"} , {"jsonrpc":"2.0","method":"b"} ]"#
        guard case .batch(let elements) = try parse(text) else {
            Issue.record("expected a batch")
            return
        }
        #expect(elements.count == 2)
        let bytes = Array(text.utf8)
        #expect(String(decoding: bytes[elements[0].range], as: UTF8.self) == #"{"jsonrpc":"2.0","id":1,"method":"a"}"#)
        #expect(elements[1].envelope.kind == .notification)
    }

    @Test func nestingBeyondTheLimitIsRefusedNotCrashed() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let text = #"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"# + deep + "}}"
        #expect(throws: EnvelopeError.self) { try parse(text) }
    }

    @Test func idIsRecoveredFromTheStartOfATruncatedMessage() {
        let prefix = Array(#"{"jsonrpc":"2.0","id":"req-9","result":{"content":[{"type":"text","text":"xxxx"#.utf8)
        #expect(prefix.withUnsafeBytes { EnvelopeScanner.peekID(inPrefix: $0) } == .string("req-9"))
        let noID = Array(#"{"jsonrpc":"2.0","result":{"big":"#.utf8)
        #expect(noID.withUnsafeBytes { EnvelopeScanner.peekID(inPrefix: $0) } == nil)
        let error = Array(#"{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"xxxx"#.utf8)
        #expect(error.withUnsafeBytes { EnvelopeScanner.peekID(inPrefix: $0) } == .number("7"))
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{"messages":[{"content":"xxxx"#,  // a child's request
        #"{"jsonrpc":"2.0","method":"sampling/createMessage","id":1,"result":{"x":"#,  // not a response either
        #"{"jsonrpc":"2.0","id":1,"params":{"huge":"xxxx"#,  // cannot tell what it is
    ])
    func anIDIsNotRecoveredUnlessTheStartShowsAResponse(text: String) {
        let prefix = Array(text.utf8)
        #expect(prefix.withUnsafeBytes { EnvelopeScanner.peekID(inPrefix: $0) } == nil)
    }
}

@Suite struct PortableIDTests {
    @Test(arguments: ["0", "1", "-1", "42", "9007199254740991", "-9007199254740991"])
    func integersEveryPeerEchoesArePortable(literal: String) {
        #expect(JSONRPCID.number(literal).isPortable)
        #expect(JSONRPCID.string(literal).isPortable)
    }

    @Test(arguments: ["1.5", "1e2", "-0", "01", "9007199254740992", String(repeating: "9", count: 10_000), "1.0", "-", "", "+1", "--1", "-01", "00", "\u{0661}", "1\u{0661}", " 1", "9999999999999999", "-9007199254740992"])
    func fractionsExponentsNegativeZeroAndHugeNumbersAreNot(literal: String) {
        #expect(!JSONRPCID.number(literal).isPortable)
    }
}
