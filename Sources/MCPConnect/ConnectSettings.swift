import FoundationEssentials
import MCPBridge

/// The flags and environment of `mcp-bridge connect` as given, turned into a checked
/// `ConnectConfiguration`. Each error names the flag or variable and says what to give instead.
public struct ConnectSettings: Sendable {
    public var url: String?
    public var tokenFile: String?
    public var headers: [String] = []
    public var caFile: String?
    public var fingerprint: String?
    public var insecure = false
    public var transport: ConnectConfiguration.Transport = .auto
    public var connectTimeout = "10s"
    public var maxMessageBytes = "16MiB"
    public var maxInFlight = 256

    public init() {}

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// `environment` supplies MCP_BRIDGE_URL, MCP_BRIDGE_TOKEN, MCP_BRIDGE_FINGERPRINT and
    /// MCP_BRIDGE_CA_FILE (flags win), and the `${NAME}` values in `--header`.
    public func configuration(environment: [String: String]) throws -> ConnectConfiguration {
        func setting(_ flag: String?, _ variable: String) -> (value: String, source: String)? {
            if let flag, !flag.isEmpty { return (flag, "the flag") }
            if let value = environment[variable], !value.isEmpty { return (value, variable) }
            return nil
        }
        guard let url = setting(self.url, "MCP_BRIDGE_URL") else {
            throw Invalid("give the server's URL (mcp-bridge connect https://HOST:PORT/mcp) or set MCP_BRIDGE_URL")
        }
        var configuration: ConnectConfiguration
        do {
            configuration = ConnectConfiguration(endpoint: try RemoteEndpoint(parsing: url.value))
        } catch {
            throw Invalid("\(url.source == "the flag" ? "URL" : url.source): \(error)")
        }
        configuration.transport = transport
        configuration.token = try token(environment: environment)
        configuration.headers = try headers.map { try Self.header($0, environment: environment) }
        if configuration.token != nil, configuration.headers.contains(where: { $0.name.lowercased() == "authorization" }) {
            throw Invalid("--header Authorization and a token (MCP_BRIDGE_TOKEN / --token-file) both set the Authorization header; keep one")
        }

        let pin = setting(fingerprint, "MCP_BRIDGE_FINGERPRINT")
        let ca = setting(caFile, "MCP_BRIDGE_CA_FILE")
        switch (pin, ca, insecure) {
        case (nil, nil, false):
            configuration.trust = .system
        case (let pin?, nil, false):
            do {
                configuration.trust = .fingerprint(try CertificateFingerprint(parsing: pin.value))
            } catch {
                throw Invalid("\(pin.source == "the flag" ? "--fingerprint" : pin.source): \(error)")
            }
        case (nil, let ca?, false):
            guard FileManager.default.isReadableFile(atPath: ca.value) else {
                throw Invalid("\(ca.source == "the flag" ? "--ca-file" : ca.source): cannot read \(ca.value)")
            }
            configuration.trust = .caFile(ca.value)
        case (nil, nil, true):
            configuration.trust = .insecure
        default:
            throw Invalid("choose one way to check the server's certificate: --fingerprint, --ca-file or --insecure")
        }
        if !configuration.endpoint.secure, configuration.trust != .system {
            throw Invalid("\(configuration.endpoint) is plain http://; --fingerprint, --ca-file and --insecure apply to https:// only")
        }
        guard let timeout = Quantities.duration(connectTimeout), timeout >= .milliseconds(100) else {
            throw Invalid("--connect-timeout expects a duration such as 10s (at least 100ms), got \(connectTimeout)")
        }
        configuration.connectTimeout = timeout
        guard let limit = Quantities.bytes(maxMessageBytes), limit >= 1024 else {
            throw Invalid("--max-message-bytes expects a size of at least 1KiB such as 16MiB, got \(maxMessageBytes)")
        }
        configuration.maximumMessageBytes = limit
        guard maxInFlight >= 1 else { throw Invalid("--max-in-flight must be at least 1, got \(maxInFlight)") }
        configuration.maximumInFlight = maxInFlight
        return configuration
    }

    private func token(environment: [String: String]) throws -> String? {
        if let tokenFile {
            guard let tokens = TokenFile.tokens(atPath: tokenFile) else {
                throw Invalid("--token-file: cannot read \(tokenFile)")
            }
            guard let line = tokens.first else { throw Invalid("--token-file: \(tokenFile) holds no token") }
            return line
        }
        if let token = environment["MCP_BRIDGE_TOKEN"], !token.isEmpty {
            guard !token.contains(where: \.isNewline) else { throw Invalid("MCP_BRIDGE_TOKEN holds a line break") }
            return token
        }
        return nil
    }

    /// `Name: value`, with `${NAME}` in the value taken from the environment.
    static func header(_ text: String, environment: [String: String]) throws -> (name: String, value: String) {
        guard let colon = text.firstIndex(of: ":") else {
            throw Invalid("--header expects \"Name: value\", got \(text)")
        }
        let name = String(text[..<colon]).trimmingSpaces
        let tokenCharacters = Set("!#$%&'*+-.^_`|~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        guard !name.isEmpty, name.allSatisfy(tokenCharacters.contains) else {
            throw Invalid("--header: \"\(name)\" is not a header name")
        }
        var value = ""
        var rest = Substring(text[text.index(after: colon)...])
        while let start = rest.firstRange(of: "${") {
            value += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw Invalid("--header \(name): unterminated ${ in the value")
            }
            let variable = String(rest[start.upperBound..<end])
            guard let substituted = environment[variable] else {
                throw Invalid("--header \(name): the environment has no \(variable) (the value refers to ${\(variable)})")
            }
            value += substituted
            rest = rest[rest.index(after: end)...]
        }
        value += rest
        value = value.trimmingSpaces
        guard !value.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw Invalid("--header \(name): the value holds a line break")
        }
        return (name, value)
    }
}
