/// Incremental parser for a `text/event-stream` body (WHATWG HTML, "Parsing an event stream"),
/// as `mcp-bridge connect` reads it from a remote server.
///
/// Bounded: a line or an event's data longer than `maximumEventBytes` is an error instead of
/// unbounded buffering, since the remote end is not trusted to behave.
public struct SSEDecoder: Sendable {
    public struct Event: Sendable, Equatable {
        /// The `event:` field; empty means the default type, "message".
        public var type: String
        public var data: String
        /// The last `id:` seen (it persists across events, as the standard says).
        public var lastEventID: String?

        public init(type: String, data: String, lastEventID: String?) {
            self.type = type
            self.data = data
            self.lastEventID = lastEventID
        }

        public var isMessage: Bool { type.isEmpty || type == "message" }
    }

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case eventTooLarge(limit: Int)

        public var description: String {
            switch self {
            case .eventTooLarge(let limit): return "an SSE event exceeded \(limit) bytes"
            }
        }
    }

    public let maximumEventBytes: Int
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var type = ""
    private var lastEventID: String?
    private var afterCR = false
    private var bomBytesSeen = 0

    public init(maximumEventBytes: Int) {
        self.maximumEventBytes = maximumEventBytes
    }

    /// Feeds the next chunk of the stream; complete events are appended to `events`.
    public mutating func feed(_ chunk: some Sequence<UInt8>, into events: inout [Event]) throws(Failure) {
        for byte in chunk {
            // A UTF-8 BOM (EF BB BF) at the very start of the stream is not part of the first line.
            if bomBytesSeen < 3 {
                let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                if byte == bom[bomBytesSeen] {
                    bomBytesSeen += 1
                    continue
                }
                line.append(contentsOf: bom[..<bomBytesSeen])
                bomBytesSeen = 3
            }
            switch byte {
            case UInt8(ascii: "\n"):
                if afterCR { afterCR = false; continue }  // the LF of a CRLF
                try endLine(into: &events)
            case UInt8(ascii: "\r"):
                afterCR = true
                try endLine(into: &events)
            default:
                afterCR = false
                guard line.count < maximumEventBytes else { throw .eventTooLarge(limit: maximumEventBytes) }
                line.append(byte)
            }
        }
    }

    private mutating func endLine(into events: inout [Event]) throws(Failure) {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else {
            dispatch(into: &events)
            return
        }
        if line[0] == UInt8(ascii: ":") { return }  // a comment (keep-alives)
        let name: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            name = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            name = line[...]
            value = []
        }
        switch String(decoding: name, as: UTF8.self) {
        case "data":
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
            guard data.count <= maximumEventBytes else { throw .eventTooLarge(limit: maximumEventBytes) }
        case "event":
            type = String(decoding: value, as: UTF8.self)
        case "id":
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        default:
            break  // retry and unknown fields: nothing the relay needs
        }
    }

    private mutating func dispatch(into events: inout [Event]) {
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            type = ""
        }
        guard hasData else { return }
        events.append(Event(type: type, data: String(decoding: data, as: UTF8.self), lastEventID: lastEventID))
    }
}
