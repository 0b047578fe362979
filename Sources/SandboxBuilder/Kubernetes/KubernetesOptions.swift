/// What the cluster needs beyond the `.env`: where the manifests go and where the image lives.
public struct KubernetesOptions: Sendable, Equatable {
    /// Every namespaced object carries it; `createNamespace` also renders the Namespace.
    public var namespace = "mcp-sandbox"
    public var createNamespace = false
    /// The image as the cluster pulls it (a registry reference, ideally by digest); by default
    /// the tag `builder build` gives it locally.
    public var image: String?
    /// MCP_EXPOSE=nginx only: an Ingress for this host in front of the pod's TLS port.
    public var ingressHost: String?
    public var ingressClass = "nginx"
    /// The TLS Secret the ingress controller serves for `ingressHost`.
    public var ingressTLSSecret: String?
    /// MCP_TLS_CERT_FILE / MCP_TLS_KEY_FILE contents (PEM), for a `kubernetes.io/tls` Secret.
    public var userCertificate: String?
    public var userKey: String?

    public init() {}
}
