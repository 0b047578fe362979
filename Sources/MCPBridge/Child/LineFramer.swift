#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Splits a byte stream into newline-delimited frames under a size limit.
///
/// Framing happens on bytes, so a UTF-8 character split across reads is never corrupted
/// (`\n` cannot occur inside a multi-byte sequence). Each byte is looked at once; a line
/// longer than the limit is dropped as it streams past, keeping only a short prefix so the
/// caller can still tell which request it answered.
public struct LineFramer: Sendable {
    public enum Frame: Sendable, Equatable {
        /// One complete line without its terminator (and without a trailing `\r`).
        case line(ByteBuffer)
        /// A line that exceeded the limit: its first bytes and its full length.
        case oversized(prefix: ByteBuffer, length: Int)
    }

    /// How much of an oversized line is kept for diagnostics and id recovery.
    public static let oversizedPrefixBytes = 4096

    public let maximumLineBytes: Int
    private var pending: ByteBuffer
    private var discarded: (prefix: ByteBuffer, length: Int)?

    public init(maximumLineBytes: Int) {
        self.maximumLineBytes = maximumLineBytes
        self.pending = ByteBuffer()
    }

    /// Consumes `chunk`, appending every frame it completes to `frames`.
    public mutating func append(_ chunk: UnsafeRawBufferPointer, into frames: inout [Frame]) {
        guard let base = chunk.baseAddress else { return }
        var start = 0
        while start < chunk.count {
            let remaining = chunk.count - start
            let found = memchr(base + start, 0x0A, remaining)
            let end = found.map { UnsafeRawPointer($0) - base } ?? chunk.count
            let segment = UnsafeRawBufferPointer(start: base + start, count: end - start)
            if found != nil {
                complete(with: segment, into: &frames)
                start = end + 1
            } else {
                accumulate(segment)
                start = chunk.count
            }
        }
    }

    /// Emits a final unterminated line, if any, at end of stream.
    public mutating func finish(into frames: inout [Frame]) {
        complete(with: UnsafeRawBufferPointer(start: nil, count: 0), into: &frames)
    }

    private mutating func accumulate(_ segment: UnsafeRawBufferPointer) {
        if discarded != nil {
            extendDiscarded(with: segment)
        } else if pending.readableBytes + segment.count > maximumLineBytes {
            startDiscarding(with: segment)
        } else {
            pending.writeBytes(segment)
        }
    }

    private mutating func complete(with segment: UnsafeRawBufferPointer, into frames: inout [Frame]) {
        if discarded != nil {
            extendDiscarded(with: segment)
            if let dropped = discarded { frames.append(.oversized(prefix: dropped.prefix, length: dropped.length)) }
            discarded = nil
            return
        }
        if pending.readableBytes + segment.count > maximumLineBytes {
            startDiscarding(with: segment)
            if let dropped = discarded {
                frames.append(.oversized(prefix: dropped.prefix, length: dropped.length))
            }
            discarded = nil
            return
        }
        var line: ByteBuffer
        if pending.readableBytes == 0 {
            line = ByteBuffer(bytes: segment)
        } else {
            pending.writeBytes(segment)
            line = pending
            pending = ByteBuffer()
        }
        if line.readableBytesView.last == UInt8(ascii: "\r") {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        if line.readableBytesView.contains(where: { $0 != 0x20 && $0 != 0x09 }) {
            frames.append(.line(line))
        }
    }

    /// Counts more bytes of the line being dropped, keeping its first bytes for the prefix.
    private mutating func extendDiscarded(with segment: UnsafeRawBufferPointer) {
        guard var dropped = discarded else { return }
        let room = Self.oversizedPrefixBytes - dropped.prefix.readableBytes
        if room > 0 { dropped.prefix.writeBytes(UnsafeRawBufferPointer(rebasing: segment.prefix(room))) }
        dropped.length += segment.count
        discarded = dropped
    }

    private mutating func startDiscarding(with segment: UnsafeRawBufferPointer) {
        var prefix = pending.getSlice(at: pending.readerIndex, length: min(pending.readableBytes, Self.oversizedPrefixBytes)) ?? ByteBuffer()
        let room = Self.oversizedPrefixBytes - prefix.readableBytes
        if room > 0 {
            prefix.writeBytes(UnsafeRawBufferPointer(rebasing: segment.prefix(room)))
        }
        discarded = (prefix, pending.readableBytes + segment.count)
        pending = ByteBuffer()
    }
}
