#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore

/// A client message made safe for a stdio line: JSON allows CR and LF only as whitespace
/// between tokens, so removing them never changes the message.
enum StdioLine {
    /// The message at `bytes`, which are `buffer`'s readable bytes from `offset` on, as a stdio
    /// line. A message with no CR or LF (what JSON encoders write) is `buffer`'s own bytes, not
    /// a copy: copying every message cost ~1,700 instructions a call, two `memchr`s ~100.
    static func line(_ bytes: UnsafeRawBufferPointer, of buffer: ByteBuffer, at offset: Int) -> ByteBuffer {
        guard !holdsLineBreak(bytes), let slice = buffer.getSlice(at: buffer.readerIndex + offset, length: bytes.count) else {
            return compact(bytes)
        }
        return slice
    }

    static func holdsLineBreak(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        return memchr(base, 0x0A, bytes.count) != nil || memchr(base, 0x0D, bytes.count) != nil
    }

    /// A copy of `bytes` without their CRs and LFs.
    static func compact(_ bytes: UnsafeRawBufferPointer) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count)
        var start = 0
        for index in 0..<bytes.count where bytes[index] == 0x0A || bytes[index] == 0x0D {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
            start = index + 1
        }
        out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[start..<bytes.count]))
        return out
    }
}
