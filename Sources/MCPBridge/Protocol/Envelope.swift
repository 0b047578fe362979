/// What the bridge needs to know about one JSON-RPC message to route it,
/// read without decoding the message (the original bytes are forwarded untouched).
public struct Envelope: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case request
        case notification
        case response
    }

    public var kind: Kind
    /// The request id; `nil` for notifications and for error responses whose id is `null`.
    public var id: JSONRPCID?
    public var method: String?
    /// `params._meta.progressToken` of a request, or `params.progressToken` of a progress notification.
    public var progressToken: JSONRPCID?
    /// `params.requestId` of a `notifications/cancelled`.
    public var referencedRequestID: JSONRPCID?

    public var isInitializeRequest: Bool { kind == .request && method == "initialize" }
}

/// Why a body could not be read as JSON-RPC.
public enum EnvelopeError: Error, Equatable, Sendable {
    /// Not well-formed JSON (JSON-RPC −32700).
    case invalidJSON(String)
    /// Well-formed JSON that is not a JSON-RPC 2.0 message (JSON-RPC −32600).
    case notJSONRPC(String)

    public var code: JSONRPCErrorCode {
        switch self {
        case .invalidJSON: return .parseError
        case .notJSONRPC: return .invalidRequest
        }
    }

    public var message: String {
        switch self {
        case .invalidJSON(let why): return "Parse error: \(why)"
        case .notJSONRPC(let why): return "Invalid Request: \(why)"
        }
    }
}

/// A parsed POST body or stdout line: one message or a batch (2025-03-26 only).
public enum ParsedMessage: Sendable, Equatable {
    case single(Envelope)
    /// Each element with the byte range it occupies in the input.
    case batch([BatchElement])

    public struct BatchElement: Sendable, Equatable {
        public var range: Range<Int>
        public var envelope: Envelope
    }

    public var envelopes: [Envelope] {
        switch self {
        case .single(let envelope): return [envelope]
        case .batch(let elements): return elements.map(\.envelope)
        }
    }
}
