import HTTPTypes
import Testing

@testable import MCPBridge

@Suite struct RequestGuardsTests {
    private func guards(host: String = "127.0.0.1", tokens: [String] = [], origins: [String] = [], hosts: [String] = []) -> RequestGuards {
        var configuration = BridgeConfiguration(command: ChildCommand(executable: "true", arguments: [], environment: [:]))
        configuration.host = host
        configuration.tokens = tokens
        configuration.allowedOrigins = origins
        configuration.allowedHosts = hosts
        return RequestGuards(configuration: configuration)
    }

    @Test(arguments: ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "localhost", "127.0.0.1"])
    func loopbackHostsPassOnALoopbackBind(host: String) {
        #expect(guards().checkOrigin(host: host, origin: nil) == .allowed)
    }

    @Test(arguments: ["127.0.0.1.nip.io", "127.evil.com", "localhost.evil.com", "1.2.3.4", "::2", "1:1::1", "[::ffff:127.0.0.1]"])
    func namesThatOnlyLookLikeLoopbackAreNot(host: String) {
        #expect(!BridgeConfiguration.isLoopback(host))
        #expect(guards().checkOrigin(host: host, origin: nil) != .allowed)
    }

    @Test(arguments: ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "0:0:0:0:0:0:0:1"])
    func loopbackAddressesAreRecognised(host: String) {
        #expect(BridgeConfiguration.isLoopback(host))
    }

    /// Found by `scripts/fuzz guards`: junk after the port passed as loopback.
    @Test func aHostOrOriginWithAMalformedPortIsNotLoopback() {
        for host in ["127.0.0.1:80\u{FFFD}0", "127.0.0.1:", "localhost:123456", "[::1]x", "[::1]:80:80", "127.0.0.1:8000 "] {
            #expect(guards().checkOrigin(host: host, origin: nil) != .allowed, "\(host)")
        }
        for host in ["127.0.0.1:8000", "[::1]:8000", "localhost", "LOCALHOST:1"] {
            #expect(guards().checkOrigin(host: host, origin: nil) == .allowed, "\(host)")
        }
        #expect(!guards().isAllowedOrigin("http://localhost:3000junk"))
        #expect(guards().isAllowedOrigin("http://localhost:3000"))
    }

    /// The byte-level fast path for the usual Host values admits only what the parser admits,
    /// and leaves everything else to it.
    @Test func theHostFastPathAdmitsOnlyPlainLoopbackAuthorities() {
        let guards = guards()
        for host in ["127.0.0.1", "127.0.0.1:8000", "localhost", "localhost:65535", "[::1]", "[::1]:1"] {
            #expect(RequestGuards.isPlainLoopbackAuthority(host), "\(host)")
            #expect(guards.isAllowedHostByParsing(host), "\(host)")
        }
        let others = ["127.0.0.1.nip.io", "127.0.0.1:", "127.0.0.1:123456", "127.0.0.1:80x", "127.0.0.1:8000 ", "localhost.evil.com",
                      "localhostx", "[::1]x", "[::1]:80:80", "[::1", " 127.0.0.1", "127.0.0.10", "127.0.0.1:+80", "LOCALHOST", "127.1.2.3", ""]
        for host in others {
            #expect(!RequestGuards.isPlainLoopbackAuthority(host), "\(host)")
        }
        // What the fast path leaves alone still gets the parser's answer.
        #expect(guards.isAllowedHost("LOCALHOST:1") && guards.isAllowedHost("127.1.2.3:80"))
        #expect(!guards.isAllowedHost("127.0.0.10.evil.com") && !guards.isAllowedHost("127.0.0.1:80x"))
    }

    /// `combinedValue` is what `HTTPFields`' subscript returns, without its generic join.
    @Test func combinedHeaderValuesMatchTheHTTPTypesSubscript() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: .accept, value: "application/json"))
        fields.append(HTTPField(name: .contentType, value: "application/json"))
        fields.append(HTTPField(name: .accept, value: "text/event-stream"))
        fields.append(HTTPField(name: .cookie, value: "a=1"))
        fields.append(HTTPField(name: .cookie, value: "b=2"))
        fields.append(HTTPField(name: .accept, value: ""))
        for name in [HTTPField.Name.accept, .contentType, .cookie, .authorization, .mcpSessionID] {
            #expect(fields.combinedValue(name) == fields[name], "\(name)")
        }
        #expect(fields.combinedValue(.accept) == "application/json, text/event-stream, ")
        #expect(fields.combinedValue(.cookie) == "a=1; b=2")
        #expect(fields.combinedValue(.authorization) == nil)
    }

    @Test func rebindingHostIsForbiddenOnALoopbackBind() {
        #expect(guards().checkOrigin(host: "evil.example.com", origin: nil) == .forbidden("Host evil.example.com is not allowed"))
        #expect(guards().checkOrigin(host: "evil.example.com:8000", origin: "http://evil.example.com:8000") != .allowed)
    }

    @Test func hostIsNotCheckedOnAWildcardBindUnlessHostsAreNamed() {
        #expect(guards(host: "0.0.0.0").checkOrigin(host: "mcp.internal:8000", origin: nil) == .allowed)
        #expect(guards(host: "0.0.0.0", hosts: ["mcp.internal"]).checkOrigin(host: "mcp.internal:8000", origin: nil) == .allowed)
        #expect(guards(host: "0.0.0.0", hosts: ["mcp.internal"]).checkOrigin(host: "other:8000", origin: nil) != .allowed)
    }

    @Test func originsAreLoopbackByDefaultAndExtendable() {
        #expect(guards().isAllowedOrigin("http://localhost:6274"))
        #expect(guards().isAllowedOrigin("https://127.0.0.1"))
        #expect(!guards().isAllowedOrigin("http://localhost.evil.com"))
        #expect(!guards().isAllowedOrigin("http://127.0.0.1.nip.io"))
        #expect(!guards().isAllowedOrigin("null"))
        #expect(!guards().isAllowedOrigin("http://[::2]:80"))
        #expect(guards().isAllowedOrigin("http://[::1]:80"))
        #expect(guards(origins: ["https://app.example.com"]).isAllowedOrigin("https://APP.example.com"))
        #expect(guards(origins: ["*"]).isAllowedOrigin("https://anything.test"))
    }

    @Test func bearerTokensAreCheckedExactly() {
        let gate = guards(tokens: ["alpha", "beta-2"])
        #expect(gate.checkAuthorization("Bearer alpha") == .allowed)
        #expect(gate.checkAuthorization("bearer beta-2") == .allowed)
        #expect(gate.checkAuthorization(nil) == .unauthorized(presented: false))
        #expect(gate.checkAuthorization("Bearer alph") == .unauthorized(presented: true))
        #expect(gate.checkAuthorization("Bearer alphaa") == .unauthorized(presented: true))
        #expect(gate.checkAuthorization("Basic YWxwaGE=") == .unauthorized(presented: true))
        #expect(gate.checkAuthorization("Bearer ") == .unauthorized(presented: true))
        #expect(guards().checkAuthorization(nil) == .allowed)
    }

    @Test func constantTimeCompareHandlesDifferentLengths() {
        #expect(RequestGuards.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!RequestGuards.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!RequestGuards.constantTimeEqual([], Array("a".utf8)))
        // A length difference of 256 (or any multiple) must still count.
        #expect(!RequestGuards.constantTimeEqual(Array("abc".utf8), Array("abc".utf8) + [UInt8](repeating: 0, count: 256)))
        #expect(!RequestGuards.constantTimeEqual([], [UInt8](repeating: 0, count: 512)))
    }

    @Test(arguments: [
        (nil, true, true),
        ("application/json, text/event-stream", true, true),
        ("*/*", true, true),
        ("application/*", true, false),
        ("text/event-stream", false, true),
        ("application/json;q=0, text/event-stream", false, true),
        ("text/html", false, false),
        ("application/json", true, false),
        ("text/event-stream, application/json", true, true),
        ("Application/JSON ;charset=utf-8,TEXT/*", true, true),
        ("application/json, text/event-stream;q=0", true, false),
    ] as [(String?, Bool, Bool)])
    func acceptHeadersAreMatchedLeniently(header: String?, json: Bool, sse: Bool) {
        let accepted = AcceptedMediaTypes(header: header)
        #expect(accepted.json == json)
        #expect(accepted.eventStream == sse)
        // The fast path for common values must agree with the general parser: a leading space
        // takes the general path without changing the meaning.
        if let header {
            #expect(AcceptedMediaTypes(header: " " + header) == accepted)
        }
    }

    @Test func jsonContentTypeIsRecognisedWithAndWithoutParameters() {
        #expect("application/json".isJSONMediaType)
        #expect("Application/Json; charset=utf-8".isJSONMediaType)
        #expect(!"application/jsonx".isJSONMediaType && !"text/plain".isJSONMediaType)
    }
}
