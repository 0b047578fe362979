import MCPBridge
@testable import MCPConnect
import Testing

@Suite struct ConnectSettingsTests {
    @Test func headersExpandTheEnvironmentAndRefuseWhatCannotBeSent() throws {
        let environment = ["API_KEY": "s3cret", "EMPTY": ""]
        let header = try ConnectSettings.header("X-Api-Key: Key ${API_KEY}!", environment: environment)
        #expect(header.name == "X-Api-Key" && header.value == "Key s3cret!")
        #expect(try ConnectSettings.header("X-Empty:${EMPTY}", environment: environment).value == "")
        #expect(throws: ConnectSettings.Invalid.self) { try ConnectSettings.header("no colon", environment: environment) }
        #expect(throws: ConnectSettings.Invalid.self) { try ConnectSettings.header("Bad Name: x", environment: environment) }
        #expect(throws: ConnectSettings.Invalid.self) { try ConnectSettings.header("X: ${MISSING}", environment: environment) }
        #expect(throws: ConnectSettings.Invalid.self) { try ConnectSettings.header("X: ${API_KEY", environment: environment) }
        #expect(throws: ConnectSettings.Invalid.self) { try ConnectSettings.header("X: ${NL}", environment: ["NL": "a\r\nInjected: 1"]) }
    }

    @Test func flagsWinOverTheEnvironmentAndTrustIsChosenOnce() throws {
        var settings = ConnectSettings()
        let pin = String(repeating: "ab", count: 32)
        let environment = ["MCP_BRIDGE_URL": "https://127.0.0.1:8443/mcp", "MCP_BRIDGE_FINGERPRINT": pin, "MCP_BRIDGE_TOKEN": "t"]
        var configuration = try settings.configuration(environment: environment)
        #expect(configuration.endpoint.description == "https://127.0.0.1:8443/mcp")
        #expect(configuration.trust == .fingerprint(try CertificateFingerprint(parsing: pin)))
        #expect(configuration.token == "t")
        settings.url = "https://[::1]/x?y=1"
        configuration = try settings.configuration(environment: environment)
        #expect(configuration.endpoint.host == "::1" && configuration.endpoint.port == 443 && configuration.endpoint.target == "/x?y=1")
        #expect(configuration.endpoint.authority == "[::1]")
        settings.insecure = true
        #expect(throws: ConnectSettings.Invalid.self) { try settings.configuration(environment: environment) }
    }

    @Test func aLegacyEndpointMustStayOnTheSameOrigin() throws {
        let base = try RemoteEndpoint(parsing: "https://127.0.0.1:8443/sse")
        #expect(try base.resolving("/message?sessionId=abc").description == "https://127.0.0.1:8443/message?sessionId=abc")
        #expect(try base.resolving("messages/?session_id=1").target == "/messages/?session_id=1")
        #expect(try base.resolving("https://127.0.0.1:8443/m").target == "/m")
        for elsewhere in ["https://evil.example/m", "http://127.0.0.1:8443/m", "https://127.0.0.1:9999/m", "//evil.example/m"] {
            #expect(throws: RemoteEndpoint.Invalid.self) { try base.resolving(elsewhere) }
        }
    }
}
