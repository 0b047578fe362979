import HTTPTypes
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Testing

@testable import MCPBridge

@Suite struct HTTP1ConversionTests {
    @Test func anOriginFormRequestConvertsAsNIOExtrasConvertsIt() throws {
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/mcp?x=1", headers: [
            "HOST": "127.0.0.1:8000", "Content-Type": "application/json", "host": "second.example", "Mcp-Session-Id": "abc",
        ])
        let ours = try HTTP1Conversion.request(head)
        let theirs = try HTTPRequest(head, secure: false, splitCookie: false)
        #expect(ours == theirs)
        #expect(ours.authority == "127.0.0.1:8000")
        #expect(ours.headerFields[values: .init("host")!] == ["second.example"])
        #expect(ours.path == "/mcp?x=1")
    }

    @Test func otherTargetFormsTakeNIOExtrasConversion() throws {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "http://example.test/healthz", headers: ["Host": "example.test"])
        #expect(try HTTP1Conversion.request(head).path == "/healthz")
    }

    @Test func hostIsMatchedInAnyCaseAndNothingElseIs() {
        for name in ["host", "Host", "HOST", "hOsT"] { #expect(HTTP1Conversion.isHost(name)) }
        for name in ["hosts", "hos", "ho5t", "h\u{0}st", "Hos\u{54}x", "origin", ""] { #expect(!HTTP1Conversion.isHost(name)) }
    }

    @Test func anInvalidMethodThrows() {
        let head = HTTPRequestHead(version: .http1_1, method: .RAW(value: "BAD METHOD"), uri: "/", headers: ["Host": "x"])
        #expect(throws: (any Error).self) { try HTTP1Conversion.request(head) }
    }
}
