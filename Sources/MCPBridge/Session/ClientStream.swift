import NIOCore
import Synchronization

/// One open response stream towards a client: the SSE body of a POST or GET on `/mcp`,
/// a JSON-mode POST waiting for its responses, or the single legacy `/sse` stream.
public final class ClientStream: Sendable {
    public enum Kind: Sendable, Equatable {
        /// SSE response to a POST: carries that POST's responses and related messages.
        case requestSSE
        /// JSON response to a POST: carries only that POST's responses.
        case requestJSON
        /// The optional standalone GET stream of a Streamable HTTP session.
        case standalone
        /// The one stream of a legacy HTTP+SSE session.
        case legacy
    }

    public enum Event: Sendable, Equatable {
        /// A JSON-RPC message; `endsStream` marks the last answer a POST stream waits for.
        case message(ByteBuffer, endsStream: Bool = false)
    }

    private static let counter = Atomic<Int>(0)

    public let id: Int
    public let kind: Kind
    public let queue: BoundedQueue
    private let detached = Atomic<Bool>(false)

    /// True exactly once: the first caller detaches the stream from its session.
    func claimDetach() -> Bool {
        detached.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    public init(kind: Kind, bufferBytes: Int) {
        self.id = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        self.kind = kind
        self.queue = BoundedQueue(byteLimit: bufferBytes)
    }
}
