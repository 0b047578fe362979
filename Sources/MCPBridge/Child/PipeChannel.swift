#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore
import NIOPosix

/// Both ends of a fresh pipe, close-on-exec (the child gets its end through swift-subprocess).
struct PipePair {
    let read: CInt
    let write: CInt

    struct Failure: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { String(cString: strerror(errno)) }
    }

    init() throws {
        var fds: [CInt] = [-1, -1]
        guard pipe(&fds) == 0 else { throw Failure(errno: errno) }
        // posix_spawn also closes every other descriptor in the child (CLOEXEC_DEFAULT).
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        read = fds[0]
        write = fds[1]
    }
}

/// One end of a child's pipe as an async NIO channel on the shared event loops.
typealias PipeChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

extension NIOAsyncChannel where Inbound == ByteBuffer, Outbound == ByteBuffer {
    static func reading(from fd: CInt) async throws -> PipeChannel {
        try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptor(input: fd) { channel in
                channel.eventLoop.makeCompletedFuture { try PipeChannel(wrappingChannelSynchronously: channel) }
            }
    }

    static func writing(to fd: CInt) async throws -> PipeChannel {
        try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptor(output: fd) { channel in
                channel.eventLoop.makeCompletedFuture { try PipeChannel(wrappingChannelSynchronously: channel) }
            }
    }
}

#if canImport(Glibc)
let systemClose = Glibc.close
#elseif canImport(Musl)
let systemClose = Musl.close
#endif
