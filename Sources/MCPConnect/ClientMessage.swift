import MCPBridge

/// One line the local client wrote on stdin, with what the relay needs to know about it.
struct ClientMessage: Sendable {
    let bytes: [UInt8]
    /// Ids of the requests in it (one, several for a batch, none for notifications and responses).
    let requestIDs: [JSONRPCID]
    let isInitialize: Bool
    let isInitializedNotification: Bool

    init(bytes: [UInt8], parsed: ParsedMessage) {
        self.bytes = bytes
        let envelopes = parsed.envelopes
        self.requestIDs = envelopes.compactMap { $0.kind == .request ? $0.id : nil }
        if case .single(let envelope) = parsed {
            isInitialize = envelope.isInitializeRequest
            isInitializedNotification = envelope.kind == .notification && envelope.method == "notifications/initialized"
        } else {
            isInitialize = false
            isInitializedNotification = false
        }
    }

    private init(notification bytes: [UInt8], initialized: Bool) {
        self.bytes = bytes
        self.requestIDs = []
        self.isInitialize = false
        self.isInitializedNotification = initialized
    }

    /// What the relay sends after replaying `initialize` on a new remote session.
    static let initialized = ClientMessage(
        notification: Array(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.utf8), initialized: true
    )
}
