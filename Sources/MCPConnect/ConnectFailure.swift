/// Why a message could not be relayed. Each case becomes a JSON-RPC error for the local client
/// (`message`) and a log line that says what to do (`remedy`).
public enum ConnectFailure: Error, Sendable, CustomStringConvertible {
    case unreachable(RemoteEndpoint, reason: String)
    case tls(RemoteEndpoint, reason: String)
    /// 401 or 403: the bearer token was missing or refused.
    case unauthorized(status: Int, hasToken: Bool)
    case httpStatus(Int, body: String)
    case protocolViolation(String)
    case tooLarge(limit: Int)
    /// The response stream ended before the answer to a request arrived.
    case streamEnded
    /// The client has more requests waiting than `--max-in-flight` allows.
    case tooManyInFlight(limit: Int)
    /// An error the relay has no better words for.
    case unexpected(String)

    public var message: String {
        switch self {
        case .unreachable(let endpoint, let reason):
            return "mcp-bridge connect: cannot reach \(endpoint): \(reason)"
        case .tls(let endpoint, let reason):
            return "mcp-bridge connect: TLS verification of \(endpoint.authority) failed: \(reason)"
        case .unauthorized(let status, let hasToken):
            return "mcp-bridge connect: the remote server refused \(hasToken ? "the bearer token" : "the request without a bearer token") (HTTP \(status))"
        case .httpStatus(let status, let body):
            return "mcp-bridge connect: the remote server answered HTTP \(status)\(body.isEmpty ? "" : ": \(body)")"
        case .protocolViolation(let what):
            return "mcp-bridge connect: the remote server broke the MCP transport: \(what)"
        case .tooLarge(let limit):
            return "mcp-bridge connect: a message from the remote server exceeded \(limit) bytes (--max-message-bytes)"
        case .streamEnded:
            return "mcp-bridge connect: the remote server closed the stream before answering"
        case .tooManyInFlight(let limit):
            return "mcp-bridge connect: more than \(limit) requests are waiting for an answer (--max-in-flight); this one was not sent"
        case .unexpected(let what):
            return "mcp-bridge connect: \(what)"
        }
    }

    public var remedy: String {
        switch self {
        case .unreachable:
            return "check the URL and that the server (builder status) is running"
        case .tls:
            return "pass the fingerprint `builder start` prints with --fingerprint, or the CA with --ca-file"
        case .unauthorized(_, let hasToken):
            return hasToken ? "the token in MCP_BRIDGE_TOKEN / --token-file does not match the server's" : "set MCP_BRIDGE_TOKEN or --token-file"
        case .httpStatus, .protocolViolation, .streamEnded, .unexpected:
            return "see the remote server's log"
        case .tooLarge:
            return "raise --max-message-bytes if such messages are expected"
        case .tooManyInFlight:
            return "wait for answers before sending more, or raise --max-in-flight"
        }
    }

    public var description: String { "\(message) (\(remedy))" }
}
