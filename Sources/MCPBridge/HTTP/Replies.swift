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
    let response: BridgeResponse
    init(_ response: BridgeResponse) { self.response = response }
}

/// Builders for the bridge's HTTP answers, so every refusal carries the same JSON-RPC shape.
enum Reply {
    static func jsonRPCError(
        _ status: HTTPResponse.Status, code: JSONRPCErrorCode, message: String, id: JSONRPCID? = nil,
        headers extra: HTTPFields = [:]
    ) -> BridgeResponse {
        var headers = extra
        headers[.contentType] = "application/json"
        return BridgeResponse(status: status, headers: headers, body: .whole(JSONRPCErrorBody.buffer(id: id, code: code, message: message)))
    }

    static func empty(_ status: HTTPResponse.Status, headers: HTTPFields = [:]) -> BridgeResponse {
        BridgeResponse(status: status, headers: headers, body: .whole(ByteBuffer()))
    }

    static func json(_ body: ByteBuffer, headers extra: HTTPFields = [:]) -> BridgeResponse {
        // Built as a literal when there is nothing else (every answered call): the subscript's
        // setter is a generic replace, ~1,000 instructions each time.
        guard !extra.isEmpty else {
            return BridgeResponse(status: .ok, headers: [.contentType: "application/json"], body: .whole(body))
        }
        var headers = extra
        headers[.contentType] = "application/json"
        return BridgeResponse(status: .ok, headers: headers, body: .whole(body))
    }

    static func methodNotAllowed(allow: String) -> BridgeResponse {
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
