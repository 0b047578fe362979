import MCPBridge
import NIOCore
import NIOSSL

/// Makes the TLS handler for each connection under one `TrustPolicy` (the context, with its
/// trust store loaded, is built once).
struct TLSClient: Sendable {
    let policy: TrustPolicy
    private let context: NIOSSLContext

    init(policy: TrustPolicy) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = ["http/1.1"]
        switch policy {
        case .system:
            break
        case .caFile(let path):
            configuration.trustRoots = .file(path)
        case .fingerprint:
            // The pin replaces chain and name checks (see `handler`); `.none` would skip the callback.
            configuration.certificateVerification = .noHostnameVerification
        case .insecure:
            configuration.certificateVerification = .none
        }
        self.policy = policy
        self.context = try NIOSSLContext(configuration: configuration)
    }

    /// Records what the server presented when a pin did not match, and a failed handshake's
    /// error, for the error message: a failed handshake closes the channel, and a request write
    /// that lands after that fails as "I/O on closed channel", which must not hide the reason.
    final class Observation: Sendable {
        private let presented = Locked<CertificateFingerprint?>(nil)
        private let firstFailure = Locked<(any Error)?>(nil)
        var mismatch: CertificateFingerprint? { presented.withLock { $0 } }
        var failure: (any Error)? { firstFailure.withLock { $0 } }
        func record(_ fingerprint: CertificateFingerprint) { presented.withLock { $0 = fingerprint } }
        func record(failure: any Error) { firstFailure.withLock { if $0 == nil { $0 = failure } } }
    }

    func handler(for endpoint: RemoteEndpoint, observation: Observation) throws -> NIOSSLClientHandler {
        // IP literals are not sent as SNI; NIOSSL then matches the certificate against the address.
        let serverName = endpoint.hostIsIPAddress ? nil : endpoint.host
        guard case .fingerprint(let expected) = policy else {
            return try NIOSSLClientHandler(context: context, serverHostname: serverName)
        }
        return try NIOSSLClientHandler(context: context, serverHostname: serverName) { certificates, promise in
            guard let leaf = certificates.first, let der = try? leaf.toDERBytes() else {
                promise.succeed(.failed)
                return
            }
            let presented = CertificateFingerprint.of(der: der)
            if presented == expected {
                promise.succeed(.certificateVerified)
            } else {
                observation.record(presented)
                promise.succeed(.failed)
            }
        }
    }
}
