/// One deployment as an MCP client sees it, rendered in the shape each client documents.
public struct ClientEntry: Sendable {
    public enum Route: String, Sendable, CaseIterable {
        /// The client launches `mcp-bridge connect`, which relays stdio to the endpoint.
        case connect
        /// The client speaks Streamable HTTP to the endpoint itself.
        case http
    }

    public var name: String
    /// The Streamable HTTP endpoint (`…/mcp`).
    public var url: String
    public var token: String
    /// SHA-256 of a self-signed front's certificate; such a front needs `connect` (clients only
    /// trust the system's CAs).
    public var fingerprint: String?
    /// Absolute path of `mcp-bridge` for `connect` entries.
    public var bridgePath: String

    public init(name: String, url: String, token: String, fingerprint: String?, bridgePath: String) {
        self.name = name
        self.url = url
        self.token = token
        self.fingerprint = fingerprint
        self.bridgePath = bridgePath
    }

    public struct Unsupported: Error, CustomStringConvertible {
        public let description: String
    }

    /// The default: HTTP where the client speaks it and the endpoint needs no pinned certificate.
    public func defaultRoute(for client: ClientKind) -> Route {
        client.speaksHTTP && fingerprint == nil ? .http : .connect
    }

    /// The value stored under the server's name in the client's configuration.
    public func value(for client: ClientKind, route: Route) throws -> OrderedJSON {
        if route == .http, !client.speaksHTTP {
            throw Unsupported(description: "\(client.rawValue)'s configuration file only launches stdio servers; use --via connect")
        }
        if route == .http, fingerprint != nil, client != .json {
            throw Unsupported(description: "the endpoint's certificate is self-signed (pinned by fingerprint), which \(client.rawValue) would refuse over HTTP; use --via connect, or give the front a certificate from a public CA")
        }
        var environment: [(String, OrderedJSON)] = [("MCP_BRIDGE_URL", .string(url)), ("MCP_BRIDGE_TOKEN", .string(token))]
        if let fingerprint { environment.append(("MCP_BRIDGE_FINGERPRINT", .string(fingerprint))) }
        let launch: [(String, OrderedJSON)] = [
            ("command", .string(bridgePath)), ("args", .array([.string("connect")])), ("env", .object(environment)),
        ]
        let headers: (String, OrderedJSON) = ("headers", .object([("Authorization", .string("Bearer \(token)"))]))
        switch (client, route) {
        case (.claudeDesktop, _), (.cursor, .connect):
            return .object(launch)
        case (.claudeCode, .connect), (.vscode, .connect):
            return .object([("type", .string("stdio"))] + launch)
        case (.claudeCode, .http), (.vscode, .http):
            return .object([("type", .string("http")), ("url", .string(url)), headers])
        case (.cursor, .http):
            return .object([("url", .string(url)), headers])
        case (.json, _):
            var members: [(String, OrderedJSON)] = [("name", .string(name)), ("transport", .string("streamable-http")), ("url", .string(url))]
            if url.hasSuffix("/mcp") { members.append(("legacySseUrl", .string(String(url.dropLast(4)) + "/sse"))) }
            members.append(headers)
            if let fingerprint { members.append(("tlsCertificateSha256", .string(fingerprint))) }
            members.append(("stdio", .object(launch)))
            return .object(members)
        }
    }

    /// What to paste: the whole document with this one server (the entry alone for `json`).
    public func document(for client: ClientKind, route: Route) throws -> String {
        let value = try value(for: client, route: route)
        if client == .json { return value.rendered() + "\n" }
        return OrderedJSON.object([(client.container, .object([(name, value)]))]).rendered() + "\n"
    }
}
