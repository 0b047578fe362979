/// Holds a front-door exchange with a deployment. If the framework drops the response without
/// running its body (the client left before the head was written), the exchange is cancelled
/// here, so its connection closes and the deployment's request count still returns to zero.
final class UpstreamLease: Sendable {
    private let task: Task<Void, Never>

    init(_ task: Task<Void, Never>) { self.task = task }

    func cancel() { task.cancel() }

    deinit { task.cancel() }
}
