import HTTPTypes
import NIOCore
import Testing

@testable import MCPBridge

@Suite struct ModernProtocolTests {
    static let meta = #""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol/logLevel":"info","progressToken":7}"#

    static func headers(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return fields
    }

    static let good = headers([("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call"), ("Mcp-Name", "add")])

    static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func aValidRequestCarriesItsMetadata() throws {
        let result = ModernRequest.validate(body: Self.body(#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"add",\#(Self.meta)}}"#), headers: Self.good)
        guard case .success(.request(let request)) = result else { Issue.record("refused: \(result)"); return }
        #expect(request.id == .string("a"))
        #expect(request.logLevel == "info")
        #expect(request.progressToken == .int(7))
        #expect(request.canFulfil("sampling/createMessage"))
        #expect(!request.canFulfil("elicitation/create"))
    }

    @Test(arguments: [
        ("{", 400, -32700),
        ("[]", 400, -32600),
        (#"{"jsonrpc":"1.0","id":1,"method":"tools/call"}"#, 400, -32600),
        (#"{"jsonrpc":"2.0","id":1,"result":{}}"#, 400, -32600),
        (#"{"jsonrpc":"2.0","id":[1],"method":"tools/call","params":{}}"#, 400, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add"}}"#, 400, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#, 400, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#, 400, -32020),
        (#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sub","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#, 400, -32020),
        (#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}}}}"#, 400, -32020),
        (#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":[]}}}"#, 400, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"loud"}}}"#, 400, -32602),
    ])
    func badBodiesAreRefusedWithTheSpecCode(text: String, status: Int, code: Int) {
        guard case .failure(let refusal) = ModernRequest.validate(body: Self.body(text), headers: Self.good) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(refusal.status.code == status)
        #expect(refusal.code == code)
    }

    @Test func anUnsupportedVersionListsTheSupportedOnes() {
        let headers = Self.headers([("MCP-Protocol-Version", "2099-01-01"), ("Mcp-Method", "tools/list")])
        let text = #"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}"#
        guard case .failure(let refusal) = ModernRequest.validate(body: Self.body(text), headers: headers) else {
            Issue.record("accepted")
            return
        }
        #expect(refusal.code == -32022)
        #expect(refusal.id == .int(3))
        #expect(refusal.data?["requested"] == .string("2099-01-01"))
        #expect(refusal.data?["supported"] == .array(ModernProtocol.supportedVersions.map(JSONValue.string)))
    }

    @Test func duplicatedOrMissingHeadersAreMismatches() {
        let text = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add",\#(Self.meta)}}"#
        for headers in [
            Self.headers([("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call"), ("Mcp-Name", "add"), ("Mcp-Name", "add")]),
            Self.headers([("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call")]),
            Self.headers([("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Name", "add")]),
            Self.headers([("Mcp-Method", "tools/call"), ("Mcp-Name", "add")]),
            Self.headers([("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call"), ("Mcp-Name", "=?base64?!!?=")]),
        ] {
            guard case .failure(let refusal) = ModernRequest.validate(body: Self.body(text), headers: headers) else {
                Issue.record("accepted with \(headers)")
                continue
            }
            #expect(refusal.code == -32020)
        }
    }

    @Test func whichRequestsAreModern() {
        #expect(ModernEndpoint.claims(Self.headers([("MCP-Protocol-Version", "2026-07-28")])))
        #expect(ModernEndpoint.claims(Self.headers([("MCP-Protocol-Version", "2099-01-01")])))
        #expect(ModernEndpoint.claims(Self.headers([("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Session-Id", "s")])))
        // A session client's unknown version is the session path's to refuse.
        #expect(!ModernEndpoint.claims(Self.headers([("MCP-Protocol-Version", "1999-01-01"), ("Mcp-Session-Id", "s")])))
        #expect(!ModernEndpoint.claims(Self.headers([("MCP-Protocol-Version", "2025-06-18")])))
        #expect(!ModernEndpoint.claims(Self.headers([])))
        #expect(ModernEndpoint.claims(body: ByteBuffer(string: #"{"params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"x"}}}"#)))
        #expect(!ModernEndpoint.claims(body: ByteBuffer(string: #"{"params":{}}"#)))
    }

    @Test func base64NamesAreDecodedBeforeComparing() {
        #expect(ModernRequest.decodeHeaderValue("=?base64?SGVsbG8sIOS4lueVjA==?=") == "Hello, 世界")
        #expect(ModernRequest.decodeHeaderValue("plain") == "plain")
        #expect(ModernRequest.decodeHeaderValue("=?base64?%%%?=") == nil)
    }

    @Test func notificationsAreAcceptedWithoutValidation() {
        let result = ModernRequest.validate(body: Self.body(#"{"jsonrpc":"2.0","method":"notifications/cancelled"}"#), headers: [:])
        guard case .success(.notification(let method)) = result else { Issue.record("\(result)"); return }
        #expect(method == "notifications/cancelled")
    }

    // MARK: LegacyAdapter

    @Test func childRequestsLoseTheReservedKeysAndGetTheBridgeToken() throws {
        guard case .success(.request(let request)) = ModernRequest.validate(
            body: Self.body(#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"add","requestState":"s","inputResponses":{},\#(Self.meta)}}"#),
            headers: Self.good) else { Issue.record("refused"); return }
        let child = LegacyAdapter.childRequest(request, id: "mcp-bridge-4", progressToken: "mcp-bridge-4")
        #expect(child["id"] == .string("mcp-bridge-4"))
        #expect(child["params"]?["_meta"] == .object(["progressToken": .string("mcp-bridge-4")]))
        #expect(child["params"]?["requestState"] == nil)
        #expect(child["params"]?["inputResponses"] == nil)
        let passed = LegacyAdapter.passThroughRequest(request, id: "mcp-bridge-5", progressToken: "mcp-bridge-5")
        #expect(passed["params"]?["_meta"]?[ModernProtocol.logLevelKey] == .string("info"))
        #expect(passed["params"]?["_meta"]?["progressToken"] == .string("mcp-bridge-5"))
    }

    @Test func resultsGetResultTypeCachingFieldsAndServerInfo() {
        let info = JSONValue.object(["name": .string("x")])
        let listed = LegacyAdapter.clientResult(.object(["tools": .array([])]), method: "tools/list", serverInfo: info)
        #expect(listed["resultType"] == .string("complete"))
        #expect(listed["ttlMs"] == .int(0))
        #expect(listed["cacheScope"] == .string("private"))
        #expect(listed["_meta"]?[ModernProtocol.serverInfoKey] == info)
        let called = LegacyAdapter.clientResult(.object(["content": .array([])]), method: "tools/call", serverInfo: nil)
        #expect(called["ttlMs"] == nil)
        #expect(called["resultType"] == .string("complete"))
    }

    @Test func discoverIsMadeFromTheInitializeResult() {
        let initialize = JSONValue.object([
            "protocolVersion": .string("2025-11-25"), "instructions": .string("be nice"),
            "capabilities": .object(["tools": .object([:]), "tasks": .object([:])]),
            "serverInfo": .object(["name": .string("srv"), "version": .string("1")]),
        ])
        let discover = LegacyAdapter.discoverResult(initializeResult: initialize)
        #expect(discover["supportedVersions"]?.arrayContains(.string("2026-07-28")) == true)
        #expect(discover["capabilities"] == .object(["tools": .object([:])]))
        #expect(discover["instructions"] == .string("be nice"))
        #expect(discover["_meta"]?[ModernProtocol.serverInfoKey]?["name"] == .string("srv"))
    }

    @Test(arguments: [("debug", "info", false), ("info", "info", true), ("error", "warning", true), ("info", nil as String?, false), ("odd", "emergency", true)])
    func logFiltering(level: String, threshold: String?, wanted: Bool) {
        #expect(LegacyAdapter.wants(level: level, threshold: threshold) == wanted)
    }

    @Test func theProbeVerdict() {
        let discover = try? JSONValue.parse(ByteBuffer(string: #"{"jsonrpc":"2.0","id":"p","result":{"supportedVersions":["2026-07-28"]}}"#))
        let modernError = try? JSONValue.parse(ByteBuffer(string: #"{"jsonrpc":"2.0","id":"p","error":{"code":-32022,"message":"x","data":{"supported":["2026-07-28"]}}}"#))
        let legacyError = try? JSONValue.parse(ByteBuffer(string: #"{"jsonrpc":"2.0","id":"p","error":{"code":-32602,"message":"Invalid request parameters"}}"#))
        let oldOnly = try? JSONValue.parse(ByteBuffer(string: #"{"jsonrpc":"2.0","id":"p","result":{"supportedVersions":["2025-11-25"]}}"#))
        #expect(PoolChild.isModern(probeAnswer: discover))
        #expect(PoolChild.isModern(probeAnswer: modernError))
        #expect(!PoolChild.isModern(probeAnswer: legacyError))
        #expect(!PoolChild.isModern(probeAnswer: oldOnly))
        #expect(!PoolChild.isModern(probeAnswer: nil))
    }

    @Test func jsonValuesRoundTrip() throws {
        let text = #"{"a":[1,-2,3.5,true,null,"x\u0000y"],"b":{"c":9007199254740991}}"#
        let value = try JSONValue.parse(ByteBuffer(string: text))
        #expect(try JSONValue.parse(value.buffer) == value)
        #expect(value["b"]?["c"] == .int(9_007_199_254_740_991))
    }
}

extension JSONValue {
    func arrayContains(_ element: JSONValue) -> Bool {
        if case .array(let values) = self { return values.contains(element) }
        return false
    }
}
