import MCPBridge

/// The base URL put in responses (`endpoints`): `--public-url`, or the address the server is
/// bound to, known only once it listens (with `--port 0` the kernel picks the port).
final class PublicAddress: Sendable {
    private let value: Locked<String>

    init(_ initial: String) { value = Locked(initial) }

    var url: String { value.withLock { $0 } }

    func set(_ url: String) { value.withLock { $0 = url } }
}
