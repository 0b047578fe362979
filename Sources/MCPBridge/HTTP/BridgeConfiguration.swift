#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
#if canImport(CNIOLinux)
// Which clang module "owns" in_addr depends on build order; name both so either is visible.
import CNIOLinux
#endif

/// Everything the bridge needs to run, validated once at start-up.
public struct BridgeConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8000
    /// Accepted bearer tokens (several allow rotation). Empty means no authentication.
    public var tokens: [String] = []
    /// Browser origins allowed besides loopback ones; `*` allows any.
    public var allowedOrigins: [String] = []
    /// `Host` header values allowed besides loopback names; `*` allows any.
    /// When empty and the bridge listens on a non-loopback address, `Host` is not checked.
    public var allowedHosts: [String] = []
    /// Answer CORS preflights and add CORS headers for allowed origins.
    public var cors = false
    /// Largest request body, and largest message the child may write.
    public var maximumMessageBytes = 16 << 20
    /// How long a POST that accepts SSE waits for its answer before streaming; an answer
    /// that arrives in time with nothing before it is sent as plain JSON. Zero: always SSE.
    public var jsonReplyWindow: Duration = .seconds(10)
    /// SSE comment keep-alive period for idle streams.
    public var keepAliveInterval: Duration = .seconds(15)
    /// Path prefix for every route, for use behind a path-prefixing proxy (e.g. `/github`).
    public var basePath = ""
    public var sessions: SessionManager.Configuration
    /// The warm children that serve 2026-07-28 requests.
    public var pool = ChildPool.Configuration()
    /// Per-connection deadlines and the connection cap.
    public var connections = ConnectionLimits()
    /// Processes supervised beside the bridge (argv each); the bridge exits if one does.
    public var sidecars: [[String]] = []
    /// The sidecars' environment (no secret in it) and the secrets they get on standard input
    /// instead, as `NAME=VALUE` lines (see `LaunchEnvironment`).
    public var sidecarEnvironment: [String: String] = [:]
    public var sidecarSecrets: [String: String] = [:]
    /// Byte relays run beside the bridge (see `RelayService`), e.g. a Unix socket to the front port.
    public var relays: [RelayRoute] = []

    public init(command: ChildCommand) {
        self.sessions = SessionManager.Configuration(command: command)
    }

    /// Whether `host` names a loopback interface: `localhost`, an IPv4 literal in 127/8, or `::1`.
    /// Names that merely start like one (`127.0.0.1.nip.io`) are not loopback.
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, bare, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, bare, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { bytes in bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1 }
        }
        return false
    }
}
