import MCPBridge

/// How the server's TLS certificate is checked. There is no silent "off": `insecure` is asked for
/// by name and warned about on every start.
public enum TrustPolicy: Sendable, Equatable {
    /// The system's trust store, with the host name (or IP address) checked.
    case system
    /// Only certificates issued by the CA certificates in this PEM file, host name checked.
    case caFile(String)
    /// Exactly the certificate with this SHA-256 fingerprint (what `builder start` prints),
    /// whatever its issuer or names: the natural fit for a self-signed front.
    case fingerprint(CertificateFingerprint)
    /// No verification at all.
    case insecure
}
