import Synchronization

/// Runs its release action once: when released, or at the latest when dropped (a response the
/// body never ran still gives its stream back).
final class StreamLease: Sendable {
    private let action: @Sendable () -> Void
    private let released = Atomic<Bool>(false)

    init(_ action: @escaping @Sendable () -> Void) {
        self.action = action
    }

    func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        action()
    }

    deinit { release() }
}
