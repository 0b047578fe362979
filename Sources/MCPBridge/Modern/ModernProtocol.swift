/// Names and codes of MCP 2026-07-28 (the sessionless, per-request-metadata revision).
public enum ModernProtocol {
    public static let version = "2026-07-28"
    /// What the bridge answers in `supported` and `supportedVersions`: the endpoint is dual-era.
    public static let supportedVersions = [version] + ProtocolVersion.allCases.reversed().map(\.rawValue)

    public static let reservedPrefix = "io.modelcontextprotocol/"
    public static let protocolVersionKey = "io.modelcontextprotocol/protocolVersion"
    public static let clientCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities"
    public static let clientInfoKey = "io.modelcontextprotocol/clientInfo"
    public static let logLevelKey = "io.modelcontextprotocol/logLevel"
    public static let serverInfoKey = "io.modelcontextprotocol/serverInfo"
    public static let subscriptionIDKey = "io.modelcontextprotocol/subscriptionId"

    public static let headerMismatch = -32020
    public static let unsupportedProtocolVersion = -32022

    /// Every method a 2026-07-28 client may call.
    public static let methods: Set<String> = [
        "server/discover", "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list",
        "resources/templates/list", "resources/read", "completion/complete", "subscriptions/listen",
    ]
    /// Methods that may answer with an `InputRequiredResult` (MRTR).
    public static let interactiveMethods: Set<String> = ["tools/call", "prompts/get", "resources/read"]
    /// Methods whose results must carry `ttlMs` and `cacheScope`.
    public static let cacheableMethods: Set<String> = [
        "server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read",
    ]
    /// The body parameter `Mcp-Name` mirrors, per method.
    public static let nameParameter: [String: String] = ["tools/call": "name", "prompts/get": "name", "resources/read": "uri"]

    /// Log levels in increasing severity (RFC 5424 names).
    public static let logLevels = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]

    /// Whether a `MCP-Protocol-Version` header names a version served by the legacy paths.
    public static func isLegacy(version: String) -> Bool { ProtocolVersion(rawValue: version) != nil }
}
