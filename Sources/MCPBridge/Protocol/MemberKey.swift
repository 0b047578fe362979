#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A JSON member name the envelope scanner acts on, recognised on its bytes. Decoding every
/// key into a `String` to compare it cost ~150 instructions a key more, a dozen keys per proxied
/// call (callgrind, bench/NOTES.md). A key written with escapes is decoded first, so `"\u0069d"` is
/// still `id`, as JSON has it.
enum MemberKey: Equatable {
    case jsonrpc, id, method, params, result, error, meta, progressToken, requestId, protocolVersion
    /// Any other name (or one not looked at).
    case other

    private static let named: [(name: StaticString, key: MemberKey)] = [
        ("jsonrpc", .jsonrpc), ("id", .id), ("method", .method), ("params", .params), ("result", .result),
        ("error", .error), ("_meta", .meta), ("progressToken", .progressToken), ("requestId", .requestId),
        ("protocolVersion", .protocolVersion),
    ]

    /// The key whose name is `raw`, a validated string body; `escaped` when it has escapes.
    init(raw: UnsafeRawBufferPointer, escaped: Bool) {
        if escaped {
            let name = Cursor.unescape(raw)
            self = Self.named.first { $0.name.description == name }?.key ?? .other
            return
        }
        self = .other
        guard let base = raw.baseAddress else { return }
        for entry in Self.named where entry.name.utf8CodeUnitCount == raw.count && memcmp(base, entry.name.utf8Start, raw.count) == 0 {
            self = entry.key
            return
        }
    }
}
