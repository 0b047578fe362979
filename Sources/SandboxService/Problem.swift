import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An RFC 9457 problem: every error the service answers, on the API and the front door alike.
struct Problem: Error, HTTPResponseError, Sendable {
    struct FieldError: Codable, Sendable, Equatable {
        var field: String
        var detail: String
    }

    var status: HTTPResponse.Status
    /// A short stable slug; the problem `type` is `urn:mcp-sandbox:problem:<kind>`.
    var kind: String
    var title: String
    var detail: String
    var errors: [FieldError] = []
    var headers: HTTPFields = [:]

    var type: String { "urn:mcp-sandbox:problem:\(kind)" }

    private struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var detail: String
        var instance: String?
        var errors: [FieldError]?
    }

    func body(instance: String?) -> ByteBuffer {
        let body = Body(type: type, title: title, status: status.code, detail: detail, instance: instance,
                        errors: errors.isEmpty ? nil : errors)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(body) else {
            return ByteBuffer(string: #"{"type":"about:blank","title":"error","status":500}"#)
        }
        return ByteBuffer(bytes: data)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response(instance: request.uri.path)
    }

    func response(instance: String?) -> Response {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: body(instance: instance)))
    }

    static func badRequest(_ detail: String) -> Problem {
        Problem(status: .badRequest, kind: "bad-request", title: "The request is malformed", detail: detail)
    }

    static func invalid(_ errors: [FieldError]) -> Problem {
        let detail = errors.map { "\($0.field): \($0.detail)" }.joined(separator: "; ")
        return Problem(status: .unprocessableContent, kind: "invalid-deployment", title: "The deployment is not valid",
                       detail: detail, errors: errors)
    }

    static func unauthorized(_ detail: String, scheme: String = "Bearer") -> Problem {
        Problem(status: .unauthorized, kind: "unauthorized", title: "Authentication required", detail: detail,
                headers: [.wwwAuthenticate: #"\#(scheme) realm="mcp-sandbox""#])
    }

    static func tooManyFailures(retryAfter seconds: Int) -> Problem {
        Problem(status: .tooManyRequests, kind: "too-many-failed-attempts", title: "Too many failed authentication attempts",
                detail: "this address failed to authenticate too often; retry after \(seconds) s",
                headers: [.retryAfter: String(seconds)])
    }

    static func notFound(_ name: String) -> Problem {
        Problem(status: .notFound, kind: "not-found", title: "No such deployment", detail: "there is no deployment named '\(name)'")
    }

    static func conflict(_ detail: String) -> Problem {
        Problem(status: .conflict, kind: "conflict", title: "The deployment is not in a state for this", detail: detail)
    }

    static func unavailable(_ detail: String) -> Problem {
        Problem(status: .serviceUnavailable, kind: "unavailable", title: "The deployment is not available", detail: detail)
    }

    static func upstream(_ detail: String) -> Problem {
        Problem(status: .badGateway, kind: "upstream", title: "The deployment did not answer", detail: detail)
    }
}
