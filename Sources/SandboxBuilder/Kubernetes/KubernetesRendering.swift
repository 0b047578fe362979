import Foundation

/// `builder print kubernetes`: reads the user's TLS files named in the `.env`, renders, and
/// prints or writes a kustomize base, with notes for what the cluster must provide.
public enum KubernetesRendering {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func run(spec: DeploymentSpec, options: KubernetesOptions, kustomize: URL?, replacing: Bool,
                           output: (String) -> Void, note: (String) -> Void) throws {
        var options = options
        if let certificate = spec.tlsCertificateFile, let key = spec.tlsKeyFile {
            options.userCertificate = try read(certificate, setting: "MCP_TLS_CERT_FILE")
            options.userKey = try read(key, setting: "MCP_TLS_KEY_FILE")
        }
        let manifests: KubernetesManifests
        do {
            manifests = try KubernetesManifests(spec: spec, options: options)
        } catch let failure as KubernetesManifests.Failure {
            throw Failure(description: failure.description)
        }
        if let kustomize {
            do {
                try KustomizeBase(manifests: manifests).write(to: kustomize, replacing: replacing)
            } catch {
                throw Failure(description: "\(error)")
            }
            note("wrote a kustomize base to \(kustomize.path) (it holds the token: keep it out of version control); apply it with: kubectl apply -k \(kustomize.path)")
        } else {
            output(manifests.text)
        }
        for line in notes(manifests) { note(line) }
    }

    /// What the rendered objects assume of the cluster.
    static func notes(_ manifests: KubernetesManifests) -> [String] {
        var notes: [String] = []
        if manifests.options.image == nil {
            notes.append("the pod uses \(manifests.image), the local tag of builder build, and never pulls it (imagePullPolicy: Never; a registry could serve another image under that name): load it into the nodes, or push it to a registry the cluster reaches and pass --image REGISTRY/NAME@sha256:DIGEST")
        }
        switch manifests.spec.containerRuntime {
        case .runsc:
            notes.append("the pod runs under RuntimeClass \(KubernetesManifests.runtimeClassName) (handler runsc): the nodes' container runtime must have gVisor configured")
        case .auto:
            notes.append("MCP_CONTAINER_RUNTIME=auto: the pod uses the cluster's default runtime; set MCP_CONTAINER_RUNTIME=runsc for gVisor")
        case .runc:
            break
        }
        if manifests.pod.frontPort != nil {
            notes.append("only namespaces or pods labelled \(KubernetesNetworkPolicy.frontLabel)=true reach the front port (e.g. kubectl label namespace ingress-nginx \(KubernetesNetworkPolicy.frontLabel)=true)")
        }
        return notes
    }

    private static func read(_ path: String, setting: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "\(setting): cannot read \(path); the Kubernetes Secret is made from its PEM content")
        }
        return text
    }
}
