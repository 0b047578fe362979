import NIOCore
import Testing

@testable import MCPBridge

@Suite struct LineFramerTests {
    private func frames(_ chunks: [[UInt8]], limit: Int = 1024, finish: Bool = false) -> [LineFramer.Frame] {
        var framer = LineFramer(maximumLineBytes: limit)
        var out: [LineFramer.Frame] = []
        for chunk in chunks { chunk.withUnsafeBytes { framer.append($0, into: &out) } }
        if finish { framer.finish(into: &out) }
        return out
    }

    private func lines(_ frames: [LineFramer.Frame]) -> [String] {
        frames.compactMap { if case .line(let buffer) = $0 { return String(buffer: buffer) } else { return nil } }
    }

    @Test func splitsOnNewlinesAcrossArbitraryChunkBoundaries() {
        let text = Array("{\"a\":1}\n{\"b\":2}\r\n\n   \n{\"c\":3}\n".utf8)
        for cut in 0...text.count {
            let result = lines(frames([Array(text[..<cut]), Array(text[cut...])]))
            #expect(result == ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"], "cut at \(cut)")
        }
    }

    @Test func multiByteCharactersSplitAcrossReadsSurviveIntact() {
        let text = Array("{\"t\":\"héllo 😀 ✓\"}\n".utf8)
        let oneByteChunks = text.map { [$0] }
        #expect(lines(frames(oneByteChunks)) == ["{\"t\":\"héllo 😀 ✓\"}"])
    }

    @Test func finalUnterminatedLineIsEmittedAtEndOfStream() {
        #expect(lines(frames([Array("{\"a\":1}\n{\"tail\":true}".utf8)], finish: true)) == ["{\"a\":1}", "{\"tail\":true}"])
        #expect(lines(frames([Array("{\"tail\":true}".utf8)], finish: false)).isEmpty)
    }

    @Test func oversizedLineIsDroppedWithItsPrefixAndLengthAndFramingRecovers() {
        let huge = Array(repeating: UInt8(ascii: "x"), count: 10_000)
        let result = frames([Array("ok1\n".utf8), Array(huge.prefix(3000)), Array(huge.dropFirst(3000)) + Array("\nok2\n".utf8)], limit: 1024)
        #expect(result.count == 3)
        #expect(lines(result) == ["ok1", "ok2"])
        guard case .oversized(let prefix, let length) = result[1] else {
            Issue.record("expected an oversized frame")
            return
        }
        #expect(length == 10_000)
        #expect(prefix.readableBytes == LineFramer.oversizedPrefixBytes)
    }

    @Test func aLineExactlyAtTheLimitIsKept() {
        let line = String(repeating: "y", count: 64)
        #expect(lines(frames([Array((line + "\n").utf8)], limit: 64)) == [line])
        #expect(lines(frames([Array((line + "y\n").utf8)], limit: 64)).isEmpty)
    }
}
