import Prometheus
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `/d/{name}/mcp`, `/d/{name}/sse` and `/d/{name}/message`: MCP clients reach every deployment
/// through the service's one port, with that deployment's own token. A stopped deployment is
/// started by the request and answered once its bridge is healthy. Without the right token the
/// answer is 401 whether or not the name exists, so names cannot be probed.
struct FrontDoor: Sendable {
    let manager: DeploymentManager
    let limiter: FailedAuthLimiter
    let addresses: ClientAddress
    let metrics: ServiceMetrics
    let maxRequestBytes: Int
    let logger: Logger
    let relay = UpstreamRelay()

    static let routes: [(String, [HTTPRequest.Method])] = [
        ("mcp", [.post, .get, .delete]), ("sse", [.get]), ("message", [.post]), ("messages", [.post]),
    ]

    func register(on router: Router<ServiceRequestContext>) {
        for (suffix, methods) in Self.routes {
            for method in methods {
                router.on("/d/:name/\(suffix)", method: method) { request, context in
                    let response: Response
                    do {
                        response = try await handle(request, context: context, suffix: suffix)
                    } catch let problem as Problem {
                        response = problem.response(instance: request.uri.path)
                    }
                    metrics.frontDoorRequests(status: response.status.code).increment()
                    return response
                }
            }
        }
    }

    private func handle(_ request: Request, context: ServiceRequestContext, suffix: String) async throws -> Response {
        let name = context.parameters.get("name") ?? ""
        let address = addresses.resolve(peer: context.peer, forwardedFor: request.headers[.xForwardedFor])
        if let seconds = limiter.retryAfter(address) { throw Problem.tooManyFailures(retryAfter: seconds) }
        let unauthorized = Problem.unauthorized("send this deployment's token (returned when it was created) as Authorization: Bearer TOKEN")
        guard let header = request.headers[.authorization], let token = SecretHash.presented(authorization: header, apiKey: nil),
              let record = try? await manager.record(name), record.state != .deleting,
              SecretHash.matches(token, [record.tokenHash]) else {
            limiter.recordFailure(address)
            metrics.authFailures.increment()
            throw unauthorized
        }
        var body: ByteBuffer?
        if request.method == .post {
            do {
                body = try await request.body.collect(upTo: maxRequestBytes)
            } catch {
                throw Problem(status: .contentTooLarge, kind: "too-large", title: "The message is too large",
                              detail: "a message through the front door holds at most \(maxRequestBytes) bytes")
            }
        }
        await manager.begin(name)
        let port: Int
        do {
            port = try await manager.wake(name)
        } catch {
            await manager.end(name)
            throw error as? Problem ?? Problem.unavailable("'\(name)' cannot be started: \(error)")
        }
        let target = "/\(suffix)" + (request.uri.query.map { "?\($0)" } ?? "")
        let manager = self.manager
        do {
            return try await relay.forward(request: request, port: port, target: target, body: body,
                                           rewritePrefix: suffix == "sse" ? "/d/\(name)" : nil,
                                           watchInboundClose: request.method == .get, onEnd: { await manager.end(name) })
        } catch {
            // `forward` calls onEnd itself once its exchange ends, which it does when it fails.
            logger.warning("front door: the bridge did not answer", metadata: ["deployment": "\(name)", "error": "\(error)"])
            throw error as? Problem ?? Problem.upstream("\(error)")
        }
    }
}
