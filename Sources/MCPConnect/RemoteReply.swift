import MCPBridge
import NIOCore

/// What the relay learns from the messages a remote server sends back.
enum RemoteReply {
    /// Ids of the responses in one message (a batch may hold several).
    static func responseIDs(in message: some Collection<UInt8>) -> Set<JSONRPCID> {
        guard let parsed = try? EnvelopeScanner.parse(Array(message)) else { return [] }
        return Set(parsed.envelopes.compactMap { $0.kind == .response ? $0.id : nil })
    }

    /// A non-2xx answer, kept for the caller to decide (fall back, pass on, or report).
    struct Refusal: Error {
        let status: Int
        let body: [UInt8]

        /// The body, shortened, for an error message.
        var snippet: String {
            let text = String(decoding: body.prefix(300), as: UTF8.self)
            return text.filter { !$0.isNewline }
        }

        var failure: ConnectFailure { .httpStatus(status, body: snippet) }

        /// The body itself when it is the server's JSON-RPC answer to one of `ids`.
        func answer(for ids: [JSONRPCID]) -> [UInt8]? {
            let answered = RemoteReply.responseIDs(in: body)
            return !answered.isEmpty && answered.isSubset(of: Set(ids)) ? body : nil
        }
    }

    /// The remote session is gone (404 to a request carrying its id).
    struct SessionExpired: Error {}
}
