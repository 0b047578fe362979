/// The checks that run before any routing: DNS-rebinding protection (Host, Origin) and the
/// bearer token. Pure functions of the configuration and the header values, so they are
/// unit-tested without a server.
public struct RequestGuards: Sendable {
    public enum Verdict: Equatable, Sendable {
        case allowed
        case forbidden(String)
        /// 401; `presented` is whether a (wrong) credential came with the request.
        case unauthorized(presented: Bool)
    }

    let tokens: [[UInt8]]
    let allowAnyOrigin: Bool
    let extraOrigins: Set<String>
    let checkHost: Bool
    let allowAnyHost: Bool
    let extraHosts: Set<String>

    public init(configuration: BridgeConfiguration) {
        tokens = configuration.tokens.map { Array($0.utf8) }
        allowAnyOrigin = configuration.allowedOrigins.contains("*")
        extraOrigins = Set(configuration.allowedOrigins.map { $0.lowercased() })
        allowAnyHost = configuration.allowedHosts.contains("*")
        extraHosts = Set(configuration.allowedHosts.map { $0.lowercased() })
        checkHost = !allowAnyHost && (BridgeConfiguration.isLoopback(configuration.host) || !configuration.allowedHosts.isEmpty)
    }

    /// Host and Origin (H-02, H-03, H-06): 403 when either is present and not allowed.
    public func checkOrigin(host: String?, origin: String?) -> Verdict {
        if checkHost {
            guard let host else { return .forbidden("missing Host header") }
            if !isAllowedHost(host) { return .forbidden("Host \(host) is not allowed") }
        }
        if let origin, !isAllowedOrigin(origin) {
            return .forbidden("Origin \(origin) is not allowed")
        }
        return .allowed
    }

    public func isAllowedOrigin(_ origin: String) -> Bool {
        if allowAnyOrigin { return true }
        let lowered = origin.lowercased()
        if extraOrigins.contains(lowered) { return true }
        for scheme in ["http://", "https://"] where lowered.hasPrefix(scheme) {
            let authority = String(lowered.dropFirst(scheme.count))
            return Self.hostname(ofAuthority: authority).map(BridgeConfiguration.isLoopback) ?? false
        }
        return false
    }

    func isAllowedHost(_ host: String) -> Bool {
        Self.isPlainLoopbackAuthority(host) || isAllowedHostByParsing(host)
    }

    /// The Host values local clients send (`127.0.0.1`, `localhost` or `[::1]`, with or without
    /// a port), recognised on the bytes: the general path (lowercasing, parsing, `inet_pton`)
    /// cost ~6,600 instructions on every request. Accepts only what that path accepts too
    /// (checked by `scripts/fuzz guards` and a unit test).
    static func isPlainLoopbackAuthority(_ host: String) -> Bool {
        // On the contiguous bytes: the same test on `host.utf8` slices went through generic
        // collection code, ~1,300 instructions a request.
        var host = host
        return host.withUTF8 { bytes in
            guard let name = plainLoopbackNames.first(where: { bytes.starts(with: $0) }) else { return false }
            guard bytes.count > name.count else { return true }
            let port = bytes[(name.count + 1)...]
            return bytes[name.count] == UInt8(ascii: ":") && (1...5).contains(port.count)
                && port.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }
    }

    private static let plainLoopbackNames: [[UInt8]] = ["127.0.0.1", "localhost", "[::1]"].map { Array($0.utf8) }

    func isAllowedHostByParsing(_ host: String) -> Bool {
        let lowered = host.lowercased()
        if extraHosts.contains(lowered) { return true }
        guard let name = Self.hostname(ofAuthority: lowered) else { return false }
        return BridgeConfiguration.isLoopback(name) || extraHosts.contains(name)
    }

    /// `host[:port]` or `[v6][:port]` → host (brackets kept off); nil when the port is not 1–5
    /// ASCII digits or anything follows the brackets (found by `scripts/fuzz guards`: a Host
    /// of `127.0.0.1:80<junk>` passed as loopback).
    static func hostname(ofAuthority authority: String) -> String? {
        let host: Substring
        let rest: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            rest = authority[authority.index(after: close)...]
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            rest = authority[colon...]
        } else {
            host = authority[...]
            rest = ""
        }
        if !rest.isEmpty {
            let port = rest.dropFirst()
            guard rest.first == ":", (1...5).contains(port.count), port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        }
        return String(host)
    }

    public var requiresToken: Bool { !tokens.isEmpty }

    /// The bearer check: constant-time against every accepted token.
    public func checkAuthorization(_ header: String?) -> Verdict {
        guard requiresToken else { return .allowed }
        guard let header, let presented = Self.bearerToken(in: header) else { return .unauthorized(presented: header != nil) }
        let bytes = Array(presented.utf8)
        var matched = false
        for token in tokens where Self.constantTimeEqual(token, bytes) { matched = true }
        return matched ? .allowed : .unauthorized(presented: true)
    }

    public static func bearerToken(in header: String) -> Substring? {
        let trimmed = header.drop(while: { $0 == " " })
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        let token = trimmed.dropFirst(7).drop(while: { $0 == " " })
        return token.isEmpty ? nil : token
    }

    /// Compares without an early exit, so timing does not reveal how much of a token matched.
    /// The whole length difference counts (not its low byte: a token plus 256 padding bytes
    /// must not match).
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = lhs.count ^ rhs.count
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= Int(left ^ right)
        }
        return difference == 0
    }
}

/// What an `Accept` header admits, matched leniently (SH-02): wildcards count, a missing
/// header admits everything, and `q=0` excludes.
public struct AcceptedMediaTypes: Equatable, Sendable {
    public var json = false
    public var eventStream = false

    public init(header: String?) {
        // The values SDK clients send, answered without splitting (this runs on every request).
        switch header {
        case "application/json, text/event-stream", "text/event-stream, application/json", "*/*":
            json = true
            eventStream = true
            return
        case "application/json":
            json = true
            return
        case "text/event-stream":
            eventStream = true
            return
        default:
            break
        }
        guard let header, !header.trimmingSpaces.isEmpty else {
            json = true
            eventStream = true
            return
        }
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { String($0).trimmingSpaces.lowercased() }
            guard let range = parts.first else { continue }
            let refused = parts.dropFirst().contains(where: Self.isZeroQuality)
            if refused { continue }
            switch range {
            case "*/*":
                json = true
                eventStream = true
            case "application/json", "application/*": json = true
            case "text/event-stream", "text/*": eventStream = true
            default: break
            }
        }
    }
}

extension AcceptedMediaTypes {
    /// `q=0`, `q=0.0`, `q = 0.000`: the client refuses this media range.
    static func isZeroQuality(_ parameter: String) -> Bool {
        let compact = parameter.filter { $0 != " " }
        guard compact.hasPrefix("q=0") else { return false }
        let rest = compact.dropFirst(3)
        return rest.isEmpty || (rest.first == "." && rest.dropFirst().allSatisfy { $0 == "0" })
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (header values, settings).
    public var trimmingSpaces: String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view.removeFirst() }
        while view.last == " " || view.last == "\t" { view.removeLast() }
        return String(view)
    }

    /// Whether a `Content-Type` value is `application/json`, parameters ignored.
    var isJSONMediaType: Bool {
        if self == "application/json" { return true }  // the common case, without splitting
        return split(separator: ";").first.map { String($0).trimmingSpaces.lowercased() == "application/json" } ?? false
    }
}
