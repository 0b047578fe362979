import HTTPTypes
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// A decoded HTTP/1 request head as a swift-http-types request, as NIO extras'
/// `HTTP1ToHTTPServerCodec` makes it, minus two costs of its general path on every request: a
/// lower-cased copy of every header name (to find `Host`) and a `URLComponents` parse of the
/// target, which an origin-form target (`/mcp`) never needs (~6,000 instructions together,
/// bench/NOTES.md). Other target forms take NIO extras' conversion unchanged. `HTTP1HeadCache`
/// keeps a connection's last conversion, so that the fields a client sends again are reused.
enum HTTP1Conversion {
    /// What each header of a head became, by its position: `HTTP1HeadCache` updates a converted
    /// request in place when only values change.
    enum Slot: Equatable {
        /// The first `Host`: the request's authority.
        case authority
        /// The field at this index of the request's fields.
        case field(Int)
        /// A name swift-http-types refuses: dropped, as NIO extras drops it.
        case dropped
    }

    /// An origin-form head's conversion, with each header's slot.
    struct Converted {
        var request: HTTPRequest
        var slots: [Slot]
    }

    static func request(_ head: HTTPRequestHead) throws -> HTTPRequest {
        if let converted = try convert(head) { return converted.request }
        return try HTTPRequest(head, secure: false, splitCookie: false)
    }

    /// Converts an origin-form head; `nil` for another target form.
    static func convert(_ head: HTTPRequestHead) throws -> Converted? {
        guard head.uri.utf8.first == UInt8(ascii: "/") else { return nil }
        var fields = HTTPFields()
        fields.reserveCapacity(head.headers.count)
        var slots: [Slot] = []
        slots.reserveCapacity(head.headers.count)
        // The first Host is the authority, not a field (as NIO extras does it).
        var authority: String?
        for (name, value) in head.headers {
            if authority == nil, isHost(name) {
                authority = value
                slots.append(.authority)
            } else if let fieldName = HTTPField.Name(name) {
                slots.append(.field(fields.count))
                fields.append(HTTPField(name: fieldName, value: value))
            } else {
                slots.append(.dropped)
            }
        }
        let request = HTTPRequest(method: try HTTPRequest.Method(head.method), scheme: "http", authority: authority,
                                  path: head.uri, headerFields: fields)
        return Converted(request: request, slots: slots)
    }

    /// `name` is `Host` in any letter case. Byte by byte over the name's contiguous UTF-8: a
    /// `zip` of the two UTF-8 views cost ~100 instructions a name.
    static func isHost(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { bytes in
            bytes.count == 4 && bytes[0] | 0x20 == UInt8(ascii: "h") && bytes[1] | 0x20 == UInt8(ascii: "o")
                && bytes[2] | 0x20 == UInt8(ascii: "s") && bytes[3] | 0x20 == UInt8(ascii: "t")
        }
    }
}
