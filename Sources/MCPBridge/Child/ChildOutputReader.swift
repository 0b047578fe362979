import Logging
import NIOCore
import NIOPosix

/// Reads a child's stdout on the pipe's event loop and hands each frame, in order, to a
/// router that runs right there: a response reaches its client stream without a reader task in
/// between.
///
/// The router answers each frame with `nil` (routed, go on) or a wait (a client stream is over
/// its budget, or the routing has async work left). While a wait runs, the reader holds the
/// frames it has and stops asking the pipe for more, so a slow HTTP reader slows the child
/// instead of growing the bridge — the same backpressure the reader task applied by awaiting.
final class ChildOutputReader: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never

    /// Work a frame's routing left to finish before the next frame may be routed.
    typealias Wait = @Sendable () async -> Void
    typealias Router = @Sendable (LineFramer.Frame) -> Wait?

    private let router: Router
    private let logger: Logger
    private let ended: EventLoopPromise<Void>
    private var framer: LineFramer
    private var frames: [LineFramer.Frame] = []
    private var queued = CircularBuffer<LineFramer.Frame>()
    private var waiting = false
    private var readDeferred = false
    private var inputEnded = false
    private var removed = false
    private var abandoned = false
    private var waitTask: Task<Void, Never>?
    private var endSignalled = false
    /// Kept to ask for reads again after a wait; dropped with the handler.
    private var context: ChannelHandlerContext?

    private init(limit: Int, logger: Logger, ended: EventLoopPromise<Void>, router: @escaping Router) {
        self.framer = LineFramer(maximumLineBytes: limit)
        self.logger = logger
        self.ended = ended
        self.router = router
    }

    /// A reader attached to a pipe.
    struct Attached: Sendable {
        let channel: any Channel
        /// Succeeds once the output has ended (or the channel closed) and every frame read
        /// before has been routed, or the reader was abandoned.
        let ended: EventLoopFuture<Void>
        fileprivate let reader: NIOLoopBound<ChildOutputReader>

        /// Drops the frames held and cancels a running wait, then closes the pipe: for a
        /// session that is cancelled rather than drained.
        func abandon() {
            let reader = self.reader
            channel.eventLoop.execute { reader.value.abandon() }
            channel.close(promise: nil)
        }
    }

    /// Attaches a reader to the read end `fd` (NIO owns it from here on, even on failure).
    static func attach(to fd: CInt, limit: Int, on eventLoop: any EventLoop, logger: Logger, router: @escaping Router) async throws -> Attached {
        try await NIOPipeBootstrap(group: eventLoop)
            .takingOwnershipOfDescriptor(input: fd) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ended = channel.eventLoop.makePromise(of: Void.self)
                    let reader = ChildOutputReader(limit: limit, logger: logger, ended: ended, router: router)
                    try channel.pipeline.syncOperations.addHandler(reader)
                    return Attached(channel: channel, ended: ended.futureResult, reader: NIOLoopBound(reader, eventLoop: channel.eventLoop))
                }
            }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        unwrapInboundIn(data).withUnsafeReadableBytes { framer.append($0, into: &frames) }
        enqueueFrames()
        route(on: context.eventLoop)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inputEnded = true
        framer.finish(into: &frames)
        enqueueFrames()
        route(on: context.eventLoop)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("child output read failed", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    /// Reads only while no wait runs: this is the backpressure towards the child.
    func read(context: ChannelHandlerContext) {
        if waiting {
            readDeferred = true
        } else {
            context.read()
        }
    }

    /// The channel closed: frames still held are routed as their waits finish, then the end is
    /// signalled (the end is never signalled before the last frame is routed).
    func handlerRemoved(context: ChannelHandlerContext) {
        removed = true
        self.context = nil
        signalEndIfDone()
    }

    private func enqueueFrames() {
        queued.append(contentsOf: frames)
        frames.removeAll(keepingCapacity: true)
    }

    /// Routes queued frames until one asks to wait.
    private func route(on loop: any EventLoop) {
        while !waiting, !abandoned, let frame = queued.popFirst() {
            guard let wait = router(frame) else { continue }
            waiting = true
            let reader = NIOLoopBound(self, eventLoop: loop)
            waitTask = Task {
                await wait()
                loop.execute { reader.value.resumed(on: loop) }
            }
        }
        signalEndIfDone()
    }

    private func abandon() {
        abandoned = true
        queued.removeAll()
        frames.removeAll()
        waitTask?.cancel()
        signalEndIfDone()
    }

    private func resumed(on loop: any EventLoop) {
        waiting = false
        waitTask = nil
        route(on: loop)
        if !waiting, readDeferred, !removed, let context {
            readDeferred = false
            context.read()
        }
    }

    private func signalEndIfDone() {
        guard abandoned || (!waiting && queued.isEmpty && (inputEnded || removed)), !endSignalled else { return }
        endSignalled = true
        context = nil
        ended.succeed()
    }
}
