#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import Testing

@testable import MCPBridge

@Suite struct ConnectionLimitTests {
    @Test func theCapFitsTheDescriptorLimitButNeverExceedsWhatWasAsked() {
        #expect(DescriptorBudget.fittedCap(4, available: 10_000) == 4)
        #expect(DescriptorBudget.fittedCap(1024, available: 500) == 500)
        #expect(DescriptorBudget.fittedCap(1024, available: -300) == 16)
        #expect(DescriptorBudget.fittedCap(8, available: -300) == 8)
    }

    @Test func aLimitThatBitesOftenIsLoggedOncePerWindowWithACountOfTheRest() {
        let lines = CapturedLines()
        let logger = Logger(label: "test") { _ in CapturingHandler(lines: lines) }
        let report = LimitReport(logger: logger, interval: .seconds(10))
        let start = ContinuousClock.now
        for step in 0..<100 {
            report.hit(.headerTimeout, "slow client", now: start + .milliseconds(step))
        }
        report.hit(.bodyTimeout, "slow body", now: start)
        #expect(lines.all.map(\.message) == ["slow client", "slow body"])
        report.hit(.headerTimeout, "slow client again", now: start + .seconds(11))
        let last = lines.all.last
        #expect(last?.message == "slow client again")
        #expect(last?.metadata["also_since_last_line"] == "99")
        #expect(last?.metadata["limit"] == "header_timeout")
    }
}

final class CapturedLines: Sendable {
    struct Line: Sendable {
        var message: String
        var metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])
    var all: [Line] { lines.withLock { $0 } }
    func append(_ line: Line) { lines.withLock { $0.append(line) } }
}

struct CapturingHandler: LogHandler {
    let lines: CapturedLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        lines.append(.init(message: event.message.description, metadata: merged.mapValues { "\($0)" }))
    }
}

@Suite struct PipeSetupTests {
    struct Exhausted: Error {}

    @Test func aPipeThatCannotBeMadeClosesThoseAlreadyMade() {
        var next: CInt = 100
        var closed: [CInt] = []
        #expect(throws: Exhausted.self) {
            _ = try PipePair.triple(making: {
                guard next < 104 else { throw Exhausted() }
                defer { next += 2 }
                return PipePair(read: next, write: next + 1)
            }, closing: { closed.append($0) })
        }
        #expect(closed.sorted() == [100, 101, 102, 103])
    }

    @Test func descriptorsHandedToNIOAreNeverClosedByTheBridge() throws {
        let pair = try PipePair.make()
        let owned = OwnedDescriptors([pair.read, pair.write])
        owned.handOver(pair.read)
        owned.closeRemaining()
        owned.closeRemaining()
        // The handed-over end is still open (ours to close here); the other was closed once.
        #expect(fcntl(pair.read, F_GETFD) != -1)
        #expect(systemClose(pair.read) == 0)
    }
}
