import NIOCore
import NIOSSL

/// Sits behind the TLS handler and keeps the connection's first TLS error in the `Observation`,
/// whichever error the request's own reads and writes then see.
final class TLSFailureRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    private let observation: TLSClient.Observation

    init(observation: TLSClient.Observation) {
        self.observation = observation
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if Self.isTLS(error) { observation.record(failure: error) }
        context.fireErrorCaught(error)
    }

    static func isTLS(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }
}
