import Foundation

/// What the service remembers of one deployment (one row of the state database). The token
/// is kept only as its SHA-256; the server's environment values never reach this record.
struct DeploymentRecord: Codable, Sendable, Equatable {
    enum State: String, Codable, Sendable, CaseIterable {
        case creating, running, stopped, starting, stopping, failed, deleting
    }

    enum Source: String, Codable, Sendable {
        case settings, image
    }

    var name: String
    /// The `MCP_NAME` of its docker objects: the service's id prefix and the name, so two
    /// services (or a `builder start` of the same name) never share a container.
    var dockerName: String
    var state: State
    var phase: String?
    var message: String?
    var source: Source
    /// The image the deployment runs (built by the service).
    var imageTag: String
    /// The image it was built from, for `image` deployments.
    var sourceImage: String?
    var runtime: String?
    var tokenHash: [UInt8]
    var createdAt: Date
    var lastActivityAt: Date?
    var timers: DeploymentTimers
    var memory: String
    var cpus: String
    var pids: Int
    var wakeCount: Int = 0
    var lastWakeMilliseconds: Int?
    /// The published port on 127.0.0.1, read after every start (docker picks it).
    var port: Int?

    var deleteAt: Date? { timers.deleteAfter.map { createdAt.addingTimeInterval(TimeInterval($0)) } }

    /// The moment the idle clock started: the last front-door request, or creation.
    var idleSince: Date { lastActivityAt ?? createdAt }
}
