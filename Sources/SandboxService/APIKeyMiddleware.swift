import Prometheus
import HTTPTypes
import Hummingbird

/// The API key on `/v1` and `/metrics` (`/healthz`, `/openapi.json` and the front door, which
/// checks each deployment's own token, are open). An address that failed too often is refused
/// before its key is even looked at.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let keys: APIKeyring
    let limiter: FailedAuthLimiter
    let addresses: ClientAddress
    let metrics: ServiceMetrics

    static func protects(_ path: String) -> Bool {
        path == "/v1" || path.hasPrefix("/v1/") || path == "/metrics"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.protects(request.uri.path) else { return try await next(request, context) }
        let address = addresses.resolve(peer: context.peer, forwardedFor: request.headers[.xForwardedFor])
        if let seconds = limiter.retryAfter(address) { throw Problem.tooManyFailures(retryAfter: seconds) }
        guard let presented = SecretHash.presented(authorization: request.headers[.authorization], apiKey: request.headers[.xAPIKey]) else {
            limiter.recordFailure(address)
            metrics.authFailures.increment()
            throw Problem.unauthorized("send the service's API key as Authorization: Bearer KEY or X-API-Key: KEY")
        }
        guard keys.accepts(presented) else {
            limiter.recordFailure(address)
            metrics.authFailures.increment()
            throw Problem.unauthorized("the API key is not valid")
        }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xAPIKey = HTTPField.Name("X-API-Key")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
