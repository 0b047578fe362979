#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import MCPBridge

/// `ChildStdin` on a real pipe: the test reads the other end as the child would.
@Suite struct ChildStdinTests {
    /// A pipe whose write end is a NIO channel and whose read end the test reads without blocking.
    private struct Pipe {
        let channel: any Channel
        let readFD: CInt

        init(capacity: CInt? = nil) async throws {
            let pair = try PipePair.make()
            // F_SETPIPE_SZ (1031; Glibc's module does not export it): a small pipe fills quickly.
            if let capacity { _ = fcntl(pair.write, 1031, capacity) }
            _ = fcntl(pair.read, F_SETFL, fcntl(pair.read, F_GETFL) | O_NONBLOCK)
            channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .takingOwnershipOfDescriptor(output: pair.write).get()
            readFD = pair.read
        }

        /// Reads until `count` bytes or end of file, or until `timeout` passes.
        func read(upTo count: Int = .max, timeout: Duration = .seconds(10)) async throws -> (bytes: [UInt8], ended: Bool) {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            let deadline = ContinuousClock.now + timeout
            while bytes.count < count, ContinuousClock.now < deadline {
                let got = chunk.withUnsafeMutableBytes { Glibc.read(readFD, $0.baseAddress, min($0.count, count - bytes.count)) }
                if got == 0 { return (bytes, true) }
                if got > 0 { bytes += chunk[0..<got]; continue }
                try await Task.sleep(for: .milliseconds(5))
            }
            return (bytes, false)
        }
    }

    @Test func messagesSentBeforeAttachingAreWrittenFirstInOrderThenFinishEndsTheInput() async throws {
        let pipe = try await Pipe()
        defer { close(pipe.readFD) }
        let stdin = ChildStdin(byteLimit: 1 << 20)
        #expect(await stdin.send(ByteBuffer(string: "one")))
        #expect(await stdin.send(ByteBuffer(string: "two")))
        stdin.attach(pipe.channel)
        #expect(await stdin.send(ByteBuffer(string: "three")))
        stdin.finish()
        #expect(await stdin.send(ByteBuffer(string: "late")) == false, "nothing is admitted after finish")
        let (bytes, ended) = try await pipe.read()
        #expect(String(decoding: bytes, as: UTF8.self) == "one\ntwo\nthree\n")
        #expect(ended, "finish closes the pipe once everything admitted is written")
        stdin.close()
    }

    /// Messages up to `joinedLimit` are copied with their newline, longer ones written as they
    /// are and then the newline: either way each arrives whole, once, in order.
    @Test func messagesOnBothSidesOfTheJoinedLimitArriveWholeInOrder() async throws {
        let pipe = try await Pipe()
        defer { close(pipe.readFD) }
        let stdin = ChildStdin(byteLimit: 1 << 20)
        stdin.attach(pipe.channel)
        let sizes = [0, 1, ChildStdin.joinedLimit, ChildStdin.joinedLimit + 1, 3]
        var expected: [UInt8] = []
        for (index, size) in sizes.enumerated() {
            let message = [UInt8](repeating: UInt8(ascii: "a") + UInt8(index), count: size)
            #expect(await stdin.send(ByteBuffer(bytes: message)))
            expected += message + [UInt8(ascii: "\n")]
        }
        let (bytes, _) = try await pipe.read(upTo: expected.count)
        #expect(bytes == expected)
        stdin.close()
    }

    @Test func aSenderWaitsWhileThePipeIsBehindAndResumesWhenTheChildReads() async throws {
        let pipe = try await Pipe(capacity: 4096)
        defer { close(pipe.readFD) }
        let stdin = ChildStdin(byteLimit: 1000)
        stdin.attach(pipe.channel)
        let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 << 10)
        let returned = Atomic(false)
        let sender = Task {
            let accepted = await stdin.send(big)
            returned.store(true, ordering: .sequentiallyConsistent)
            return accepted
        }
        try await Task.sleep(for: .milliseconds(300))
        let returnedEarly = returned.load(ordering: .sequentiallyConsistent)
        #expect(!returnedEarly, "the pipe holds 4 KiB of 64 KiB: the sender waits")
        let (bytes, _) = try await pipe.read(upTo: big.readableBytes + 1)
        #expect(bytes.count == big.readableBytes + 1)
        #expect(await sender.value, "written in full: the sender is released with true")
        stdin.close()
    }

    /// A 4 KiB pipe nobody reads, and a 64 KiB message sent to it (the sender then waits).
    private func blockedSender() async throws -> (pipe: Pipe, stdin: ChildStdin, sender: Task<Bool, Never>) {
        let pipe = try await Pipe(capacity: 4096)
        let stdin = ChildStdin(byteLimit: 1000)
        stdin.attach(pipe.channel)
        let sender = Task { await stdin.send(ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 << 10)) }
        try await Task.sleep(for: .milliseconds(100))
        return (pipe, stdin, sender)
    }

    @Test func closingReleasesAWaitingSenderWithFalseAndRefusesMore() async throws {
        let (pipe, stdin, sender) = try await blockedSender()
        defer { close(pipe.readFD) }
        stdin.close()
        #expect(await sender.value == false)
        #expect(await stdin.send(ByteBuffer(string: "after")) == false)
        try await pipe.channel.closeFuture.get()
    }

    @Test func aWriteThatFailsClosesStdin() async throws {
        signal(SIGPIPE, SIG_IGN)  // as the bridge does: a gone reader is EPIPE, not a signal
        let pipe = try await Pipe()
        close(pipe.readFD)
        let stdin = ChildStdin(byteLimit: 1 << 20)
        stdin.attach(pipe.channel)
        var refused = false
        for _ in 0..<200 where !refused {
            refused = await stdin.send(ByteBuffer(string: "{}")) == false
            if !refused { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(refused, "after EPIPE, sends are refused instead of piling up")
        try await pipe.channel.closeFuture.get()
    }

    @Test func cancellingAWaitingSenderReleasesIt() async throws {
        let (pipe, stdin, sender) = try await blockedSender()
        defer { close(pipe.readFD) }
        sender.cancel()
        #expect(await sender.value == false)
        stdin.close()
    }
}
