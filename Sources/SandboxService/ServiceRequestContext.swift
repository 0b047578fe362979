import Hummingbird
import NIOCore

/// Hummingbird's request context plus the peer's address (for per-address rate limits).
struct ServiceRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    var peer: String? { remoteAddress?.ipAddress }
}
