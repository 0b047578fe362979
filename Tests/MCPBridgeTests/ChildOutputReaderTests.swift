#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import MCPBridge

/// `ChildOutputReader` on a real pipe: the test writes the child's end.
@Suite struct ChildOutputReaderTests {
    /// What the router saw, and a gate its waits can be held at.
    private final class Recorder: Sendable {
        private let lines = Mutex<[String]>([])
        let gate = Latch()
        private let holdAt: Set<String>

        init(holdAt: Set<String> = []) {
            self.holdAt = holdAt
        }

        var seen: [String] { lines.withLock { $0 } }

        func route(_ frame: LineFramer.Frame) -> ChildOutputReader.Wait? {
            let text: String
            switch frame {
            case .line(let line): text = String(buffer: line)
            case .oversized(_, let length): text = "oversized \(length)"
            }
            lines.withLock { $0.append(text) }
            guard holdAt.contains(text) else { return nil }
            return { await self.gate.wait() }
        }
    }

    private func attach(_ recorder: Recorder, limit: Int = 1 << 20) async throws -> (ChildOutputReader.Attached, writeFD: CInt) {
        let pair = try PipePair.make()
        let attached = try await ChildOutputReader.attach(to: pair.read, limit: limit, on: MultiThreadedEventLoopGroup.singleton.any(), logger: Logger(label: "test"),
                                                         router: { recorder.route($0) })
        return (attached, pair.write)
    }

    private func write(_ fd: CInt, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let wrote = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            precondition(wrote > 0, "pipe write failed")
            offset += wrote
        }
    }

    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func framesAcrossChunksAreRoutedInOrderAndTheEndComesAfterTheLastOne() async throws {
        let recorder = Recorder()
        let (reader, fd) = try await attach(recorder, limit: 10)
        write(fd, "one\ntw")
        try await waitUntil { recorder.seen.count == 1 }
        write(fd, "o\n" + String(repeating: "x", count: 25) + "\nlast")
        close(fd)
        try await reader.ended.get()
        #expect(recorder.seen == ["one", "two", "oversized 25", "last"])
    }

    @Test func aWaitStopsTheReadingUntilItReturnsAndNothingIsLostOrReordered() async throws {
        let recorder = Recorder(holdAt: ["first"])
        let (reader, fd) = try await attach(recorder)
        _ = fcntl(fd, 1031, 4096)  // F_SETPIPE_SZ: a small pipe fills quickly
        write(fd, "first\n")
        try await waitUntil { recorder.seen == ["first"] }
        // While the wait runs nothing is read: the child's writes fill the pipe, and it stays
        // full (a reader that went on reading would have drained it within the pause below).
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var index = 0
        func writeNextLine() -> Bool {
            let line = Array("line \(index)\n".utf8)
            let wrote = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard wrote > 0 else { return false }
            index += 1
            return true
        }
        while writeNextLine(), index < 100_000 {}
        try await Task.sleep(for: .milliseconds(200))
        let stillFull = !writeNextLine() && !writeNextLine()
        #expect(stillFull, "the pipe drained while a wait ran: the reader went on reading")
        #expect(recorder.seen == ["first"], "nothing is routed while the wait runs")
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        recorder.gate.open()
        write(fd, "after\n")
        close(fd)
        try await reader.ended.get()
        #expect(recorder.seen == ["first"] + (0..<index).map { "line \($0)" } + ["after"])
    }

    @Test func outputThatEndsDuringAWaitEndsOnlyAfterTheHeldFramesAreRouted() async throws {
        let recorder = Recorder(holdAt: ["first"])
        let (reader, fd) = try await attach(recorder)
        write(fd, "first\nsecond\nthird\n")
        close(fd)
        let endedEarly = Atomic(false)
        reader.ended.whenComplete { _ in endedEarly.store(true, ordering: .sequentiallyConsistent) }
        try await waitUntil { recorder.seen == ["first"] }
        try await Task.sleep(for: .milliseconds(100))
        let ended = endedEarly.load(ordering: .sequentiallyConsistent)
        #expect(!ended, "frames are still held: the end must not be signalled yet")
        recorder.gate.open()
        try await reader.ended.get()
        #expect(recorder.seen == ["first", "second", "third"])
    }

    @Test func abandoningDropsTheHeldFramesAndEndsAtOnce() async throws {
        let recorder = Recorder(holdAt: ["first"])
        let (reader, fd) = try await attach(recorder)
        defer { close(fd) }
        write(fd, "first\nsecond\n")
        try await waitUntil { recorder.seen == ["first"] }
        reader.abandon()
        try await reader.ended.get()
        #expect(recorder.seen == ["first"])
        try await reader.channel.closeFuture.get()
    }
}
