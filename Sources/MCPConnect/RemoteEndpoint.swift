import FoundationEssentials

/// An `http://` or `https://` URL the relay talks to, split into what a connection needs.
public struct RemoteEndpoint: Sendable, Equatable, CustomStringConvertible {
    public let secure: Bool
    /// Host name or IP address, without IPv6 brackets.
    public let host: String
    public let port: Int
    /// Path and query, as sent in the request line.
    public let target: String

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(parsing text: String) throws {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else {
            throw Invalid(description: "\(text) is not a URL (expected e.g. https://127.0.0.1:8443/mcp)")
        }
        guard scheme == "http" || scheme == "https" else {
            throw Invalid(description: "\(text): only http:// and https:// URLs are supported, not \(scheme)://")
        }
        guard var host = url.host(percentEncoded: false), !host.isEmpty else {
            throw Invalid(description: "\(text) names no host")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard url.user == nil, url.password == nil else {
            throw Invalid(description: "\(text) carries credentials in the URL; pass the token with MCP_BRIDGE_TOKEN or --token-file")
        }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { throw Invalid(description: "\(text): port \(port) is out of range") }
        var target = url.path(percentEncoded: true)
        if target.isEmpty { target = "/" }
        if let query = url.query(percentEncoded: true) { target += "?" + query }
        self.secure = scheme == "https"
        self.host = host
        self.port = port
        self.target = target
    }

    public init(secure: Bool, host: String, port: Int, target: String) {
        self.secure = secure
        self.host = host
        self.port = port
        self.target = target
    }

    /// The value of the `Host` header.
    public var authority: String {
        let name = host.contains(":") ? "[\(host)]" : host
        let defaultPort = secure ? 443 : 80
        return port == defaultPort ? name : "\(name):\(port)"
    }

    public var description: String { "\(secure ? "https" : "http")://\(authority)\(target)" }

    /// Whether `host` is an IP literal (no SNI is sent, the certificate is matched by address).
    public var hostIsIPAddress: Bool {
        host.contains(":") || (host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." })
    }

    /// Loopback: 127.0.0.0/8, ::1 or localhost.
    public var isLoopback: Bool {
        host == "::1" || host.lowercased() == "localhost" || (hostIsIPAddress && host.hasPrefix("127."))
    }

    /// The URL a legacy server announced in its `endpoint` event, resolved against this one.
    /// It must stay on the same scheme, host and port: the bearer token is sent there.
    public func resolving(_ reference: String) throws -> RemoteEndpoint {
        guard let base = URL(string: description), let url = URL(string: reference, relativeTo: base)?.absoluteURL,
              let resolved = try? RemoteEndpoint(parsing: url.absoluteString)
        else {
            throw Invalid(description: "the server announced an endpoint that is not a URL: \(reference.prefix(200))")
        }
        guard resolved.secure == secure, resolved.host.lowercased() == host.lowercased(), resolved.port == port else {
            throw Invalid(description: "the server announced an endpoint on another origin (\(resolved.secure ? "https" : "http")://\(resolved.authority)); refusing to send the token there")
        }
        return resolved
    }
}
