import Logging
import MCPBridge

/// What both transports share: how to reach the server and where its messages go.
struct RemoteLink: Sendable {
    let exchange: HTTPExchange
    let endpoint: RemoteEndpoint
    /// Authorization and the user's extra headers, sent with every request.
    let baseHeaders: [(String, String)]
    let sink: ClientSink
    let logger: Logger
    let maximumMessageBytes: Int

    var hasToken: Bool { baseHeaders.contains { $0.0.lowercased() == "authorization" } }

    /// 401 or 403 as the failure that says whether a token was sent.
    func unauthorized(_ status: UInt) -> ConnectFailure {
        .unauthorized(status: Int(status), hasToken: hasToken)
    }
}
