#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOPosix

/// The local client's side: blocking reads of stdin and writes of stdout, each on a thread of
/// its own. Plain blocking I/O works for any descriptor the client hands over (pipes, files,
/// `/dev/null`, a terminal), which epoll-based NIO pipes do not; one thread per direction also
/// keeps writes in order and never lets two lines interleave.
final class StdioLink: Sendable {
    private let reader = NIOThreadPool(numberOfThreads: 1)
    private let writer = NIOThreadPool(numberOfThreads: 1)

    struct Closed: Error {}

    init() {
        reader.start()
        writer.start()
    }

    /// The next chunk of stdin, or nil at end of input.
    func read() async throws -> [UInt8]? {
        try await reader.runIfActive {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { systemRead(0, $0.baseAddress, $0.count) }
                if count > 0 { return Array(buffer[..<count]) }
                if count == 0 { return nil }
                if errno == EINTR { continue }
                return nil
            }
        }
    }

    /// Writes one message and a newline to stdout; throws `Closed` once the client stopped reading.
    func write(line: some Collection<UInt8> & Sendable) async throws {
        let bytes = Array(line) + [UInt8(ascii: "\n")]
        let written = try await writer.runIfActive { () -> Bool in
            var offset = 0
            while offset < bytes.count {
                let count = bytes.withUnsafeBytes { raw -> Int in
                    guard let base = raw.baseAddress else { return -1 }
                    return systemWrite(1, base + offset, raw.count - offset)
                }
                if count > 0 { offset += count; continue }
                if count < 0, errno == EINTR { continue }
                return false
            }
            return true
        }
        if !written { throw Closed() }
    }

    /// Waits for the writes already queued (the reader may sit in a blocking read forever).
    func flush() async {
        try? await writer.shutdownGracefully()
    }
}

#if canImport(Glibc)
private let systemRead = Glibc.read
private let systemWrite = Glibc.write
#elseif canImport(Musl)
private let systemRead = Musl.read
private let systemWrite = Musl.write
#endif
