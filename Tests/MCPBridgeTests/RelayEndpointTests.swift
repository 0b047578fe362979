import Testing

@testable import MCPBridge

@Suite struct RelayEndpointTests {
    @Test(arguments: [
        ("unix:/var/lib/mcp-sandbox/ingress/front.sock", RelayEndpoint.unix(path: "/var/lib/mcp-sandbox/ingress/front.sock")),
        ("127.0.0.1:8000", .tcp(host: "127.0.0.1", port: 8000)),
        ("tcp:0.0.0.0:8443", .tcp(host: "0.0.0.0", port: 8443)),
        ("[::1]:9000", .tcp(host: "::1", port: 9000)),
        ("localhost:1", .tcp(host: "localhost", port: 1)),
    ])
    func parses(text: String, expected: RelayEndpoint) throws {
        #expect(try RelayEndpoint(parsing: text) == expected)
    }

    @Test(arguments: ["", "unix:relative.sock", "unix:/" + String(repeating: "a", count: 110), "127.0.0.1", "127.0.0.1:0",
                      "127.0.0.1:65536", ":8000", "host:port", "[]:80"])
    func rejects(text: String) {
        #expect(throws: RelayEndpoint.ParseError.self) { try RelayEndpoint(parsing: text) }
    }

    @Test func routesPairListenAndTarget() throws {
        let route = try RelayRoute(parsing: "0.0.0.0:8000,unix:/run/front.sock")
        #expect(route.listen == .tcp(host: "0.0.0.0", port: 8000) && route.target == .unix(path: "/run/front.sock"))
        #expect(route.description == "0.0.0.0:8000 -> unix:/run/front.sock")
        #expect(throws: RelayEndpoint.ParseError.self) { try RelayRoute(parsing: "unix:/run/front.sock") }
    }
}
