/// One side of a byte relay: a TCP address or a Unix domain socket path.
///
/// Written `unix:/path/to.sock`, `HOST:PORT` or `[IPv6]:PORT` (a `tcp:` prefix is accepted).
public enum RelayEndpoint: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(ParseError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            // sockaddr_un holds 108 bytes including the terminating NUL.
            guard path.hasPrefix("/"), path.utf8.count < 108 else {
                throw ParseError(description: "a unix socket needs an absolute path shorter than 108 bytes, got '\(text)'")
            }
            self = .unix(path: path)
            return
        }
        let address = text.hasPrefix("tcp:") ? Substring(text.dropFirst("tcp:".count)) : Substring(text)
        guard let colon = address.lastIndex(of: ":"),
              let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
            throw ParseError(description: "expected unix:/PATH or HOST:PORT, got '\(text)'")
        }
        var host = address[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw ParseError(description: "missing host in '\(text)'") }
        self = .tcp(host: String(host), port: port)
    }

    public var description: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// A relay from where it listens to where it connects, written `LISTEN,TARGET`.
public struct RelayRoute: Sendable, Equatable, CustomStringConvertible {
    public var listen: RelayEndpoint
    public var target: RelayEndpoint

    public init(listen: RelayEndpoint, target: RelayEndpoint) {
        self.listen = listen
        self.target = target
    }

    public init(parsing text: String) throws(RelayEndpoint.ParseError) {
        guard let comma = text.firstIndex(of: ",") else {
            throw RelayEndpoint.ParseError(description: "expected LISTEN,TARGET (e.g. unix:/run/front.sock,127.0.0.1:8000), got '\(text)'")
        }
        listen = try RelayEndpoint(parsing: String(text[..<comma]))
        target = try RelayEndpoint(parsing: String(text[text.index(after: comma)...]))
    }

    public var description: String { "\(listen) -> \(target)" }
}
