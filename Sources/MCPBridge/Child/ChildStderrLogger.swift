import Logging
import NIOCore
import NIOPosix

/// Logs a child's stderr line by line, rate-limited, on the pipe's event loop: the child is
/// untrusted and its stderr lands in the bridge log. A handler rather than a task reading an
/// async sequence, because stderr needs no backpressure towards anyone (what is over budget is
/// counted and dropped), and a task per session cost memory every idle session kept.
final class ChildStderrLogger: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    static let maximumLineBytes = 16 << 10

    private let logger: Logger
    private var framer = LineFramer(maximumLineBytes: ChildStderrLogger.maximumLineBytes)
    private var budget = LogBudget()
    private var frames: [LineFramer.Frame] = []

    init(logger: Logger) {
        self.logger = logger
    }

    /// Attaches a handler to the read end `fd` (NIO owns it from here on, even on failure);
    /// the returned channel closes when the child's side does.
    static func attach(to fd: CInt, on eventLoop: any EventLoop, logger: Logger) async throws -> any Channel {
        try await NIOPipeBootstrap(group: eventLoop)
            .takingOwnershipOfDescriptor(input: fd) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ChildStderrLogger(logger: logger))
                    return channel
                }
            }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = unwrapInboundIn(data)
        chunk.withUnsafeReadableBytes { framer.append($0, into: &frames) }
        logFrames()
    }

    func channelInactive(context: ChannelHandlerContext) {
        framer.finish(into: &frames)
        logFrames()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("child stderr read failed", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func logFrames() {
        for frame in frames {
            switch budget.admit(frame.byteCount) {
            case .drop:
                break
            case .log(let lines, let bytes):
                if lines > 0 {
                    logger.warning("child stderr over the log budget; lines dropped", metadata: ["lines": "\(lines)", "bytes": "\(bytes)"])
                }
                logger.info("child stderr", metadata: ["line": "\(frame.logText)"])
            }
        }
        frames.removeAll(keepingCapacity: true)
    }
}
