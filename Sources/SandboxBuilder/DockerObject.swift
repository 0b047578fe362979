import Foundation

/// What `docker inspect` says of one container, network or volume, read from its JSON (a Go
/// template fails on missing fields, e.g. `.State.Health` of a container that never started).
public struct DockerObject: Sendable {
    public enum Kind: String, Sendable {
        case container, network, volume
    }

    public let kind: Kind
    public let name: String
    public let labels: [String: String]
    /// Container only.
    public let status: String?
    public let health: String?
    public let startedAt: String?
    public let runtime: String?

    public init?(kind: Kind, name: String, json: String) {
        guard let list = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]],
              let object = list.first else { return nil }
        self.kind = kind
        self.name = name
        let config = object["Config"] as? [String: Any]
        labels = ((kind == .container ? config?["Labels"] : object["Labels"]) as? [String: String]) ?? [:]
        let state = object["State"] as? [String: Any]
        status = state?["Status"] as? String
        health = (state?["Health"] as? [String: Any])?["Status"] as? String
        startedAt = state?["StartedAt"] as? String
        runtime = (object["HostConfig"] as? [String: Any])?["Runtime"] as? String
    }

    /// Made by mcp-sandbox for this deployment (so ours to replace or remove).
    public func belongs(to deployment: String) -> Bool {
        labels["org.mcp-sandbox.managed"] == "true" && labels["org.mcp-sandbox.deployment"] == deployment
    }
}
