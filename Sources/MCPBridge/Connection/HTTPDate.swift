#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `Date` response header (RFC 9110 §6.6.1: an origin server with a clock sends it), formatted
/// once per second rather than per response.
enum HTTPDate {
    private static let cache = Locked<(second: time_t, text: String)>((0, ""))

    static var now: String {
        let second = time(nil)
        if let text = cache.withLock({ $0.second == second ? $0.text : nil }) { return text }
        let text = format(second)
        cache.withLock { $0 = (second, text) }
        return text
    }

    /// IMF-fixdate, e.g. `Tue, 01 Dec 2026 14:23:41 GMT` (the C locale's names, which are the
    /// ones the format requires).
    static func format(_ second: time_t) -> String {
        var seconds = second
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 40)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
