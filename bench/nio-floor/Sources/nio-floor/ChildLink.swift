import NIOCore
import NIOHTTP1

/// The child's side: requests go out as lines in arrival order, and the child (bench/echo_server)
/// answers in that order, so the first waiting request owns each line it writes.
/// Touched on the one event loop only (the server's and the pipe's channels share it).
final class ChildLink: @unchecked Sendable {
    var pipe: (any Channel)?
    var waiting = CircularBuffer<ChannelHandlerContext>()
    var waitingTasks = CircularBuffer<CheckedContinuation<ByteBuffer, Never>>()

    /// `task` mode: the request waits for its line in a task on the loop, as the bridge's do.
    func sendAwaiting(_ body: ByteBuffer) async -> ByteBuffer {
        await withCheckedContinuation { continuation in
            waitingTasks.append(continuation)
            var line = body
            line.writeInteger(UInt8(ascii: "\n"))
            pipe?.writeAndFlush(line, promise: nil)
        }
    }

    func send(_ body: ByteBuffer, for context: ChannelHandlerContext) {
        guard let pipe else { return }
        waiting.append(context)
        var line = body
        line.writeInteger(UInt8(ascii: "\n"))
        pipe.writeAndFlush(line, promise: nil)
    }

    func received(_ line: ByteBuffer) {
        if let continuation = waitingTasks.popFirst() {
            continuation.resume(returning: line)
            return
        }
        guard let context = waiting.popFirst() else { return }
        Answer.write(line, to: context)
    }
}
