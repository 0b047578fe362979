/// Detaches a stream from its session when released, or at the latest when dropped.
final class StreamLease: Sendable {
    let session: Session
    let stream: ClientStream

    init(session: Session, stream: ClientStream) {
        self.session = session
        self.stream = stream
    }

    func release() { session.detach(stream) }

    deinit { session.detach(stream) }
}
