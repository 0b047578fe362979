import FoundationEssentials
import HTTPTypes
@testable import MCPBridge
import NIOCore
import SandboxBuilder

/// The libFuzzer targets: each takes arbitrary bytes, must never crash, and checks a property
/// of its parser with `precondition` (a broken property is a crash the fuzzer reports).
/// Seed corpora live in `fuzz/corpus/<rawValue>/`; `scripts/fuzz` runs them.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Client and child JSON-RPC messages (`EnvelopeScanner`): anything it accepts is JSON a
    /// reference parser accepts, and its stdio form holds no line break.
    case envelope
    /// The child's stdout framing (`LineFramer`): frames do not depend on how reads split the
    /// stream, hold no LF, and stay within the limit.
    case framer
    /// SSE `data:` encoding (`SSEEncoding`): one event, no CR, no line separator a parser splits on.
    case sse
    /// The SSE reader of `mcp-bridge connect` (`SSEDecoder`): events do not depend on how reads
    /// split the stream, stay within the limit, and what the bridge encodes decodes unchanged.
    case ssedecode
    /// Host, Origin, Accept, Content-Type and Authorization handling (`RequestGuards`).
    case guards
    /// The `.env` parser (`DotEnv`): an error names a line inside the file.
    case dotenv
    /// `builder client-config --write` (`JSONSplice`): an edit it accepts re-parses, is
    /// idempotent, and leaves the text before the edited object untouched.
    case jsonsplice
    /// `--stdio`/`--sidecar` splitting (`ShellWords`): plain words split like whitespace.
    case shellwords
    /// `--bridge-binary` inspection (`ELFLinkage`): any file is read or refused, never a crash.
    case elf
    /// 2026-07-28 request validation (`ModernRequest`) and the legacy adapter: a refusal is a
    /// JSON error body with a 4xx status; an accepted request becomes a child request that
    /// re-parses to itself and carries no reserved `_meta` key.
    case modern
    /// One connection through the bridge's HTTP/1 pipeline (`HTTPConnectionRun`), with the
    /// shutdown, a half-close and expiring deadlines as the first byte says: the output is whole
    /// responses, the n-th answers the n-th request read, none handed to the responder is lost
    /// while the connection is open, no refusal takes the place of a request's answer, nothing
    /// follows a `Connection: close`, and the answers up to the first 413 do not depend on how
    /// the bytes were split into reads.
    case http

    public func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .envelope: Self.envelope(bytes)
        case .framer: Self.framer(bytes)
        case .sse: Self.sse(bytes)
        case .ssedecode: Self.sseDecode(bytes)
        case .guards: Self.guards(bytes)
        case .dotenv: Self.dotenv(bytes)
        case .shellwords: Self.shellwords(bytes)
        case .jsonsplice: Self.jsonSplice(bytes)
        case .elf: _ = try? ELFLinkage.neededLibraries(Array(bytes))
        case .modern: Self.modern(bytes)
        case .http: Self.http(bytes)
        }
    }

    static let modernHeaders: HTTPFields = [
        HTTPField.Name("MCP-Protocol-Version")!: "2026-07-28", HTTPField.Name("Mcp-Method")!: "tools/call",
        HTTPField.Name("Mcp-Name")!: "add",
    ]

    static func modern(_ bytes: UnsafeRawBufferPointer) {
        switch ModernRequest.validate(body: ByteBuffer(bytes: bytes), headers: modernHeaders) {
        case .success(.request(let request)):
            precondition(request.version == ModernProtocol.version && request.params.isObject, "accepted a request without its envelope")
            let child = LegacyAdapter.childRequest(request, id: "mcp-bridge-1", progressToken: request.progressToken == nil ? nil : "t")
            precondition((try? JSONValue.parse(child.buffer)) == child, "the child's request does not re-parse to itself")
            let meta = child["params"]?["_meta"]?.objectValue ?? [:]
            precondition(!meta.keys.contains { $0.hasPrefix(ModernProtocol.reservedPrefix) }, "a reserved _meta key reached the child")
        case .success(.notification):
            break
        case .failure(let refusal):
            precondition((400..<500).contains(refusal.status.code), "a refusal outside 4xx")
            precondition(refusal.body.readableBytesView.firstIndex(of: 0x0A) == nil, "an error body with a line break")
            precondition((try? JSONValue.parse(refusal.body))?["error"]?["code"] != nil, "an error body that is not a JSON-RPC error")
        }
    }

    static func envelope(_ bytes: UnsafeRawBufferPointer) {
        _ = EnvelopeScanner.peekID(inPrefix: bytes)
        _ = EnvelopeScanner.initializeResultVersion(bytes)
        guard let parsed = try? EnvelopeScanner.parse(bytes) else { return }
        let line = StdioLine.compact(bytes)
        precondition(!line.readableBytesView.contains(0x0A) && !line.readableBytesView.contains(0x0D), "a stdio line holds a line break")
        // The JSON grammar allows lone surrogate escapes (and Python's json, like the scanner,
        // takes them); the reference decoder refuses them, so it is consulted only without them.
        // Nor numbers beyond Double (valid JSON; Python reads them as inf, the decoder refuses).
        if !hasSurrogateEscape(bytes), !hasNumberBeyondDouble(bytes) {
            precondition((try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))) != nil, "accepted text that is not JSON")
        }
        if case .batch(let elements) = parsed {
            for element in elements { precondition(element.range.upperBound <= bytes.count, "batch element out of bounds") }
        }
    }

    /// Whether `bytes` holds `\\uD800`…`\\uDFFF`.
    static func hasSurrogateEscape(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4 else { return false }
        for index in 0..<(bytes.count - 3) where bytes[index] == UInt8(ascii: "\\") && bytes[index + 1] == UInt8(ascii: "u") {
            let high = bytes[index + 2] | 0x20, next = bytes[index + 3] | 0x20
            if high == UInt8(ascii: "d"), (UInt8(ascii: "8")...UInt8(ascii: "9")).contains(next) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(next) {
                return true
            }
        }
        return false
    }

    /// Whether `bytes` holds a digit run of 300 or more, or an exponent of 300 or more.
    static func hasNumberBeyondDouble(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var digits = 0
        var exponent: Int?
        for byte in bytes {
            if byte >= 0x30, byte <= 0x39 {
                digits += 1
                if let value = exponent { exponent = min(value * 10 + Int(byte - 0x30), 1_000_000) }
                if digits >= 300 || (exponent ?? 0) >= 300 { return true }
            } else if (byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")), digits > 0 {
                exponent = 0
                digits = 0
            } else if (byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")), exponent == 0, digits == 0 {
                continue
            } else {
                digits = 0
                exponent = nil
            }
        }
        return false
    }

    static func framer(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        let limit = 32
        func frames(chunk: Int) -> [LineFramer.Frame] {
            var framer = LineFramer(maximumLineBytes: limit)
            var frames: [LineFramer.Frame] = []
            var start = 1
            while start < bytes.count {
                let end = min(bytes.count, start + chunk)
                framer.append(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), into: &frames)
                start = end
            }
            framer.finish(into: &frames)
            return frames
        }
        let whole = frames(chunk: bytes.count)
        precondition(frames(chunk: Int(first % 64) + 1) == whole, "frames depend on how the stream was split")
        for frame in whole {
            switch frame {
            case .line(let line):
                precondition(line.readableBytes <= limit && !line.readableBytesView.contains(0x0A), "a frame is too long or holds LF")
            case .oversized(let prefix, let length):
                precondition(length > limit && prefix.readableBytes <= LineFramer.oversizedPrefixBytes, "a wrong oversized frame")
            }
        }
    }

    static func sse(_ bytes: UnsafeRawBufferPointer) {
        // Message lines never hold LF: the framer split on it.
        let message = ByteBuffer(bytes: bytes.filter { $0 != 0x0A })
        let event = Array(SSEEncoding.messageEvent(message).readableBytesView)
        let prefix = Array("event: message\ndata: ".utf8)
        precondition(event.starts(with: prefix) && event.suffix(2) == [0x0A, 0x0A], "not one event")
        let data = event[prefix.count..<(event.count - 2)]
        precondition(!data.contains(0x0A) && !data.contains(0x0D), "the data line breaks")
        let text = String(decoding: data, as: UTF8.self)
        precondition(!text.unicodeScalars.contains { $0 == "\u{2028}" || $0 == "\u{2029}" || $0 == "\u{85}" }, "a separator some parsers split on")
    }

    static func sseDecode(_ bytes: UnsafeRawBufferPointer) {
        let limit = 512
        func events(chunk: Int) -> Result<[SSEDecoder.Event], SSEDecoder.Failure> {
            var decoder = SSEDecoder(maximumEventBytes: limit)
            var events: [SSEDecoder.Event] = []
            var start = 0
            do {
                while start < bytes.count {
                    let end = min(start + chunk, bytes.count)
                    try decoder.feed(bytes[start..<end], into: &events)
                    start = end
                }
            } catch {
                return .failure(error)
            }
            return .success(events)
        }
        let whole = events(chunk: max(bytes.count, 1))
        let split = events(chunk: Int(bytes.first ?? 0) % 7 + 1)
        switch (whole, split) {
        case (.success(let a), .success(let b)):
            precondition(a == b, "events depend on how the stream was split")
            // Counted in scalars: each invalid UTF-8 byte decodes to one U+FFFD (three bytes).
            precondition(a.allSatisfy { $0.data.unicodeScalars.count <= limit }, "an event over the limit")
        case (.failure, .failure):
            break
        default:
            preconditionFailure("the limit bites depending on how the stream was split")
        }
        // What the bridge writes (one message line, no LF) comes back byte for byte.
        let message = bytes.filter { $0 != 0x0A && $0 != 0x0D }
        var decoder = SSEDecoder(maximumEventBytes: 1 << 20)
        var decoded: [SSEDecoder.Event] = []
        try? decoder.feed(SSEEncoding.messageEvent(ByteBuffer(bytes: message)).readableBytesView, into: &decoded)
        precondition(decoded.count == 1 && decoded[0].isMessage, "the bridge's event did not decode as one message")
        let expected = String(decoding: message, as: UTF8.self)
        let escaped = expected.unicodeScalars.contains { $0 == "\u{2028}" || $0 == "\u{2029}" || $0 == "\u{85}" }
        if !escaped, Array(expected.utf8) == message {
            precondition(decoded[0].data == expected, "the bridge's event decoded to other data")
        }
    }

    static func guards(_ bytes: UnsafeRawBufferPointer) {
        let fields = bytes.split(separator: 0, maxSplits: 4, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let host = fields[0]
        let origin = fields.count > 1 ? fields[1] : nil
        let guards = RequestGuards(configuration: BridgeConfiguration(command: ChildCommand(executable: "true", arguments: [], environment: [:])))
        if guards.checkOrigin(host: host, origin: origin) == .allowed {
            let allowedCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789.:[]-")
            precondition(host.lowercased().allSatisfy(allowedCharacters.contains), "an odd Host passed the loopback check")
        }
        precondition(!RequestGuards.isPlainLoopbackAuthority(host) || guards.isAllowedHostByParsing(host),
                     "the Host fast path admitted what the parser refuses")
        _ = AcceptedMediaTypes(header: fields.count > 2 ? fields[2] : nil)
        _ = (fields.count > 3 ? fields[3] : "").isJSONMediaType
        _ = RequestGuards.bearerToken(in: fields.last ?? "")
        _ = BridgeConfiguration.isLoopback(host)
    }

    static func dotenv(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        do {
            _ = try DotEnv.parse(text, environment: ["HOME": "/root"])
        } catch {
            let lines = text.utf8.count(where: { $0 == 0x0A }) + 1
            precondition(error.line >= 1 && error.line <= lines, "an error names line \(error.line) of \(lines)")
        }
    }

    static func jsonSplice(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        let value = OrderedJSON.object([("command", .string("mcp-bridge")), ("args", .array([.string("connect")]))])
        guard let once = try? JSONSplice.upsert(text, container: "mcpServers", name: "sandbox", value: value) else { return }
        guard let twice = try? JSONSplice.upsert(once, container: "mcpServers", name: "sandbox", value: value) else {
            preconditionFailure("an edited document no longer parses")
        }
        precondition(once == twice, "writing the same entry twice changed the file")
        let common = zip(text.utf8, once.utf8).prefix { $0 == $1 }.count
        precondition(common > 0 || text.utf8.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D || $0 == 0x2F || $0 == 0x2A || $0 >= 0x80 }
                     || text.isEmpty, "the document's start was rewritten")
    }

    static func shellwords(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        let split = try? ShellWords.split(text)
        if !text.contains(where: { "'\"\\".contains($0) }) {
            let plain = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
            precondition(split == plain, "plain words split differently from whitespace")
        }
    }
}
