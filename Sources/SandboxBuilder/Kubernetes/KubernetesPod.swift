import MCPBridge

/// The pod of one deployment. Docker runs the bridge as root only long enough to split two
/// identities inside one container; a pod has containers for that, so no process ever needs a
/// capability or root (the "restricted" Pod Security Standard holds):
/// - `front` (uid 10001) holds the front's secrets and is the only port of the pod: the bridge
///   checking the token (and nginx or the tunnel agent, as in Docker), which runs each session's
///   stdio child as `mcp-bridge connect` to the server container;
/// - `server` (uid 10002) runs a second bridge on the pod's loopback only, which starts one MCP
///   server process per session with the server's own variables and nothing of the front's.
/// The containers share the network namespace and nothing else: no volume, no process namespace.
public struct KubernetesPod: Sendable {
    public let spec: DeploymentSpec
    public let names: Names

    /// The objects the pod refers to by name.
    public struct Names: Sendable {
        public var serviceAccount: String
        public var frontSecret: String
        public var serverSecret: String?
        public var userTLSSecret: String?
    }

    /// The server container's bridge: loopback only, so nothing outside the pod reaches it.
    public static let serverBridgePort = 8001
    /// Added to both containers by `fsGroup` so they can read their secret files (0440); it is
    /// neither identity's own group, and no volume is shared between the containers.
    public static let secretReaderGroup = 10003
    public static let bridgePath = "/usr/local/bin/mcp-bridge"
    static let secretsFileMode = 0o440
    /// The front's resources: the bridge, nginx or the tunnel agent, and one
    /// `mcp-bridge connect` per open session (about 1.8 MiB of its own memory each, measured
    /// with 20 sessions), for the bridge's default 100 sessions.
    public static let frontMemory = "384Mi"
    public static let frontCPU = "250m"

    /// The port the front serves clients on, and its name.
    public var frontPort: (name: String, number: Int)? {
        switch spec.exposure {
        case .local: return ("http", DeploymentSpec.bridgePort)
        case .nginx: return ("https", DeploymentSpec.nginxPort)
        case .ngrok, .pinggy: return nil
        }
    }

    /// The front bridge: exactly the image's entrypoint flags, with a session's child being a
    /// client of the server container.
    var frontArguments: [String] {
        let entrypoint = DockerfileRenderer(runtime: spec.runtime, base: spec.base, exposure: spec.exposure).entrypoint
        return Array(entrypoint.dropFirst()) + [
            Self.bridgePath, "connect", "--transport", "streamable", "--log-level", "warning",
            "http://127.0.0.1:\(Self.serverBridgePort)/mcp",
        ]
    }

    var serverArguments: [String] {
        var argv = ["--host", "127.0.0.1", "--port", String(Self.serverBridgePort), "--log-format", "json"]
        let passed = DockerfileRenderer.runtimeEnvironment(spec.runtime)
        if !passed.isEmpty { argv += ["--pass-env", passed.joined(separator: ",")] }
        return argv + ["--"] + spec.command
    }

    /// Where the image comes from: a registry reference is pulled on every start (by digest that
    /// costs nothing); the local tag of `builder build` is never pulled, since a registry could
    /// serve a stranger's image under that name.
    public enum ImageSource: Sendable {
        case registry(String)
        case local(String)

        var reference: String {
            switch self {
            case .registry(let reference), .local(let reference): return reference
            }
        }

        var pullPolicy: String {
            if case .registry = self { return "Always" }
            return "Never"
        }
    }

    /// The pod template's `spec`.
    public func template(image: ImageSource) -> YAMLValue {
        var pod: [(String, YAMLValue)] = [
            ("serviceAccountName", .string(names.serviceAccount)),
            ("automountServiceAccountToken", .boolean(false)),
            // No Service's address in the environment of an untrusted process.
            ("enableServiceLinks", .boolean(false)),
        ]
        if spec.containerRuntime == .runsc { pod.append(("runtimeClassName", .string(KubernetesManifests.runtimeClassName))) }
        pod += [
            ("securityContext", .mapping([
                ("runAsNonRoot", .boolean(true)),
                ("fsGroup", .integer(Self.secretReaderGroup)),
                ("seccompProfile", .mapping([("type", .string("RuntimeDefault"))])),
            ])),
            ("terminationGracePeriodSeconds", .integer(15)),
            ("containers", .sequence([front(image: image), server(image: image)])),
            ("volumes", .sequence(volumes)),
        ]
        return .mapping(pod)
    }

    private func front(image: ImageSource) -> YAMLValue {
        let environment = Self.noIdentitySwitch + [Self.variable("MCP_BRIDGE_SECRETS_FILE", DeploymentSpec.secretsFile)]
        var mounts: [YAMLValue] = [
            Self.mount("front-tmp", "/tmp"),
            Self.mount("front-run", DeploymentSpec.frontRunDirectory),
            Self.mount("front-secrets", DeploymentSpec.secretsDirectory, readOnly: true),
        ]
        if spec.exposure == .nginx {
            // The self-signed certificate lives on a per-pod volume: each new pod makes its own.
            mounts.append(Self.mount("front-tls", "/var/lib/mcp-sandbox/tls"))
            if names.userTLSSecret != nil { mounts.append(Self.mount("user-tls", "/etc/mcp-sandbox/user-tls", readOnly: true)) }
        }
        var container = Self.bridgeContainer("front", image: image, arguments: frontArguments, environment: environment)
        if let port = frontPort {
            container.append(("ports", .sequence([.mapping([
                ("name", .string(port.name)), ("containerPort", .integer(port.number)), ("protocol", .string("TCP")),
            ])])))
        }
        container += [
            ("securityContext", Self.securityContext(DeploymentSpec.frontIdentity)),
            ("resources", Self.resources(memory: Self.frontMemory, cpu: Self.frontCPU)),
        ]
        container += frontProbes
        container.append(("volumeMounts", .sequence(mounts)))
        return .mapping(container)
    }

    private func server(image: ImageSource) -> YAMLValue {
        var environment = Self.noIdentitySwitch
        var mounts = [Self.mount("server-tmp", "/tmp")]
        if names.serverSecret != nil {
            environment += [
                Self.variable("MCP_BRIDGE_SECRETS_FILE", DeploymentSpec.secretsFile),
                // Names only: the bridge passes exactly these (and a minimal base) to the server.
                Self.variable("MCP_BRIDGE_PASS_ENV", spec.serverEnvironment.keys.sorted().joined(separator: ",")),
            ]
            mounts.append(Self.mount("server-secrets", DeploymentSpec.secretsDirectory, readOnly: true))
        }
        var container = Self.bridgeContainer("server", image: image, arguments: serverArguments, environment: environment)
        container += [
            ("securityContext", Self.securityContext(DeploymentSpec.serverIdentity)),
            ("resources", Self.resources(memory: KubernetesQuantity.memory(spec.memory), cpu: KubernetesQuantity.cpu(spec.cpus))),
        ]
        container += Self.probes(
            liveness: Self.execProbe(port: Self.serverBridgePort, path: "/healthz"),
            readiness: Self.execProbe(port: Self.serverBridgePort, path: "/readyz"))
        container.append(("volumeMounts", .sequence(mounts)))
        return .mapping(container)
    }

    /// Both containers run the image's bridge.
    private static func bridgeContainer(_ name: String, image: ImageSource, arguments: [String], environment: [YAMLValue]) -> [(String, YAMLValue)] {
        [
            ("name", .string(name)),
            ("image", .string(image.reference)),
            ("imagePullPolicy", .string(image.pullPolicy)),
            ("command", .sequence([.string(bridgePath)])),
            ("args", .sequence(arguments.map(YAMLValue.string))),
            ("env", .sequence(environment)),
        ]
    }

    /// Liveness on `/healthz`, readiness on `/readyz`; HTTP where the front port is plain or
    /// TLS (nginx serves both paths without a token), otherwise the bridge's own probe.
    private var frontProbes: [(String, YAMLValue)] {
        guard let port = frontPort else {
            return Self.probes(liveness: Self.execProbe(port: DeploymentSpec.bridgePort, path: "/healthz"),
                               readiness: Self.execProbe(port: DeploymentSpec.bridgePort, path: "/readyz"))
        }
        func http(_ path: String) -> YAMLValue {
            .mapping([("httpGet", .mapping([
                ("path", .string(path)), ("port", .string(port.name)), ("scheme", .string(port.name == "https" ? "HTTPS" : "HTTP")),
            ]))])
        }
        return Self.probes(liveness: http("/healthz"), readiness: http("/readyz"))
    }

    private static func probes(liveness: YAMLValue, readiness: YAMLValue) -> [(String, YAMLValue)] {
        func timed(_ probe: YAMLValue, _ timing: [(String, YAMLValue)]) -> YAMLValue {
            guard case .mapping(let members) = probe else { return probe }
            return .mapping(members + timing)
        }
        return [
            // Up to 60 s for a slow server start before liveness counts.
            ("startupProbe", timed(liveness, [("periodSeconds", .integer(2)), ("timeoutSeconds", .integer(3)), ("failureThreshold", .integer(30))])),
            ("livenessProbe", timed(liveness, [("periodSeconds", .integer(10)), ("timeoutSeconds", .integer(3)), ("failureThreshold", .integer(3))])),
            ("readinessProbe", timed(readiness, [("periodSeconds", .integer(5)), ("timeoutSeconds", .integer(3)), ("failureThreshold", .integer(2))])),
        ]
    }

    private static func execProbe(port: Int, path: String) -> YAMLValue {
        .mapping([("exec", .mapping([("command", .sequence([
            .string(bridgePath), .string("--healthcheck"), .string("--healthcheck-path"), .string(path), .string("--port"), .string(String(port)),
        ]))]))])
    }

    /// The image sets the Docker identities (start as root, then switch); in a pod each
    /// container already runs as its identity, so the bridge must not try to switch.
    private static var noIdentitySwitch: [YAMLValue] {
        [variable("MCP_BRIDGE_USER", ""), variable("MCP_BRIDGE_CHILD_USER", "")]
    }

    private static func variable(_ name: String, _ value: String) -> YAMLValue {
        .mapping([("name", .string(name)), ("value", .string(value))])
    }

    private static func mount(_ name: String, _ path: String, readOnly: Bool = false) -> YAMLValue {
        var members: [(String, YAMLValue)] = [("name", .string(name)), ("mountPath", .string(path))]
        if readOnly { members.append(("readOnly", .boolean(true))) }
        return .mapping(members)
    }

    static func securityContext(_ identity: ProcessIdentity) -> YAMLValue {
        .mapping([
            ("runAsUser", .integer(Int(identity.uid))),
            ("runAsGroup", .integer(Int(identity.gid))),
            ("runAsNonRoot", .boolean(true)),
            ("readOnlyRootFilesystem", .boolean(true)),
            ("allowPrivilegeEscalation", .boolean(false)),
            ("privileged", .boolean(false)),
            ("capabilities", .mapping([("drop", .sequence([.string("ALL")]))])),
            ("seccompProfile", .mapping([("type", .string("RuntimeDefault"))])),
            ("appArmorProfile", .mapping([("type", .string("RuntimeDefault"))])),
        ])
    }

    /// Requests equal limits: the pod is Guaranteed, as a container with docker's limits is.
    private static func resources(memory: String, cpu: String) -> YAMLValue {
        let amounts: YAMLValue = .mapping([("cpu", .string(cpu)), ("memory", .string(memory))])
        return .mapping([("requests", amounts), ("limits", amounts)])
    }

    /// Memory-backed volumes for what Docker mounts as tmpfs, and the secret files.
    private var volumes: [YAMLValue] {
        func memory(_ name: String, _ size: String) -> YAMLValue {
            .mapping([("name", .string(name)), ("emptyDir", .mapping([("medium", .string("Memory")), ("sizeLimit", .string(size))]))])
        }
        func secret(_ name: String, _ secretName: String, items: [(String, String)]) -> YAMLValue {
            .mapping([("name", .string(name)), ("secret", .mapping([
                ("secretName", .string(secretName)),
                ("defaultMode", .integer(Self.secretsFileMode)),
                ("items", .sequence(items.map { .mapping([("key", .string($0.0)), ("path", .string($0.1))]) })),
            ]))])
        }
        var volumes = [
            memory("front-tmp", "64Mi"),
            memory("front-run", "16Mi"),
            secret("front-secrets", names.frontSecret, items: [("env", "env")]),
        ]
        if spec.exposure == .nginx {
            volumes.append(memory("front-tls", "1Mi"))
            if let userTLS = names.userTLSSecret {
                volumes.append(secret("user-tls", userTLS, items: [("tls.crt", "cert.pem"), ("tls.key", "key.pem")]))
            }
        }
        volumes.append(memory("server-tmp", "64Mi"))
        if let server = names.serverSecret {
            volumes.append(secret("server-secrets", server, items: [("env", "env")]))
        }
        return volumes
    }
}
