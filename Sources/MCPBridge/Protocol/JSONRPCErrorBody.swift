import NIOCore

/// JSON-RPC error codes the bridge itself produces. All stay outside the range
/// −32020…−32099 that 2026-07-28 reserves, so dual-era clients read them as "legacy" (M-01).
public enum JSONRPCErrorCode: Int, Sendable {
    case parseError = -32700
    case invalidRequest = -32600
    case methodNotFound = -32601
    case invalidParams = -32602
    case internalError = -32603
    /// Transport-level refusals: missing session, unsupported version, limits.
    case serverError = -32000
    /// The session behind a request ended (child exit, DELETE).
    case sessionEnded = -32001
}

/// Builds the compact JSON-RPC error messages the bridge sends on its own behalf.
public enum JSONRPCErrorBody {
    public static func text(id: JSONRPCID?, code: JSONRPCErrorCode, message: String) -> String {
        let idText = id?.json ?? "null"
        return #"{"jsonrpc":"2.0","id":\#(idText),"error":{"code":\#(code.rawValue),"message":\#(JSONText.quoted(message))}}"#
    }

    public static func buffer(id: JSONRPCID?, code: JSONRPCErrorCode, message: String) -> ByteBuffer {
        ByteBuffer(string: text(id: id, code: code, message: message))
    }
}
