import Foundation
import NIOCore

/// The legacy SSE transport's first event names the URL to POST messages to, as a path from
/// the bridge's root (`data: /message?sessionId=…`). Behind the front door that path lives
/// under `/d/{name}`, so the first event is rewritten; the rest of the stream passes untouched.
/// Bounded: a first event larger than 8 KiB is passed on as is.
struct EndpointEventRewriter {
    let prefix: String
    private var pending: [UInt8] = []
    private(set) var done = false
    static let limit = 8 * 1024

    init(prefix: String) { self.prefix = prefix }

    /// Output for this chunk (possibly empty while the first event is incomplete).
    mutating func feed(_ chunk: ByteBuffer) -> ByteBuffer {
        guard !done else { return chunk }
        pending += chunk.readableBytesView
        guard let end = Self.eventEnd(in: pending) else {
            if pending.count > Self.limit { return flush() }
            return ByteBuffer()
        }
        let event = String(decoding: pending[..<end], as: UTF8.self)
        let rest = pending[end...]
        var output = ByteBuffer(string: Self.rewrite(event, prefix: prefix))
        output.writeBytes(rest)
        pending = []
        done = true
        return output
    }

    /// Whatever is held back, unchanged (the stream ended or grew past the limit).
    mutating func flush() -> ByteBuffer {
        done = true
        defer { pending = [] }
        return ByteBuffer(bytes: pending)
    }

    /// The index just past the blank line that ends the first event.
    static func eventEnd(in bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\r"), bytes[index + 2] == UInt8(ascii: "\n") { return index + 3 }
            }
            index += 1
        }
        return nil
    }

    /// Rewrites `data: /…` of an `endpoint` event; any other event is returned unchanged.
    static func rewrite(_ event: String, prefix: String) -> String {
        // Split on LF as a scalar: as Characters, CR LF is one grapheme and would not split.
        let lines = event.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
        guard lines.contains(where: { ["event: endpoint", "event:endpoint"].contains($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            return event
        }
        return lines.map { line in
            for marker in ["data: /", "data:/"] where line.hasPrefix(marker) {
                return marker.dropLast() + prefix + line.dropFirst(marker.count - 1)
            }
            return line
        }.joined(separator: "\n")
    }
}
