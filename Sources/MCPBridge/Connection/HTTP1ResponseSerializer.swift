import HTTPTypes
import NIOCore

/// Writes HTTP/1 responses as bytes and frames their bodies (RFC 9112 §6), in place of NIO's
/// `HTTPResponseEncoder`, so that a whole response can leave as one buffer:
/// - a whole response carries the `Content-Length` of its body, whatever its head said (in the
///   place of the head's own, if it has one);
/// - a streamed one (its head has no `Content-Length`) is chunked to an HTTP/1.1 client and ends
///   with the connection for HTTP/1.0, which cannot read chunks (RFC 9112 §7.1; the caller
///   closes after it);
/// - statuses without a body (1xx, 204, 304) get no body and no framing fields; an answer to
///   `HEAD` keeps its fields, which say what a `GET` would get (RFC 9110 §9.3.2), and no body;
/// - a `Transfer-Encoding` in a head is dropped: the framing is chosen here;
/// - every response says `HTTP/1.1` (RFC 9110 §2.5: the highest version the server conforms to)
///   and carries the current `Date` (RFC 9110 §6.6.1), in place of any the head had.
/// Heads are swift-http-types' own: converting each to NIO's and adding the date there cost
/// ~2,100 instructions a response.
struct HTTP1ResponseSerializer {
    enum Framing: Equatable { case none, length, chunked, closeDelimited }

    /// The request a response answers, as far as its framing goes.
    struct Request: Equatable {
        /// It was `HEAD`: the answer has no body.
        var head: Bool
        /// Its version reads chunked bodies (HTTP/1.1 or later).
        var readsChunks: Bool
    }

    /// A whole body up to this size is copied after its head, so both leave in one buffer; a
    /// larger one follows as its own buffer instead of being copied.
    static let copiedBodyLimit = 16 * 1024

    /// How the body of the response being written is framed (`.none`: no body goes out).
    private(set) var framing = Framing.none

    /// The head of a response whose body follows in parts.
    mutating func head(_ head: HTTPResponse, answering request: Request, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        framing = Self.write(head, bodyLength: nil, answering: request, into: &buffer)
        return buffer
    }

    /// A whole response: `emit` is given its bytes, in one buffer or (a large body) two.
    mutating func whole(_ head: HTTPResponse, body: ByteBuffer, answering request: Request, allocator: ByteBufferAllocator,
                        emit: (ByteBuffer) -> Void) {
        let length = body.readableBytes
        let copied = length <= Self.copiedBodyLimit
        var buffer = allocator.buffer(capacity: 256 + (copied ? length : 0))
        let framing = Self.write(head, bodyLength: length, answering: request, into: &buffer)
        self.framing = .none
        guard framing != .none, length > 0 else {
            emit(buffer)
            return
        }
        if copied {
            buffer.writeImmutableBuffer(body)
            emit(buffer)
        } else {
            emit(buffer)
            emit(body)
        }
    }

    /// A part of the body; `false` when the response has none (the part is not written).
    mutating func body(_ data: ByteBuffer, allocator: ByteBufferAllocator, emit: (ByteBuffer) -> Void) -> Bool {
        switch framing {
        case .none:
            return false
        case .length, .closeDelimited:
            emit(data)
        case .chunked:
            // An empty chunk would end the body (RFC 9112 §7.1).
            guard data.readableBytes > 0 else { return true }
            let copied = data.readableBytes <= Self.copiedBodyLimit
            var buffer = allocator.buffer(capacity: 12 + (copied ? data.readableBytes : 0))
            Self.writeHex(data.readableBytes, into: &buffer)
            buffer.writeStaticString("\r\n")
            if copied {
                buffer.writeImmutableBuffer(data)
                buffer.writeStaticString("\r\n")
                emit(buffer)
            } else {
                emit(buffer)
                emit(data)
                emit(ByteBuffer(staticString: "\r\n"))
            }
        }
        return true
    }

    /// The end of the response: the last chunk when chunked, else nothing (an empty buffer, which
    /// carries the end's promise).
    mutating func end(allocator: ByteBufferAllocator) -> ByteBuffer {
        defer { framing = .none }
        return framing == .chunked ? ByteBuffer(staticString: "0\r\n\r\n") : allocator.buffer(capacity: 0)
    }

    /// Writes `head` and decides the framing of its body (`bodyLength`: a whole body's). The head
    /// is measured, then copied in one pass: each of `ByteBuffer`'s own writes checks bounds and
    /// uniqueness, ~240 instructions, and a head took ~20 of them.
    private static func write(_ head: HTTPResponse, bodyLength: Int?, answering request: Request,
                              into buffer: inout ByteBuffer) -> Framing {
        let reason = head.status.reasonPhrase
        let date = HTTPDate.now
        // "HTTP/1.1 200 " + reason + CRLF, "Date: " + date + CRLF, each field + ": " + CRLF, the
        // final CRLF, and what the framing adds: at most a `Content-Length` line of 19 digits
        // (37 bytes).
        var size = 13 + reason.utf8.count + 2 + 8 + date.utf8.count + 2 + 40
        for field in head.headerFields { size += field.name.rawName.utf8.count + field.value.utf8.count + 4 }
        let hasBody = Self.mayHaveBody(head.status.code)
        var framing = Framing.none
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { bytes in
            var out = Output(bytes)
            out.append("HTTP/1.1 ")
            out.append(decimal: min(max(head.status.code, 0), 999))
            out.append(" ")
            out.append(reason)
            out.append("\r\n")
            out.append(field: "Date") { $0.append(date) }
            var hasLength = false
            for field in head.headerFields {
                let name = field.name.rawName
                switch Self.replacedField(field.name) {
                case .contentLength?:
                    // A bodiless status has none; a whole body's own length goes in the first one's place.
                    guard hasBody, !(hasLength && bodyLength != nil) else { continue }
                    hasLength = true
                    if let bodyLength {
                        out.append(field: name) { $0.append(decimal: bodyLength) }
                        continue
                    }
                case .transferEncoding?, .date?:
                    continue
                case nil:
                    break
                }
                out.append(field: name) { $0.append(field.value) }
            }
            if !hasBody {
                framing = .none
            } else if let bodyLength {
                if !hasLength { out.append(field: "Content-Length") { $0.append(decimal: bodyLength) } }
                framing = .length
            } else if hasLength {
                framing = .length
            } else if request.readsChunks {
                out.append("Transfer-Encoding: chunked\r\n")
                framing = .chunked
            } else {
                framing = .closeDelimited
            }
            out.append("\r\n")
            return out.count
        }
        return request.head ? .none : framing
    }

    /// 1xx, 204 and 304 answers have no body (RFC 9110 §6.4.1).
    private static func mayHaveBody(_ code: Int) -> Bool {
        !(100..<200).contains(code) && code != 204 && code != 304
    }

    /// Bytes copied into a buffer's writable space, measured beforehand.
    private struct Output {
        let bytes: UnsafeMutableRawBufferPointer
        private(set) var count = 0

        init(_ bytes: UnsafeMutableRawBufferPointer) { self.bytes = bytes }

        mutating func append(_ text: StaticString) {
            precondition(text.utf8CodeUnitCount <= bytes.count - count, "the head was measured short")
            let source = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
            UnsafeMutableRawBufferPointer(rebasing: bytes[count...]).copyMemory(from: source)
            count += source.count
        }

        mutating func append(_ text: String) {
            var text = text
            text.withUTF8 { source in
                precondition(source.count <= bytes.count - count, "the head was measured short")
                UnsafeMutableRawBufferPointer(rebasing: bytes[count...]).copyMemory(from: UnsafeRawBufferPointer(source))
                count += source.count
            }
        }

        mutating func append(decimal value: Int) {
            var digits = 1, rest = value / 10
            while rest > 0 { digits += 1; rest /= 10 }
            precondition(value >= 0 && digits <= bytes.count - count, "the head was measured short")
            var remaining = value
            for index in stride(from: count + digits - 1, through: count, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            count += digits
        }

        mutating func append(field name: String, value: (inout Output) -> Void) {
            append(name)
            append(": ")
            value(&self)
            append("\r\n")
        }
    }

    private enum ReplacedField { case contentLength, transferEncoding, date }

    /// Whether `name` is a field written here rather than as the head has it (by length first:
    /// most names are none of them; canonical names are lower-case).
    private static func replacedField(_ name: HTTPField.Name) -> ReplacedField? {
        let canonical = name.canonicalName
        switch canonical.utf8.count {
        case 4: return canonical == "date" ? .date : nil
        case 14: return canonical == "content-length" ? .contentLength : nil
        case 17: return canonical == "transfer-encoding" ? .transferEncoding : nil
        default: return nil
        }
    }

    private static func writeHex(_ value: Int, into buffer: inout ByteBuffer) {
        let digits: StaticString = "0123456789abcdef"
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4
        repeat {
            let digit = (value >> max(shift, 0)) & 0xF
            buffer.writeInteger(digits.withUTF8Buffer { $0[digit] })
            shift -= 4
        } while shift >= 0
    }
}
