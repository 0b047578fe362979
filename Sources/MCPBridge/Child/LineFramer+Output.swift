import Logging
import NIOCore
import Subprocess

extension LineFramer {
    /// Reads a child's output to its end and hands each frame to `body`, in order. `body` is
    /// awaited before more is read, so a slow consumer slows the child instead of buffering.
    static func forEachFrame(
        of output: SubprocessOutputSequence, limit: Int, logger: Logger, _ body: (Frame) async -> Void
    ) async {
        var framer = LineFramer(maximumLineBytes: limit)
        var frames: [Frame] = []
        do {
            for try await chunk in output {
                chunk.withUnsafeBytes { framer.append($0, into: &frames) }
                for frame in frames { await body(frame) }
                frames.removeAll(keepingCapacity: true)
            }
        } catch {
            logger.debug("child output read failed", metadata: ["error": "\(error)"])
        }
        framer.finish(into: &frames)
        for frame in frames { await body(frame) }
    }

}

extension LineFramer.Frame {
    /// A frame as log text: the line, or the start of an oversized one.
    var logText: String {
        switch self {
        case .line(let line): return String(buffer: line)
        case .oversized(let prefix, let length): return "\(String(buffer: prefix))… (\(length) bytes)"
        }
    }
}
