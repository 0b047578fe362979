import Foundation
import Testing

@testable import FuzzTargets

/// Every seed input passes its target's checks in a normal build too, so a parser change that
/// breaks a property fails `swift test` before anyone fuzzes.
@Suite struct SeedCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus")

    @Test(arguments: FuzzTarget.allCases)
    func seedsPassTheirTarget(_ target: FuzzTarget) throws {
        let folder = Self.corpus.appendingPathComponent(target.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(names.count >= 5, "a seed corpus of a few inputs at least")
        for name in names {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            data.withUnsafeBytes { target.run($0) }
        }
    }

    @Test func numbersBeyondDoubleAreRecognised() {
        #expect(Array(#"{"a":-9e0701482}"#.utf8).withUnsafeBytes(FuzzTarget.hasNumberBeyondDouble))
        #expect(Array(("[" + String(repeating: "9", count: 320) + "]").utf8).withUnsafeBytes(FuzzTarget.hasNumberBeyondDouble))
        #expect(Array(#"{"a":1.5e300}"#.utf8).withUnsafeBytes(FuzzTarget.hasNumberBeyondDouble))
        #expect(!Array(#"{"e":"e999","a":2e-30}"#.utf8).withUnsafeBytes(FuzzTarget.hasNumberBeyondDouble))
        #expect(!Array(#"{"a":1.5e30,"b":123456789}"#.utf8).withUnsafeBytes(FuzzTarget.hasNumberBeyondDouble))
    }

    @Test func theSurrogateCheckFindsOnlySurrogateEscapes() {
        #expect(Array(#"{"a":"\ud83d"}"#.utf8).withUnsafeBytes(FuzzTarget.hasSurrogateEscape))
        #expect(Array(#"{"a":"\uDFFF"}"#.utf8).withUnsafeBytes(FuzzTarget.hasSurrogateEscape))
        #expect(!Array(#"{"a":"\u00e9\ud7ff\ue000"}"#.utf8).withUnsafeBytes(FuzzTarget.hasSurrogateEscape))
    }
}
