
/// The bridge's ends of a child's pipes that it still has to close itself: each leaves this
/// set when a NIO channel takes it over, so an error path never closes a descriptor NIO owns
/// (whose number may already belong to someone else).
final class OwnedDescriptors: Sendable {
    private let descriptors: Locked<Set<CInt>>

    init(_ descriptors: [CInt]) {
        self.descriptors = Locked(Set(descriptors))
    }

    /// Marks `fd` as owned by a channel from now on.
    func handOver(_ fd: CInt) {
        _ = descriptors.withLock { $0.remove(fd) }
    }

    /// Closes what nobody else took, once.
    func closeRemaining() {
        for fd in descriptors.withLock({ set in defer { set.removeAll() }; return set }) { _ = systemClose(fd) }
    }
}
