import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime

/// Every error leaves as an RFC 9457 problem: the service's own `Problem`s, the generated
/// server's request errors (a body that does not decode is a 400, not a 500), Hummingbird's
/// (unknown route 404, too-large body 413), and anything else as a logged 500 that reveals nothing.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response(instance: request.uri.path)
        } catch let error as ServerError {
            if let problem = error.underlyingError as? Problem { return problem.response(instance: request.uri.path) }
            if error.httpStatus.code < 500 {
                let problem = Problem(status: error.httpStatus, kind: "bad-request", title: error.httpStatus.reasonPhrase,
                                      detail: "\(error.causeDescription)\(Self.reason(error.underlyingError))")
                return problem.response(instance: request.uri.path)
            }
            return internalError(error, request)
        } catch let error as HTTPError where error.status == .notFound {
            if let methods = RouteTable.allowedMethods(for: request.uri.path), !methods.contains(request.method.rawValue) {
                var problem = Problem(status: .methodNotAllowed, kind: "method-not-allowed", title: "Method Not Allowed",
                                      detail: "\(request.uri.path) answers \(methods.joined(separator: ", ")), not \(request.method)")
                problem.headers[.allow] = methods.joined(separator: ", ")
                return problem.response(instance: request.uri.path)
            }
            return Problem(status: .notFound, kind: "no-route", title: "Not Found",
                           detail: "no route \(request.method) \(request.uri.path)").response(instance: request.uri.path)
        } catch let error as HTTPError {
            let problem = Problem(status: error.status, kind: "http", title: error.status.reasonPhrase,
                                  detail: error.body ?? error.status.reasonPhrase)
            return problem.response(instance: request.uri.path)
        } catch {
            return internalError(error, request)
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
                let path = context.codingPath.map(\.stringValue).joined(separator: ".")
                return ": " + (path.isEmpty ? "" : "\(path): ") + context.debugDescription
            @unknown default:
                return ""
            }
        }
        return ""
    }

    private func internalError(_ error: any Error, _ request: Request) -> Response {
        logger.error("internal error", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
        return Problem(status: .internalServerError, kind: "internal", title: "Internal error",
                       detail: "the service failed on this request; its log has the reason").response(instance: request.uri.path)
    }
}
