import ArgumentParser
import Foundation
import SandboxBuilder

/// `builder print kubernetes`'s options: they only fill `KubernetesOptions`.
struct KubernetesArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Namespace of every object.", valueName: "name"))
    var namespace = "mcp-sandbox"

    @Flag(help: "Also render the Namespace (enforcing the restricted Pod Security Standard).")
    var createNamespace = false

    @Option(help: ArgumentHelp("The image as the cluster pulls it, ideally by digest (default: the tag builder build gives it locally).", valueName: "reference"))
    var image: String?

    @Option(help: ArgumentHelp("MCP_EXPOSE=nginx: render an Ingress for this host (SSE-safe ingress-nginx settings).", valueName: "host"))
    var ingressHost: String?

    @Option(help: ArgumentHelp("The Ingress's class.", valueName: "name"))
    var ingressClass = "nginx"

    @Option(help: ArgumentHelp("The TLS Secret the ingress controller serves (default: mcp-NAME-ingress-tls).", valueName: "name"))
    var ingressTLSSecret: String?

    @Option(help: ArgumentHelp("Write a kustomize base to this folder instead of printing.", valueName: "path"))
    var kustomize: String?

    @Flag(help: "With --kustomize, replace an existing folder.")
    var force = false

    /// The flags given, for refusing them where they mean nothing.
    var given: [String] {
        [("--namespace", namespace != "mcp-sandbox"), ("--create-namespace", createNamespace), ("--image", image != nil),
         ("--ingress-host", ingressHost != nil), ("--ingress-class", ingressClass != "nginx"),
         ("--ingress-tls-secret", ingressTLSSecret != nil), ("--kustomize", kustomize != nil), ("--force", force)]
            .filter(\.1).map(\.0)
    }

    func render(workspace: Workspace) throws {
        var options = KubernetesOptions()
        options.namespace = namespace
        options.createNamespace = createNamespace
        options.image = image
        options.ingressHost = ingressHost
        options.ingressClass = ingressClass
        options.ingressTLSSecret = ingressTLSSecret
        do {
            try KubernetesRendering.run(spec: workspace.spec, options: options, kustomize: kustomize.map { URL(fileURLWithPath: $0) },
                                        replacing: force, output: { print($0, terminator: "") },
                                        note: { FileHandle.standardError.write(Data(("builder: " + $0 + "\n").utf8)) })
        } catch let failure as KubernetesRendering.Failure {
            throw ValidationError(failure.description)
        }
    }
}
