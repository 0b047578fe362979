import Foundation

/// One deployment as Kubernetes objects, rendered from the same `DeploymentSpec` as the Docker
/// deployment: Namespace (optional), ServiceAccount, Secrets, Deployment, Service, the two
/// NetworkPolicies, the gVisor RuntimeClass and an Ingress when asked for.
public struct KubernetesManifests: Sendable {
    public let spec: DeploymentSpec
    public let options: KubernetesOptions

    public static let runtimeClassName = "gvisor"

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// One object: the file it gets in a kustomize base, and its content.
    public struct Document: Sendable {
        public var fileName: String
        public var value: YAMLValue
    }

    public init(spec: DeploymentSpec, options: KubernetesOptions) throws {
        if spec.name.contains("_") {
            throw Failure(description: "MCP_NAME: '\(spec.name)' contains '_', which Kubernetes names do not allow; use '-' instead")
        }
        if !Self.isDNSLabel(options.namespace) {
            throw Failure(description: "--namespace: '\(options.namespace)' is not a Kubernetes namespace name (1-63 lowercase letters, digits or '-', starting and ending with a letter or digit)")
        }
        if let image = options.image, image.isEmpty || image.contains(where: { $0.isWhitespace }) {
            throw Failure(description: "--image: '\(image)' is not an image reference (e.g. registry.example.com/mcp/time@sha256:…)")
        }
        if let host = options.ingressHost {
            guard spec.exposure == .nginx else {
                throw Failure(description: "--ingress-host: an Ingress fronts the pod's TLS port, which only MCP_EXPOSE=nginx has (MCP_EXPOSE is \(spec.exposure.rawValue)); set MCP_EXPOSE=nginx")
            }
            let labels = host.split(separator: ".", omittingEmptySubsequences: false)
            guard host.count <= 253, labels.count >= 2, labels.allSatisfy({ Self.isDNSLabel(String($0)) }) else {
                throw Failure(description: "--ingress-host: '\(host)' is not a DNS host name such as mcp.example.com")
            }
        }
        // Both end up as object names in the cluster (an IngressClass, a Secret): an invalid one
        // would render, then be refused by the API server at apply time.
        if !Self.isDNSSubdomain(options.ingressClass) {
            throw Failure(description: "--ingress-class: '\(options.ingressClass)' is not an IngressClass name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253)")
        }
        if let secret = options.ingressTLSSecret, !Self.isDNSSubdomain(secret) {
            throw Failure(description: "--ingress-tls-secret: '\(secret)' is not a Secret name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253)")
        }
        if (options.userCertificate == nil) != (options.userKey == nil) {
            throw Failure(description: "MCP_TLS_CERT_FILE and MCP_TLS_KEY_FILE: give both or neither")
        }
        self.spec = spec
        self.options = options
    }

    static func isDNSLabel(_ text: String) -> Bool {
        text.range(of: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", options: .regularExpression) != nil
    }

    /// Kubernetes' DNS-1123 subdomain, the rule for most object names (IngressClass, Secret).
    static func isDNSSubdomain(_ text: String) -> Bool {
        text.utf8.count <= 253
            && text.range(of: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", options: .regularExpression) != nil
    }

    /// `mcp-<name>`, as the Docker container is named.
    public var instance: String { spec.containerName }
    public var image: String { options.image ?? spec.imageTag }

    /// The Kubernetes recommended labels.
    public var labels: YAMLValue {
        var members: [(String, YAMLValue)] = [
            ("app.kubernetes.io/name", .string(spec.name)),
            ("app.kubernetes.io/instance", .string(instance)),
        ]
        if let version = packageVersion { members.append(("app.kubernetes.io/version", .string(version))) }
        members += [
            ("app.kubernetes.io/component", .string("mcp-server")),
            ("app.kubernetes.io/part-of", .string("mcp-sandbox")),
            ("app.kubernetes.io/managed-by", .string("mcp-sandbox-builder")),
        ]
        return .mapping(members)
    }

    /// What selects the pod: immutable in a Deployment, so only the two stable labels.
    public var selector: YAMLValue {
        .mapping([("app.kubernetes.io/name", .string(spec.name)), ("app.kubernetes.io/instance", .string(instance))])
    }

    /// The pinned version of the server's package, when it is a valid label value.
    var packageVersion: String? {
        guard let package = spec.package, spec.runtime != .custom else { return nil }
        let separator = spec.runtime == .python ? "==" : "@"
        guard let range = package.range(of: separator, options: .backwards) else { return nil }
        let version = String(package[range.upperBound...])
        return version.range(of: "^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$", options: .regularExpression) != nil ? version : nil
    }

    public var names: KubernetesPod.Names {
        KubernetesPod.Names(
            serviceAccount: instance,
            frontSecret: "\(instance)-front",
            serverSecret: spec.serverEnvironment.isEmpty ? nil : "\(instance)-server",
            userTLSSecret: options.userCertificate == nil ? nil : "\(instance)-tls")
    }

    public var pod: KubernetesPod { KubernetesPod(spec: spec, names: names) }

    public var documents: [Document] {
        var documents: [Document] = []
        if options.createNamespace { documents.append(Document(fileName: "namespace.yaml", value: namespace)) }
        if spec.containerRuntime == .runsc { documents.append(Document(fileName: "runtimeclass.yaml", value: runtimeClass)) }
        documents.append(Document(fileName: "serviceaccount.yaml", value: object("v1", "ServiceAccount", instance, [
            ("automountServiceAccountToken", .boolean(false)),
        ])))
        let commands = DockerCommands(spec: spec)
        documents.append(Document(fileName: "secret-front.yaml", value: secret(names.frontSecret, [
            "env": DockerCommands.secretsFile(commands.frontSecretEnvironment),
        ])))
        if let server = names.serverSecret {
            documents.append(Document(fileName: "secret-server.yaml", value: secret(server, [
                "env": DockerCommands.secretsFile(spec.serverEnvironment),
            ])))
        }
        if let tls = names.userTLSSecret, let certificate = options.userCertificate, let key = options.userKey {
            documents.append(Document(fileName: "secret-tls.yaml", value: secret(tls, [
                "tls.crt": Array(certificate.utf8), "tls.key": Array(key.utf8),
            ], type: "kubernetes.io/tls")))
        }
        documents.append(Document(fileName: "deployment.yaml", value: deployment))
        if let port = pod.frontPort {
            documents.append(Document(fileName: "service.yaml", value: object("v1", "Service", instance, [
                ("spec", .mapping([
                    ("type", .string("ClusterIP")),
                    ("selector", selector),
                    ("ports", .sequence([.mapping([
                        ("name", .string(port.name)), ("protocol", .string("TCP")),
                        ("port", .integer(spec.hostPort)), ("targetPort", .string(port.name)),
                    ])])),
                ])),
            ])))
        }
        documents.append(Document(fileName: "networkpolicy-ingress.yaml", value: KubernetesNetworkPolicy.ingress(
            name: "\(instance)-ingress", namespace: options.namespace, labels: labels, selector: selector, port: pod.frontPort?.number)))
        documents.append(Document(fileName: "networkpolicy-egress.yaml", value: KubernetesNetworkPolicy.egress(
            name: "\(instance)-egress", namespace: options.namespace, labels: labels, selector: selector, network: spec.network)))
        if let host = options.ingressHost { documents.append(Document(fileName: "ingress.yaml", value: ingress(host: host))) }
        return documents
    }

    /// Every object as one multi-document YAML stream.
    public var text: String {
        documents.map { "---\n" + $0.value.document }.joined()
    }

    /// A kustomize base: `kustomization.yaml` naming each object's file.
    public var kustomization: YAMLValue {
        .mapping([
            ("apiVersion", .string("kustomize.config.k8s.io/v1beta1")),
            ("kind", .string("Kustomization")),
            ("resources", .sequence(documents.map { .string($0.fileName) })),
        ])
    }

    private func object(_ apiVersion: String, _ kind: String, _ name: String, _ body: [(String, YAMLValue)]) -> YAMLValue {
        let metadata: [(String, YAMLValue)] = [("name", .string(name)), ("namespace", .string(options.namespace)), ("labels", labels)]
        return .mapping([("apiVersion", .string(apiVersion)), ("kind", .string(kind)), ("metadata", .mapping(metadata))] + body)
    }

    /// A cluster-scoped object (or the namespace itself), which other deployments share: labelled
    /// as mcp-sandbox's, not as this deployment's.
    private func shared(_ apiVersion: String, _ kind: String, _ name: String, extraLabels: [(String, YAMLValue)] = [],
                        _ body: [(String, YAMLValue)] = []) -> YAMLValue {
        let labels: [(String, YAMLValue)] = [
            ("app.kubernetes.io/part-of", .string("mcp-sandbox")),
            ("app.kubernetes.io/managed-by", .string("mcp-sandbox-builder")),
        ] + extraLabels
        return .mapping([
            ("apiVersion", .string(apiVersion)), ("kind", .string(kind)),
            ("metadata", .mapping([("name", .string(name)), ("labels", .mapping(labels))])),
        ] + body)
    }

    /// The namespace, enforcing the "restricted" Pod Security Standard the pod meets.
    private var namespace: YAMLValue {
        shared("v1", "Namespace", options.namespace, extraLabels: [
            ("pod-security.kubernetes.io/enforce", .string("restricted")),
            ("pod-security.kubernetes.io/enforce-version", .string("latest")),
        ])
    }

    /// Cluster-wide: gVisor's `runsc` handler, which the nodes' container runtime must have.
    private var runtimeClass: YAMLValue {
        shared("node.k8s.io/v1", "RuntimeClass", Self.runtimeClassName, [("handler", .string("runsc"))])
    }

    private func secret(_ name: String, _ data: [String: [UInt8]], type: String = "Opaque") -> YAMLValue {
        object("v1", "Secret", name, [
            ("type", .string(type)),
            ("data", .mapping(data.keys.sorted().map { ($0, .string(Data(data[$0] ?? []).base64EncodedString())) })),
        ])
    }

    private var deployment: YAMLValue {
        object("apps/v1", "Deployment", instance, [
            ("spec", .mapping([
                // Sessions live in the pod's processes: one pod, replaced (never overlapped) on
                // a change, so no request of a session can reach a pod that does not hold it.
                ("replicas", .integer(1)),
                ("revisionHistoryLimit", .integer(3)),
                ("strategy", .mapping([("type", .string("Recreate"))])),
                ("selector", .mapping([("matchLabels", selector)])),
                ("template", .mapping([
                    ("metadata", .mapping([("labels", labels)])),
                    ("spec", pod.template(image: options.image.map(KubernetesPod.ImageSource.registry) ?? .local(spec.imageTag))),
                ])),
            ])),
        ])
    }

    /// SSE-safe: nothing buffered either way, streams open for a day, bodies up to the bridge's
    /// limit; the controller speaks TLS to the pod's nginx, which still checks the token.
    private func ingress(host: String) -> YAMLValue {
        let prefix = "nginx.ingress.kubernetes.io/"
        var metadata: [(String, YAMLValue)] = [("name", .string(instance)), ("namespace", .string(options.namespace)), ("labels", labels)]
        metadata.append(("annotations", .mapping([
            (prefix + "backend-protocol", .string("HTTPS")),
            (prefix + "proxy-buffering", .string("off")),
            (prefix + "proxy-request-buffering", .string("off")),
            (prefix + "proxy-http-version", .string("1.1")),
            (prefix + "proxy-read-timeout", .string("86400")),
            (prefix + "proxy-send-timeout", .string("86400")),
            (prefix + "proxy-body-size", .string("16m")),
        ])))
        return .mapping([
            ("apiVersion", .string("networking.k8s.io/v1")),
            ("kind", .string("Ingress")),
            ("metadata", .mapping(metadata)),
            ("spec", .mapping([
                ("ingressClassName", .string(options.ingressClass)),
                ("tls", .sequence([.mapping([
                    ("hosts", .sequence([.string(host)])),
                    ("secretName", .string(options.ingressTLSSecret ?? "\(instance)-ingress-tls")),
                ])])),
                ("rules", .sequence([.mapping([
                    ("host", .string(host)),
                    ("http", .mapping([("paths", .sequence([.mapping([
                        ("path", .string("/")),
                        ("pathType", .string("Prefix")),
                        ("backend", .mapping([("service", .mapping([
                            ("name", .string(instance)), ("port", .mapping([("name", .string("https"))])),
                        ]))])),
                    ])]))])),
                ])])),
            ])),
        ])
    }
}
