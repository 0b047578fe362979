/// Docker's limits as Kubernetes resource quantities.
public enum KubernetesQuantity {
    /// `512m` → `512Mi`, `1g` → `1Gi`, `65536` or `65536b` → `65536` (docker's units are binary).
    public static func memory(_ docker: String) -> String {
        let lowered = docker.lowercased()
        switch lowered.last {
        case "k": return lowered.dropLast() + "Ki"
        case "m": return lowered.dropLast() + "Mi"
        case "g": return lowered.dropLast() + "Gi"
        case "b": return String(lowered.dropLast())
        default: return lowered
        }
    }

    /// `1.0` → `1000m`, `0.25` → `250m` (at least `1m`, the smallest quantity a pod takes).
    public static func cpu(_ docker: String) -> String {
        let millicores = ((Double(docker) ?? 1) * 1000).rounded()
        return "\(max(1, Int(millicores)))m"
    }
}
