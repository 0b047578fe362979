/// MCP_NETWORK as NetworkPolicies: clients reach the front port only from the labelled front
/// (an ingress controller's namespace, or a pod carrying the label); the pod's own traffic out
/// is none at all for `none` and `internal`, and for `isolated` anything but the cluster,
/// private and link-local ranges (the cloud metadata address 169.254.169.254 among them), plus
/// the cluster's DNS.
public enum KubernetesNetworkPolicy {
    /// The label that marks a namespace or pod allowed to reach deployments' front ports.
    public static let frontLabel = "mcp-sandbox.org/front"

    /// Private, shared, loopback, link-local, multicast and reserved IPv4 ranges; the cluster's
    /// pod and service ranges are private ones in every common setup.
    public static let blockedIPv4 = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
    ]
    /// Unique-local, link-local, loopback, IPv4-mapped and multicast IPv6 ranges.
    public static let blockedIPv6 = ["::1/128", "::ffff:0:0/96", "fc00::/7", "fe80::/10", "ff00::/8"]

    static func ingress(name: String, namespace: String, labels: YAMLValue, selector: YAMLValue, port: Int?) -> YAMLValue {
        var rules: [YAMLValue] = []
        if let port {
            let marked: YAMLValue = .mapping([("matchLabels", .mapping([(frontLabel, .string("true"))]))])
            rules.append(.mapping([
                ("from", .sequence([
                    .mapping([("namespaceSelector", marked)]),
                    .mapping([("podSelector", marked)]),
                ])),
                ("ports", .sequence([.mapping([("protocol", .string("TCP")), ("port", .integer(port))])])),
            ]))
        }
        return policy(name: name, namespace: namespace, labels: labels, selector: selector, type: "Ingress", rules: ("ingress", rules))
    }

    static func egress(name: String, namespace: String, labels: YAMLValue, selector: YAMLValue, network: DeploymentSpec.Network) -> YAMLValue {
        var rules: [YAMLValue] = []
        if network == .isolated {
            let dns: YAMLValue = .mapping([
                ("to", .sequence([.mapping([
                    ("namespaceSelector", .mapping([("matchLabels", .mapping([("kubernetes.io/metadata.name", .string("kube-system"))]))])),
                    ("podSelector", .mapping([("matchLabels", .mapping([("k8s-app", .string("kube-dns"))]))])),
                ])])),
                ("ports", .sequence(["UDP", "TCP"].map { .mapping([("protocol", .string($0)), ("port", .integer(53))]) })),
            ])
            func outside(_ cidr: String, except: [String]) -> YAMLValue {
                .mapping([("ipBlock", .mapping([("cidr", .string(cidr)), ("except", .sequence(except.map(YAMLValue.string)))]))])
            }
            rules = [dns, .mapping([("to", .sequence([outside("0.0.0.0/0", except: blockedIPv4), outside("::/0", except: blockedIPv6)]))])]
        }
        return policy(name: name, namespace: namespace, labels: labels, selector: selector, type: "Egress", rules: ("egress", rules))
    }

    private static func policy(name: String, namespace: String, labels: YAMLValue, selector: YAMLValue, type: String,
                               rules: (String, [YAMLValue])) -> YAMLValue {
        .mapping([
            ("apiVersion", .string("networking.k8s.io/v1")),
            ("kind", .string("NetworkPolicy")),
            ("metadata", .mapping([("name", .string(name)), ("namespace", .string(namespace)), ("labels", labels)])),
            ("spec", .mapping([
                ("podSelector", .mapping([("matchLabels", selector)])),
                ("policyTypes", .sequence([.string(type)])),
                // An empty list allows nothing in this direction.
                (rules.0, .sequence(rules.1)),
            ])),
        ])
    }
}
