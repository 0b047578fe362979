import Foundation
import Testing

@testable import SandboxBuilder

/// Every flag `builder start` gives `docker run` has its counterpart in the rendered pod, or is
/// named as a setting of the cluster (no pod field exists for it); a new docker flag fails this
/// test until it is mapped.
@Suite struct KubernetesHardeningTests {
    enum Equivalent: Sendable {
        /// A check of the rendered objects.
        case pod(@Sendable (Rendered) -> Bool)
        /// No pod field: the node or cluster decides (named in the README's Kubernetes section).
        case cluster(String)
        /// Docker bookkeeping with no security meaning in a pod (names, detaching).
        case bookkeeping
    }

    struct Rendered: Sendable {
        var spec: DeploymentSpec
        var documents: [YAMLValue]
        init(_ manifests: KubernetesManifests) {
            spec = manifests.spec
            documents = manifests.documents.map(\.value)
        }
        var instance: String { spec.containerName }
        var text: String { documents.map(\.document).joined() }
        var pod: YAMLValue { documents.first { $0["kind"] == .string("Deployment") }?["spec"]?["template"]?["spec"] ?? .mapping([]) }
        var containers: [YAMLValue] { Self.items(pod["containers"]) }
        func container(_ name: String) -> YAMLValue? { containers.first { $0["name"] == .string(name) } }
        func mounts(_ name: String) -> [String: String] {
            Dictionary(uniqueKeysWithValues: Self.items(container(name)?["volumeMounts"]).compactMap { mount -> (String, String)? in
                guard case .string(let path) = mount["mountPath"], case .string(let volume) = mount["name"] else { return nil }
                return (path, volume)
            })
        }
        func volume(_ name: String) -> YAMLValue? { Self.items(pod["volumes"]).first { $0["name"] == .string(name) } }
        func kind(_ kind: String) -> [YAMLValue] { documents.filter { $0["kind"] == .string(kind) } }
        static func items(_ value: YAMLValue?) -> [YAMLValue] {
            if case .sequence(let items) = value { return items }
            return []
        }
    }

    static let equivalents: [String: Equivalent] = [
        "--cap-drop": .pod { r in r.containers.allSatisfy { $0["securityContext"]?["capabilities"]?["drop"] == .sequence([.string("ALL")]) } },
        // Docker needs SETUID, SETGID and KILL to split one container into two identities; the pod
        // has a container per identity, so none adds a capability.
        "--cap-add": .pod { r in r.containers.allSatisfy { $0["securityContext"]?["capabilities"]?["add"] == nil } },
        "--security-opt": .pod { r in
            r.containers.allSatisfy { $0["securityContext"]?["allowPrivilegeEscalation"] == .boolean(false) && $0["securityContext"]?["privileged"] == .boolean(false) }
        },
        "--read-only": .pod { r in r.containers.allSatisfy { $0["securityContext"]?["readOnlyRootFilesystem"] == .boolean(true) } },
        // `--user 0:0` with the image's MCP_BRIDGE_USER=10001:10001 and MCP_BRIDGE_CHILD_USER=10002:10002.
        "--user": .pod { r in
            r.pod["securityContext"]?["runAsNonRoot"] == .boolean(true)
                && r.container("front")?["securityContext"]?["runAsUser"] == .integer(10001)
                && r.container("front")?["securityContext"]?["runAsGroup"] == .integer(10001)
                && r.container("server")?["securityContext"]?["runAsUser"] == .integer(10002)
                && r.container("server")?["securityContext"]?["runAsGroup"] == .integer(10002)
        },
        "--pids-limit": .cluster("podPidsLimit"),
        "--memory": .pod { r in
            let memory = YAMLValue.string(KubernetesQuantity.memory(r.spec.memory))
            return r.container("server")?["resources"]?["limits"]?["memory"] == memory
                && r.containers.allSatisfy { $0["resources"]?["limits"] == $0["resources"]?["requests"] }
        },
        // Requests equal limits in every container: a Guaranteed pod, which the kubelet never swaps.
        "--memory-swap": .pod { r in r.containers.allSatisfy { $0["resources"]?["limits"] == $0["resources"]?["requests"] } },
        "--cpus": .pod { r in r.container("server")?["resources"]?["limits"]?["cpu"] == .string(KubernetesQuantity.cpu(r.spec.cpus)) },
        "--restart": .pod { r in r.kind("Deployment").count == 1 && r.pod["restartPolicy"] == nil },
        "--log-driver": .cluster("containerLogMaxSize"),
        "--log-opt": .cluster("containerLogMaxFiles"),
        "--tmpfs": .pod { r in
            func memory(_ volume: String?) -> Bool { volume.flatMap { r.volume($0)?["emptyDir"]?["medium"] } == .string("Memory") }
            return memory(r.mounts("front")["/tmp"]) && memory(r.mounts("server")["/tmp"])
                && memory(r.mounts("front")[DeploymentSpec.frontRunDirectory]) && r.mounts("server")[DeploymentSpec.frontRunDirectory] == nil
        },
        "--volume": .pod { r in
            // Secrets: a Secret per container, read-only, never the other container's.
            let front = r.mounts("front")[DeploymentSpec.secretsDirectory].flatMap { r.volume($0)?["secret"]?["secretName"] }
            let server = r.mounts("server")[DeploymentSpec.secretsDirectory].flatMap { r.volume($0)?["secret"]?["secretName"] }
            let tls = r.spec.exposure != .nginx || r.mounts("front")["/var/lib/mcp-sandbox/tls"] != nil
            return front == .string("\(r.instance)-front") && front != server && tls
        },
        "--runtime": .pod { r in
            (r.pod["runtimeClassName"] == .string("gvisor")) == (r.spec.containerRuntime == .runsc)
                && (r.kind("RuntimeClass").first?["handler"] == .string("runsc")) == (r.spec.containerRuntime == .runsc)
        },
        "--network": .pod { r in
            let egress = r.kind("NetworkPolicy").first { $0["spec"]?["policyTypes"] == .sequence([.string("Egress")]) }
            let rules = Rendered.items(egress?["spec"]?["egress"])
            let metadataBlocked = r.text.contains("169.254.0.0/16")
            return r.pod["hostNetwork"] == nil
                && (r.spec.network == .isolated ? rules.count == 2 && metadataBlocked : rules.isEmpty)
        },
        // Published on 127.0.0.1 only: a ClusterIP Service, no host port, no node port.
        "--publish": .pod { r in
            r.kind("Service").allSatisfy { $0["spec"]?["type"] == .string("ClusterIP") } && !r.text.contains("hostPort")
                && r.kind("NetworkPolicy").contains { $0["spec"]?["policyTypes"] == .sequence([.string("Ingress")]) }
        },
        "--env": .pod { r in
            let text = YAMLValue.sequence(r.containers).document
            let passed = r.spec.serverEnvironment.isEmpty || text.contains("MCP_BRIDGE_PASS_ENV")
            return text.contains("MCP_BRIDGE_SECRETS_FILE") && passed && !text.contains(r.spec.authToken)
        },
        "--label": .pod { r in r.documents.allSatisfy { $0["metadata"]?["labels"]?["app.kubernetes.io/part-of"] == .string("mcp-sandbox") } },
        "--detach": .bookkeeping, "--name": .bookkeeping, "--hostname": .bookkeeping,
        // The ingress container of MCP_NETWORK none/internal: a pod needs none, since its
        // containers share one network namespace and the NetworkPolicy bounds what leaves it.
        "--no-healthcheck": .bookkeeping, "--entrypoint": .bookkeeping,
    ]

    static func flags(_ spec: DeploymentSpec) -> Set<String> {
        let commands = DockerCommands(spec: spec)
        let argv = commands.run(useGVisor: true) + (commands.runIngress(useGVisor: true) ?? [])
        // The container's own command line (after the image) is the bridge's, not docker's.
        let dockerPart = argv.prefix { $0 != spec.imageTag }
        return Set(dockerPart.filter { $0.hasPrefix("--") })
    }

    @Test(arguments: [(DeploymentSpec.Exposure.nginx, DeploymentSpec.Network.isolated, DeploymentSpec.ContainerRuntime.runsc),
                      (.local, .none, .runc), (.local, .internal, .auto), (.pinggy, .isolated, .runsc)])
    func everyDockerFlagHasItsPodEquivalent(exposure: DeploymentSpec.Exposure, network: DeploymentSpec.Network,
                                            runtime: DeploymentSpec.ContainerRuntime) throws {
        let spec = try KubernetesGoldenTests.spec(runtime: runtime, exposure: exposure, network: network)
        let rendered = Rendered(try KubernetesManifests(spec: spec, options: KubernetesGoldenTests.options(exposure)))
        let flags = Self.flags(spec)
        #expect(flags.count >= 20)
        for flag in flags.sorted() {
            guard let equivalent = Self.equivalents[flag] else {
                Issue.record("docker run \(flag) has no Kubernetes equivalent in KubernetesHardeningTests.equivalents")
                continue
            }
            if case .pod(let check) = equivalent {
                #expect(check(rendered), "\(flag): the pod lacks its equivalent (\(exposure) \(network) \(runtime))")
            }
        }
        // Docker's default seccomp and AppArmor profiles apply without a flag; the pod asks for them.
        for container in rendered.containers {
            #expect(container["securityContext"]?["seccompProfile"]?["type"] == .string("RuntimeDefault"))
            #expect(container["securityContext"]?["appArmorProfile"]?["type"] == .string("RuntimeDefault"))
        }
        // The image's HEALTHCHECK: liveness and readiness on every container.
        #expect(rendered.containers.allSatisfy { $0["livenessProbe"] != nil && $0["readinessProbe"] != nil })
        #expect(rendered.pod["automountServiceAccountToken"] == .boolean(false))
    }

    @Test func settingsLeftToTheClusterAreNamedInTheReadme() throws {
        let readme = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "## Outgrowing one host: Kubernetes")).upperBound
        for case .cluster(let setting) in Self.equivalents.values {
            #expect(readme[section...].contains("`\(setting)`"), "README's Kubernetes section does not name \(setting)")
        }
    }

    /// A change to every mapping member of a tree, wherever it is.
    enum Edit: Sendable { case keep, remove, set(YAMLValue) }

    static func edited(_ value: YAMLValue, _ edit: (String, YAMLValue) -> Edit) -> YAMLValue {
        switch value {
        case .mapping(let members):
            return .mapping(members.compactMap { key, member in
                switch edit(key, member) {
                case .keep: return (key, edited(member, edit))
                case .remove: return nil
                case .set(let replacement): return (key, replacement)
                }
            })
        case .sequence(let items):
            return .sequence(items.map { edited($0, edit) })
        default:
            return value
        }
    }

    /// For each pod check, the pod without that hardening: the check must fail on it.
    static let weakenings: [String: @Sendable (String, YAMLValue) -> Edit] = [
        "--cap-drop": { key, _ in key == "drop" ? .set(.sequence([])) : .keep },
        "--cap-add": { key, _ in key == "capabilities" ? .set(.mapping([("drop", .sequence([.string("ALL")])), ("add", .sequence([.string("SETUID")]))])) : .keep },
        "--security-opt": { key, _ in key == "allowPrivilegeEscalation" ? .set(.boolean(true)) : .keep },
        "--read-only": { key, _ in key == "readOnlyRootFilesystem" ? .set(.boolean(false)) : .keep },
        "--user": { key, _ in key == "runAsUser" ? .set(.integer(0)) : .keep },
        "--memory": { key, _ in key == "limits" ? .set(.mapping([("cpu", .string("2")), ("memory", .string("8Gi"))])) : .keep },
        "--memory-swap": { key, _ in key == "limits" ? .set(.mapping([("cpu", .string("2")), ("memory", .string("8Gi"))])) : .keep },
        "--cpus": { key, _ in key == "limits" ? .set(.mapping([("cpu", .string("2")), ("memory", .string("8Gi"))])) : .keep },
        "--restart": { key, value in key == "kind" && value == .string("Deployment") ? .set(.string("Pod")) : .keep },
        "--tmpfs": { key, _ in key == "medium" ? .remove : .keep },
        "--volume": { key, _ in key == "secretName" ? .set(.string("shared")) : .keep },
        "--runtime": { key, _ in key == "runtimeClassName" ? .remove : .keep },
        "--network": { key, _ in key == "egress" ? .set(.sequence([])) : .keep },
        "--publish": { key, value in key == "type" && value == .string("ClusterIP") ? .set(.string("NodePort")) : .keep },
        "--env": { key, _ in key == "env" ? .set(.sequence([])) : .keep },
        "--label": { key, _ in key == "labels" ? .remove : .keep },
    ]

    @Test func eachPodCheckFailsOnAPodWithoutThatHardening() throws {
        let spec = try KubernetesGoldenTests.spec(runtime: .runsc, exposure: .nginx, network: .isolated)
        let rendered = Rendered(try KubernetesManifests(spec: spec, options: KubernetesGoldenTests.options(.nginx)))
        for (flag, equivalent) in Self.equivalents.sorted(by: { $0.key < $1.key }) {
            guard case .pod(let check) = equivalent else { continue }
            let weakening = try #require(Self.weakenings[flag], "\(flag) has no weakening to prove its check can fail")
            var weakened = rendered
            weakened.documents = rendered.documents.map { Self.edited($0, weakening) }
            #expect(check(rendered), "\(flag)")
            #expect(!check(weakened), "\(flag): the check passed a pod without its hardening")
        }
    }
}
