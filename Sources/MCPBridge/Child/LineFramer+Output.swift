import Logging
import NIOCore
import Subprocess

extension LineFramer {
    /// Reads a child's output to its end and hands each frame to `body`, in order. `body` is
    /// awaited before more is read, so a slow consumer slows the child instead of buffering.
    static func forEachFrame<Chunks: AsyncSequence>(
        of output: Chunks, limit: Int, logger: Logger, _ body: (Frame) async -> Void
    ) async where Chunks.Element: ByteChunk {
        var framer = LineFramer(maximumLineBytes: limit)
        var frames: [Frame] = []
        do {
            for try await chunk in output {
                chunk.withChunkBytes { framer.append($0, into: &frames) }
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

/// A piece of a sidecar's output from swift-subprocess.
protocol ByteChunk {
    func withChunkBytes(_ body: (UnsafeRawBufferPointer) -> Void)
}

extension SubprocessOutputSequence.Buffer: ByteChunk {
    func withChunkBytes(_ body: (UnsafeRawBufferPointer) -> Void) { withUnsafeBytes(body) }
}

extension LineFramer.Frame {
    /// The frame's size in bytes (an oversized line's full length).
    var byteCount: Int {
        switch self {
        case .line(let line): return line.readableBytes
        case .oversized(_, let length): return length
        }
    }

    /// A frame as log text: the line, or the start of an oversized one.
    var logText: String {
        switch self {
        case .line(let line): return String(buffer: line)
        case .oversized(let prefix, let length): return "\(String(buffer: prefix))… (\(length) bytes)"
        }
    }
}
