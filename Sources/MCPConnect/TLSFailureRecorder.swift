import NIOCore
import NIOSSL

/// Sits behind the TLS handler and keeps a failed handshake's error in the `Observation`,
/// whichever error the request's own reads and writes then see (errors after the handshake are
/// left to them).
final class TLSFailureRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    private let observation: TLSClient.Observation

    init(observation: TLSClient.Observation) {
        self.observation = observation
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case NIOSSLError.handshakeFailed = error { observation.record(failure: error) }
        context.fireErrorCaught(error)
    }

    static func isTLS(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }
}
