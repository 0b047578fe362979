#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import HTTPTypes
import NIOHTTP1

/// A connection's last request head and its swift-http-types conversion, so that a head sent
/// again is not converted again.
///
/// A client on a keep-alive connection sends nearly the same head each time: the same target,
/// field names, session, protocol version and types; the length and little else change.
/// Converting a head costs ~10,900 instructions (each name lower-cased and checked, each value
/// checked, a generic append per field, bench/NOTES.md). Here a head with the same method,
/// target and field names, in the same order, as the last one is compared with it instead: if
/// a value differs, only that field is converted and set in a copy of the last request; if
/// nothing differs, the last request is the answer. Names are compared byte for byte (not
/// case-folded), so which `Host` is the authority and which names are dropped are the same as
/// last time, and the result is what converting the head would give. Any other head is
/// converted afresh.
struct HTTP1HeadCache {
    /// A head over this many bytes of names, values and target is not kept, so a connection
    /// holds at most this much for the next request.
    static let maxBytes = 4096

    private struct Entry {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var converted: HTTP1Conversion.Converted
    }

    private var last: Entry?

    /// Whether a head is kept (for tests).
    var holdsHead: Bool { last != nil }

    /// `head` as a swift-http-types request.
    mutating func request(_ head: HTTPRequestHead) throws -> HTTPRequest {
        guard let last, last.method == head.method, Self.sameBytes(last.uri, head.uri), last.headers.count == head.headers.count else {
            return try fresh(head)
        }
        var request = last.converted.request
        var changed = false
        var bytes = head.uri.utf8.count
        var earlier = last.headers.makeIterator()
        for (position, (name, value)) in head.headers.enumerated() {
            guard let before = earlier.next(), Self.sameBytes(before.name, name) else { return try fresh(head) }
            bytes += name.utf8.count + value.utf8.count
            guard !Self.sameBytes(before.value, value) else { continue }
            // Other bytes that `==` holds equal (canonical equivalence): `HTTPFields` would keep the
            // old field on setting one it holds equal, so such a head is converted afresh.
            guard before.value != value else { return try fresh(head) }
            changed = true
            switch last.converted.slots[position] {
            case .authority:
                request.authority = value
            case .field(let index):
                request.headerFields[index] = HTTPField(name: request.headerFields[index].name, value: value)
            case .dropped:
                break
            }
        }
        if changed {
            keep(head, HTTP1Conversion.Converted(request: request, slots: last.converted.slots), bytes: bytes)
        }
        return request
    }

    /// Byte for byte, not `==`: Swift's string equality is canonical equivalence, under which a
    /// value written with a combining accent equals its precomposed form, and reusing the last
    /// field would hand on the last request's bytes instead of this one's.
    static func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
        let left = lhs.utf8, right = rhs.utf8
        guard left.count == right.count else { return false }
        // Both contiguous nearly always (native strings): one `memcmp`, no copies.
        let compared = left.withContiguousStorageIfAvailable { leftBytes in
            right.withContiguousStorageIfAvailable { rightBytes in
                guard let leftBase = leftBytes.baseAddress, let rightBase = rightBytes.baseAddress else { return true }
                return memcmp(leftBase, rightBase, leftBytes.count) == 0
            }
        }
        guard let compared, let compared else { return left.elementsEqual(right) }
        return compared
    }

    private mutating func fresh(_ head: HTTPRequestHead) throws -> HTTPRequest {
        // A head that fails to convert leaves nothing behind to match the next one.
        last = nil
        guard let converted = try HTTP1Conversion.convert(head) else { return try HTTP1Conversion.request(head) }
        var bytes = head.uri.utf8.count
        for (name, value) in head.headers { bytes += name.utf8.count + value.utf8.count }
        keep(head, converted, bytes: bytes)
        return converted.request
    }

    private mutating func keep(_ head: HTTPRequestHead, _ converted: HTTP1Conversion.Converted, bytes: Int) {
        last = bytes <= Self.maxBytes ? Entry(method: head.method, uri: head.uri, headers: head.headers, converted: converted) : nil
    }
}
