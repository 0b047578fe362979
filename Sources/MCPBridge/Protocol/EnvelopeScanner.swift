/// A single-pass JSON validator that also picks out the JSON-RPC envelope fields.
///
/// It validates the whole input (grammar, UTF-8, nesting depth) so nothing malformed is ever
/// forwarded, but materialises only the few strings routing needs.
public enum EnvelopeScanner {
    /// Deeper nesting than this is refused rather than risking the stack.
    public static let maximumDepth = 256

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(EnvelopeError) -> ParsedMessage {
        var cursor = Cursor(bytes)
        do throws(ScanError) {
            cursor.skipWhitespace()
            guard let first = cursor.peek() else { throw ScanError.invalid("empty body") }
            let parsed: ParsedMessage
            if first == UInt8(ascii: "[") {
                parsed = .batch(try cursor.batch())
            } else if first == UInt8(ascii: "{") {
                var fields = Fields()
                try cursor.messageObject(into: &fields)
                parsed = .single(try fields.envelope())
            } else {
                try cursor.value()
                throw ScanError.notJSONRPC("a JSON-RPC message must be an object")
            }
            cursor.skipWhitespace()
            guard cursor.atEnd else { throw ScanError.invalid("unexpected data after the JSON value") }
            return parsed
        } catch {
            throw error.asEnvelopeError
        }
    }

    public static func parse(_ bytes: [UInt8]) throws(EnvelopeError) -> ParsedMessage {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(EnvelopeError) -> ParsedMessage in try parse(raw) }
        }
        return try result.get()
    }

    /// `result.protocolVersion` of an initialize answer: nil for an error answer; `text` nil when
    /// the result names no version.
    public static func initializeResultVersion(_ bytes: UnsafeRawBufferPointer) -> (text: String?, version: ProtocolVersion?)? {
        var cursor = Cursor(bytes)
        var sawResult = false
        var text: String?
        do {
            try cursor.members { (cursor, key) throws(ScanError) in
                guard key == .result, cursor.peek() == UInt8(ascii: "{") else {
                    try cursor.value()
                    return
                }
                sawResult = true
                try cursor.members { (cursor, key) throws(ScanError) in
                    if key == .protocolVersion, cursor.peek() == UInt8(ascii: "\"") {
                        text = try cursor.stringValue()
                    } else {
                        try cursor.value()
                    }
                }
            }
        } catch {
            return nil
        }
        guard sawResult else { return nil }
        return (text, text.flatMap(ProtocolVersion.init(rawValue:)))
    }

    /// The `id` of a *response* of which only the first bytes are known (an oversized line),
    /// if its id and its `result`/`error` key appear before the cut and no `method` does. Used to
    /// answer the client's request instead of leaving it hanging; the id of a child's own request
    /// names nothing of the client's, so it is never used.
    public static func peekID(inPrefix bytes: UnsafeRawBufferPointer) -> JSONRPCID? {
        var cursor = Cursor(bytes)
        var fields = Fields()
        cursor.skipWhitespace()
        guard cursor.peek() == UInt8(ascii: "{") else { return nil }
        do { try cursor.messageObject(into: &fields) } catch {}
        guard fields.method == nil, fields.sawResult || fields.sawError else { return nil }
        return fields.id
    }
}

enum ScanError: Error {
    case truncated
    case invalid(String)
    case notJSONRPC(String)

    var asEnvelopeError: EnvelopeError {
        switch self {
        case .truncated: return .invalidJSON("unexpected end of input")
        case .invalid(let why): return .invalidJSON(why)
        case .notJSONRPC(let why): return .notJSONRPC(why)
        }
    }
}

/// Envelope fields collected while scanning one message object.
struct Fields {
    var jsonrpc: String?
    var sawID = false
    var id: JSONRPCID?
    var method: String?
    var sawResult = false
    var sawError = false
    var progressToken: JSONRPCID?
    var referencedRequestID: JSONRPCID?

    func envelope() throws(ScanError) -> Envelope {
        guard jsonrpc == "2.0" else { throw .notJSONRPC(#"missing or wrong "jsonrpc": "2.0""#) }
        if let method {
            guard !sawResult, !sawError else { throw .notJSONRPC("a message cannot have both method and result/error") }
            if sawID {
                guard let id else { throw .notJSONRPC("request id must be a string or a number") }
                return Envelope(kind: .request, id: id, method: method, progressToken: progressToken)
            }
            return Envelope(kind: .notification, method: method, progressToken: progressToken, referencedRequestID: referencedRequestID)
        }
        guard sawResult != sawError else { throw .notJSONRPC("a response needs exactly one of result or error") }
        guard sawID else { throw .notJSONRPC("a response needs an id") }
        guard id != nil || sawError else { throw .notJSONRPC("a result response needs a non-null id") }
        return Envelope(kind: .response, id: id)
    }
}

struct Cursor {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    var depth = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) throws(ScanError) {
        skipWhitespace()
        guard let next = peek() else { throw .truncated }
        guard next == byte else { throw .invalid("expected '\(Character(Unicode.Scalar(byte)))' at byte \(index)") }
        index += 1
    }

    // MARK: JSON-RPC structure

    mutating func batch() throws(ScanError) -> [ParsedMessage.BatchElement] {
        try expect(UInt8(ascii: "["))
        var elements: [ParsedMessage.BatchElement] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            throw .notJSONRPC("an empty batch is not a valid request")
        }
        while true {
            skipWhitespace()
            let start = index
            guard let next = peek() else { throw .truncated }
            guard next == UInt8(ascii: "{") else {
                try value()
                throw .notJSONRPC("every batch element must be an object")
            }
            var fields = Fields()
            try messageObject(into: &fields)
            elements.append(.init(range: start..<index, envelope: try fields.envelope()))
            skipWhitespace()
            guard let separator = peek() else { throw .truncated }
            index += 1
            if separator == UInt8(ascii: "]") { return elements }
            guard separator == UInt8(ascii: ",") else { throw .invalid("expected ',' or ']' at byte \(index - 1)") }
        }
    }

    mutating func messageObject(into fields: inout Fields) throws(ScanError) {
        try members { (cursor, key) throws(ScanError) in
            switch key {
            case .jsonrpc:
                fields.jsonrpc = try cursor.stringValue()
            case .id:
                fields.sawID = true
                fields.id = try cursor.idValue()
            case .method:
                guard cursor.peek() == UInt8(ascii: "\"") else {
                    try cursor.value()
                    throw .notJSONRPC("method must be a string")
                }
                fields.method = try cursor.stringValue()
            case .params:
                if cursor.peek() == UInt8(ascii: "{") {
                    try cursor.paramsObject(into: &fields)
                } else if cursor.peek() == UInt8(ascii: "[") {
                    try cursor.value()
                } else {
                    try cursor.value()
                    throw .notJSONRPC("params must be an object or an array")
                }
            case .result:
                fields.sawResult = true
                try cursor.value()
            case .error:
                fields.sawError = true
                guard cursor.peek() == UInt8(ascii: "{") else {
                    try cursor.value()
                    throw .notJSONRPC("error must be an object")
                }
                try cursor.value()
            default:
                try cursor.value()
            }
        }
    }

    mutating func paramsObject(into fields: inout Fields) throws(ScanError) {
        try members { (cursor, key) throws(ScanError) in
            switch key {
            case .meta where cursor.peek() == UInt8(ascii: "{"):
                try cursor.members { (cursor, key) throws(ScanError) in
                    if key == .progressToken {
                        fields.progressToken = try cursor.idValue()
                    } else {
                        try cursor.value()
                    }
                }
            case .progressToken:
                fields.progressToken = try cursor.idValue()
            case .requestId:
                fields.referencedRequestID = try cursor.idValue()
            default:
                try cursor.value()
            }
        }
    }

    /// Walks an object's members, handing each key to `body` with the cursor on its value.
    /// `body` must consume exactly that value. Without `keys`, keys are validated but handed
    /// over as `.other`: skipping a value's nested objects needs no key recognised.
    mutating func members(keys: Bool = true, _ body: (inout Cursor, MemberKey) throws(ScanError) -> Void) throws(ScanError) {
        try expect(UInt8(ascii: "{"))
        depth += 1
        guard depth <= EnvelopeScanner.maximumDepth else { throw .invalid("nesting deeper than \(EnvelopeScanner.maximumDepth)") }
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            guard let quote = peek() else { throw .truncated }
            guard quote == UInt8(ascii: "\"") else { throw .invalid("expected a member name at byte \(index)") }
            let (name, escaped) = try string()
            let key = keys ? MemberKey(raw: UnsafeRawBufferPointer(rebasing: bytes[name]), escaped: escaped) : .other
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            guard !atEnd else { throw .truncated }
            try body(&self, key)
            skipWhitespace()
            guard let separator = peek() else { throw .truncated }
            index += 1
            if separator == UInt8(ascii: "}") { break }
            guard separator == UInt8(ascii: ",") else { throw .invalid("expected ',' or '}' at byte \(index - 1)") }
        }
        depth -= 1
    }

    /// A string, number or null id (`null` yields nil); anything else is not a valid id.
    mutating func idValue() throws(ScanError) -> JSONRPCID? {
        skipWhitespace()
        guard let first = peek() else { throw .truncated }
        switch first {
        case UInt8(ascii: "\""):
            return .string(try stringValue())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let range = try number()
            return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self))
        case UInt8(ascii: "n"):
            try literal("null")
            return nil
        default:
            try value()
            throw .notJSONRPC("id must be a string or a number")
        }
    }

    // MARK: JSON grammar

    mutating func value() throws(ScanError) {
        skipWhitespace()
        guard let first = peek() else { throw .truncated }
        switch first {
        case UInt8(ascii: "{"):
            try members(keys: false) { (cursor, _) throws(ScanError) in try cursor.value() }
        case UInt8(ascii: "["):
            index += 1
            depth += 1
            guard depth <= EnvelopeScanner.maximumDepth else { throw .invalid("nesting deeper than \(EnvelopeScanner.maximumDepth)") }
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                index += 1
            } else {
                while true {
                    try value()
                    skipWhitespace()
                    guard let separator = peek() else { throw .truncated }
                    index += 1
                    if separator == UInt8(ascii: "]") { break }
                    guard separator == UInt8(ascii: ",") else { throw .invalid("expected ',' or ']' at byte \(index - 1)") }
                }
            }
            depth -= 1
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try number()
        default:
            throw .invalid("unexpected character at byte \(index)")
        }
    }

    mutating func literal(_ word: StaticString) throws(ScanError) {
        let length = word.utf8CodeUnitCount
        for offset in 0..<length {
            guard index + offset < bytes.count else { throw .truncated }
            guard bytes[index + offset] == word.utf8Start[offset] else { throw .invalid("invalid literal at byte \(index)") }
        }
        index += length
    }

    mutating func number() throws(ScanError) -> Range<Int> {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let lead = peek() else { throw .truncated }
        if lead == UInt8(ascii: "0") {
            index += 1
        } else if isDigit(lead) {
            skipDigits()
        } else {
            throw .invalid("invalid number at byte \(start)")
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let digit = peek() else { throw .truncated }
            guard isDigit(digit) else { throw .invalid("invalid number at byte \(start)") }
            skipDigits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let digit = peek() else { throw .truncated }
            guard isDigit(digit) else { throw .invalid("invalid number at byte \(start)") }
            skipDigits()
        }
        return start..<index
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private mutating func skipDigits() {
        while let byte = peek(), isDigit(byte) { index += 1 }
    }

    /// Validates a string token and returns its content range and whether it holds escapes.
    mutating func string() throws(ScanError) -> (content: Range<Int>, escaped: Bool) {
        index += 1  // opening quote
        let start = index
        var escaped = false
        while true {
            guard index < bytes.count else { throw .truncated }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                defer { index += 1 }
                return (start..<index, escaped)
            }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                guard index + 1 < bytes.count else { throw .truncated }
                switch bytes[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    guard index + 5 < bytes.count else { throw .truncated }
                    for offset in 2...5 where hexValue(bytes[index + offset]) == nil {
                        throw .invalid("invalid \\u escape at byte \(index)")
                    }
                    index += 6
                default:
                    throw .invalid("invalid escape at byte \(index)")
                }
            } else if byte < 0x20 {
                throw .invalid("unescaped control character in string at byte \(index)")
            } else if byte < 0x80 {
                index += 1
            } else {
                try utf8Sequence()
            }
        }
    }

    /// Steps over one multi-byte UTF-8 sequence, rejecting overlongs, surrogates and stray bytes.
    private mutating func utf8Sequence() throws(ScanError) {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw .invalid("invalid UTF-8 at byte \(index)")
        }
        guard index + length <= bytes.count else { throw .truncated }
        let second = bytes[index + 1]
        guard second >= low, second <= high else { throw .invalid("invalid UTF-8 at byte \(index)") }
        if length > 2 {
            for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 {
                throw .invalid("invalid UTF-8 at byte \(index)")
            }
        }
        index += length
    }

    mutating func stringValue() throws(ScanError) -> String {
        skipWhitespace()
        guard let quote = peek() else { throw .truncated }
        guard quote == UInt8(ascii: "\"") else {
            try value()
            throw .notJSONRPC("expected a string")
        }
        let (content, escaped) = try string()
        let raw = UnsafeRawBufferPointer(rebasing: bytes[content])
        return escaped ? Self.unescape(raw) : String(decoding: raw, as: UTF8.self)
    }

    /// Decodes a validated string body that contains escapes.
    static func unescape(_ raw: UnsafeRawBufferPointer) -> String {
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var index = 0
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll(keepingCapacity: true)
            }
        }
        func hex4(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for offset in 0..<4 { value = value << 4 | UInt32(hexValue(raw[at + offset]) ?? 0) }
            return value
        }
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            flush()
            let kind = raw[index + 1]
            index += 2
            switch kind {
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = hex4(index)
                index += 4
                if (0xD800...0xDBFF).contains(code), index + 6 <= raw.count,
                    raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u")
                {
                    let low = hex4(index + 2)
                    if (0xDC00...0xDFFF).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default:
                scalars.append(Unicode.Scalar(kind))
            }
        }
        flush()
        return String(scalars)
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: return byte - 0x30
    case 0x41...0x46: return byte - 0x41 + 10
    case 0x61...0x66: return byte - 0x61 + 10
    default: return nil
    }
}
