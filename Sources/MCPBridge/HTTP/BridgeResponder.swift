import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus

/// The bridge's whole HTTP surface. Guards run in a fixed order (H-07): Host/Origin →
/// CORS preflight and OAuth discovery (no auth) → health → bearer token → route →
/// media types → protocol version and session.
struct BridgeResponder: Sendable {
    let configuration: BridgeConfiguration
    let guards: RequestGuards
    let manager: SessionManager
    let metrics: BridgeMetrics
    let registry: PrometheusCollectorRegistry?
    let streamable: StreamableHTTPEndpoint
    let legacy: LegacySSEEndpoint

    init(configuration: BridgeConfiguration, manager: SessionManager, pool: ChildPool, metrics: BridgeMetrics, registry: PrometheusCollectorRegistry?) {
        self.configuration = configuration
        self.guards = RequestGuards(configuration: configuration)
        self.manager = manager
        self.metrics = metrics
        self.registry = registry
        self.streamable = StreamableHTTPEndpoint(manager: manager, configuration: configuration,
                                                 modern: ModernEndpoint(pool: pool, configuration: configuration))
        self.legacy = LegacySSEEndpoint(manager: manager, configuration: configuration, streamable: streamable)
    }

    private enum Route: String {
        case mcp, sse, message, healthz, readyz, metrics, discovery, unknown
    }

    func respond(to request: Request, context: BridgeRequestContext) async -> BridgeResponse {
        let route = self.route(of: request.uri.path)
        var response = await dispatch(request, route: route, context: context)
        if configuration.cors, let origin = request.headers.combinedValue(.origin), guards.isAllowedOrigin(origin) {
            Self.addCORSHeaders(&response.headers, origin: origin)
        }
        metrics.request(path: route.rawValue, method: request.method.rawValue, status: response.status.code)
        return response
    }

    private func dispatch(_ request: Request, route: Route, context: BridgeRequestContext) async -> BridgeResponse {
        if case .forbidden(let why) = guards.checkOrigin(host: request.head.authority, origin: request.headers.combinedValue(.origin)) {
            context.logger.notice("request refused", metadata: ["reason": "\(why)"])
            return Reply.jsonRPCError(.forbidden, code: .serverError, message: "Forbidden: \(why)")
        }
        if request.method == .options, configuration.cors {
            return Reply.empty(.noContent)
        }
        switch route {
        case .discovery:
            // Static-token posture (A-03, A-04): no OAuth here, so discovery must fail fast.
            return Reply.jsonRPCError(.notFound, code: .serverError, message: "Not Found: this server uses a static bearer token, not OAuth")
        case .healthz:
            return Reply.json(ByteBuffer(string: #"{"status":"ok"}"#))
        case .readyz:
            if let reason = manager.unreadyReason {
                return BridgeResponse(status: .serviceUnavailable, headers: [.contentType: "application/json"],
                                      body: .whole(ByteBuffer(string: #"{"status":"unavailable","reason":\#(JSONText.quoted(reason))}"#)))
            }
            return Reply.json(ByteBuffer(string: #"{"status":"ready","sessions":\#(manager.count)}"#))
        default:
            break
        }
        if case .unauthorized(let presented) = guards.checkAuthorization(request.headers.combinedValue(.authorization)) {
            let challenge = presented ? #"Bearer realm="mcp", error="invalid_token""# : #"Bearer realm="mcp""#
            return Reply.jsonRPCError(.unauthorized, code: .serverError, message: "Unauthorized: a valid bearer token is required",
                                      headers: [.wwwAuthenticate: challenge])
        }
        switch route {
        case .mcp: return await streamable.respond(to: request, body: context.body, watch: context.inboundClose)
        case .sse: return await legacy.openStream(request, watch: context.inboundClose)
        case .message: return await legacy.postMessage(request, body: context.body)
        case .metrics:
            guard request.method == .get else { return Reply.methodNotAllowed(allow: "GET") }
            var buffer: [UInt8] = []
            registry?.emit(into: &buffer)
            return BridgeResponse(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .whole(ByteBuffer(bytes: buffer)))
        default:
            return Reply.jsonRPCError(.notFound, code: .serverError, message: "Not Found")
        }
    }

    private func route(of path: String) -> Route {
        // Nearly every request: one comparison instead of the substring work below.
        if path == "/mcp", configuration.basePath.isEmpty { return .mcp }
        var path = Substring(path)
        if !configuration.basePath.isEmpty {
            guard path.hasPrefix(configuration.basePath) else {
                return Self.isDiscovery(path) ? .discovery : .unknown
            }
            path = path.dropFirst(configuration.basePath.count)
        }
        if path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        switch path {
        case "/mcp": return .mcp
        case "/sse": return .sse
        case "/message", "/messages": return .message
        case "/healthz": return .healthz
        case "/readyz": return .readyz
        case "/metrics": return .metrics
        default: return Self.isDiscovery(path) ? .discovery : .unknown
        }
    }

    private static func isDiscovery(_ path: Substring) -> Bool {
        path.hasPrefix("/.well-known/oauth-") || path.hasPrefix("/.well-known/openid-configuration")
            || path == "/authorize" || path == "/token" || path == "/register"
    }

    static func addCORSHeaders(_ headers: inout HTTPFields, origin: String) {
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlAllowMethods] = "GET, POST, DELETE, OPTIONS"
        headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID"
        headers[.accessControlExposeHeaders] = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"
        headers[.accessControlMaxAge] = "600"
        headers[.vary] = "Origin"
    }
}
