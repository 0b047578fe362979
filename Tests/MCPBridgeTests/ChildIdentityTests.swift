import Testing

@testable import MCPBridge

@Suite struct ChildIdentityTests {
    @Test(arguments: [("10002", 10002, 10002), ("10002:20002", 10002, 20002), ("0:0", 0, 0), ("4294967294", 4_294_967_294, 4_294_967_294)])
    func numericIdentitiesParse(text: String, uid: UInt32, gid: UInt32) throws {
        #expect(try ProcessIdentity(parsing: text) == ProcessIdentity(uid: uid, gid: gid))
    }

    @Test(arguments: ["", ":", "nobody", "10002:", ":10002", "1:2:3", "-1", "4294967295", "99999999999", "１２", "+5", " 5"])
    func anythingElseIsRefused(text: String) {
        #expect(throws: ProcessIdentity.ParseError.self) { try ProcessIdentity(parsing: text) }
    }

    static let bridgeEnvironment = [
        "PATH": "/usr/bin", "HOME": "/tmp", "TZ": "UTC", "API_KEY": "s3cret", "OTHER": "o",
        "MCP_BRIDGE_TOKEN": "t", "MCP_BRIDGE_TOKENS": "u", "NGROK_AUTHTOKEN": "n", "PINGGY_TOKEN": "p",
        "MCP_SANDBOX_TLS_DIR": "/x", "MCP_AUTH_TOKEN": "a",
    ]

    @Test func aCleanEnvironmentIsTheBaseAndTheNamesPassedOn() throws {
        let child = try ChildEnvironment.build(from: Self.bridgeEnvironment, clean: true, passing: ["API_KEY", "MISSING"], setting: [("EXTRA", "e")])
        #expect(child == ["PATH": "/usr/bin", "HOME": "/tmp", "TZ": "UTC", "API_KEY": "s3cret", "EXTRA": "e"])
    }

    @Test func theFrontsVariablesNeverReachTheChildEvenWhenInherited() throws {
        let child = try ChildEnvironment.build(from: Self.bridgeEnvironment, clean: false, passing: [], setting: [])
        #expect(Set(child.keys) == ["PATH", "HOME", "TZ", "API_KEY", "OTHER"])
    }

    @Test(arguments: ["MCP_BRIDGE_TOKEN", "NGROK_AUTHTOKEN", "PINGGY_TOKEN", "MCP_SANDBOX_X", "MCP_AUTH_TOKEN"])
    func askingForAFrontVariableIsRefused(name: String) {
        #expect(throws: ChildEnvironment.Refusal.self) {
            try ChildEnvironment.build(from: Self.bridgeEnvironment, clean: true, passing: [name], setting: [])
        }
        #expect(throws: ChildEnvironment.Refusal.self) {
            try ChildEnvironment.build(from: Self.bridgeEnvironment, clean: false, passing: [], setting: [(name, "1")])
        }
    }

    @Test func theSwitchingCapabilitiesAreExactlySetuidSetgidKill() {
        // CAP_KILL = 5, CAP_SETGID = 6, CAP_SETUID = 7
        #expect(Privileges.childSwitchingCapabilities == 0xE0)
    }
}

@Suite struct LaunchEnvironmentTests {
    @Test func theSecretsFileIsNULSeparatedAndKeepsLineBreaks() throws {
        let bytes = Array("MCP_BRIDGE_TOKEN=abc\0API_KEY=line one\nline two=x\0\0".utf8)
        #expect(try LaunchEnvironment.parseSecrets(bytes, path: "/s") == ["MCP_BRIDGE_TOKEN": "abc", "API_KEY": "line one\nline two=x"])
    }

    @Test(arguments: ["NOEQUALS\0", "=value\0", "A=1\0junk"])
    func aMalformedEntryIsRefusedWithTheFileNamed(text: String) {
        #expect(throws: LaunchEnvironment.Failure.self) { try LaunchEnvironment.parseSecrets(Array(text.utf8), path: "/s") }
    }

    @Test func onlyTheFrontsCredentialsCountAsSecrets() {
        for name in ["MCP_BRIDGE_TOKEN", "MCP_BRIDGE_TOKENS", "NGROK_AUTHTOKEN", "PINGGY_TOKEN"] {
            #expect(LaunchEnvironment.isSecret(name))
        }
        for name in ["NGROK_URL", "PINGGY_HOST", "MCP_SANDBOX_RUN_DIR", "API_KEY", "PATH", "MCP_BRIDGE_USER"] {
            #expect(!LaunchEnvironment.isSecret(name))
        }
    }
}
