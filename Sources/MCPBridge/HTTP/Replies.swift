import HTTPTypes
import Hummingbird
import NIOCore

extension HTTPField.Name {
    static let mcpSessionID = Self("Mcp-Session-Id")!
    static let mcpProtocolVersion = Self("MCP-Protocol-Version")!
    static let lastEventID = Self("Last-Event-ID")!
    static let xAccelBuffering = Self("X-Accel-Buffering")!
}

/// An HTTP answer that ends a request early (a refusal), carried through `Result`.
struct Refusal: Error {
    let response: Response
    init(_ response: Response) { self.response = response }
}

/// Builders for the bridge's HTTP answers, so every refusal carries the same JSON-RPC shape.
enum Reply {
    static func jsonRPCError(
        _ status: HTTPResponse.Status, code: JSONRPCErrorCode, message: String, id: JSONRPCID? = nil,
        headers extra: HTTPFields = [:]
    ) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: JSONRPCErrorBody.buffer(id: id, code: code, message: message)))
    }

    static func empty(_ status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        Response(status: status, headers: headers, body: .init())
    }

    static func json(_ body: ByteBuffer, headers extra: HTTPFields = [:]) -> Response {
        // Built as a literal when there is nothing else (every answered call), with the length
        // Hummingbird's `Response` would otherwise set: the subscript's setter is a generic
        // replace, ~1,000 instructions each time.
        guard !extra.isEmpty else {
            return Response(status: .ok, headers: [.contentType: "application/json", .contentLength: String(body.readableBytes)],
                            body: .init(byteBuffer: body))
        }
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    static func methodNotAllowed(allow: String) -> Response {
        jsonRPCError(.methodNotAllowed, code: .serverError, message: "Method Not Allowed", headers: [.allow: allow])
    }

    static var sseHeaders: HTTPFields {
        [
            .contentType: "text/event-stream",
            .cacheControl: "no-cache, no-transform",
            .xAccelBuffering: "no",
        ]
    }
}
