import NIOCore

/// Server-sent event framing for JSON-RPC messages.
public enum SSEEncoding {
    public static let keepAlive = ByteBuffer(string: ": ping\n\n")

    /// `event: message` with the JSON text as its data.
    ///
    /// A message line never holds LF (the framer splits on it) and JSON allows a raw CR only as
    /// whitespace between tokens, where SSE would read it as a line end: it is dropped. U+2028,
    /// U+2029 and U+0085 may appear raw inside strings and some SSE parsers split lines on them;
    /// they are rewritten as JSON escapes. Neither changes the decoded message.
    public static func messageEvent(_ json: ByteBuffer) -> ByteBuffer {
        let prefix = "event: message\ndata: "
        var out = ByteBuffer()
        out.reserveCapacity(prefix.utf8.count + json.readableBytes + 2)
        out.writeString(prefix)
        if json.readableBytesView.contains(0x0D) {
            // CRs go first: dropping one between the bytes of a separator would otherwise
            // assemble a raw U+2028 that the escaping below had already passed (found by fuzzing).
            let withoutCR = ByteBuffer(bytes: json.readableBytesView.lazy.filter { $0 != 0x0D })
            withoutCR.withUnsafeReadableBytes { writeEscapingSeparators($0, into: &out) }
        } else {
            json.withUnsafeReadableBytes { writeEscapingSeparators($0, into: &out) }
        }
        out.writeString("\n\n")
        return out
    }

    /// Copies `bytes`, rewriting raw U+2028, U+2029 and U+0085 as JSON escapes.
    private static func writeEscapingSeparators(_ bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        var start = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0xE2, index + 2 < bytes.count, bytes[index + 1] == 0x80, bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9 {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
                out.writeString(bytes[index + 2] == 0xA8 ? "\\u2028" : "\\u2029")
                index += 3
                start = index
            } else if byte == 0xC2, index + 1 < bytes.count, bytes[index + 1] == 0x85 {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
                out.writeString("\\u0085")
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[start..<bytes.count]))
    }

    public static func event(_ name: String, data: String) -> ByteBuffer {
        ByteBuffer(string: "event: \(name)\ndata: \(data)\n\n")
    }
}
