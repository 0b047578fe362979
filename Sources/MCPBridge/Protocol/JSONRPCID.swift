/// A JSON-RPC request id as it appears on the wire: a string or a number.
///
/// Numbers keep their literal text so an id is echoed back byte for byte; strings are
/// compared after unescaping, so `"a"` and `"\u0061"` are the same id.
public enum JSONRPCID: Hashable, Sendable, CustomStringConvertible {
    case number(String)
    case string(String)

    /// The id encoded as a JSON value, ready to splice into a message.
    public var json: String {
        switch self {
        case .number(let literal): return literal
        case .string(let value): return JSONText.quoted(value)
        }
    }

    public var description: String { json }

    /// Whether a child can be trusted to echo this id exactly: every string, and numbers only as
    /// integers within ±(2^53 − 1) without fraction, exponent or a negative zero. JSON-RPC asks
    /// for ids without fractional parts, and servers that parse ids as doubles or 64-bit integers
    /// answer `1.5`, `1e2` or a 10,000-digit number under another id (or drop it).
    public var isPortable: Bool {
        guard case .number(let literal) = self else { return true }
        // On the UTF-8 bytes: this runs for every request, and Character's `isNumber` looks up
        // Unicode properties (2 % of the bridge's CPU at 16 connections, perf).
        var digits = Substring(literal).utf8
        if digits.first == UInt8(ascii: "-") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 16,
              digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return false }
        // A leading zero only in the id 0 itself (not 01, not -0).
        if digits.first == UInt8(ascii: "0") { return literal == "0" }
        guard let magnitude = Int64(Substring(digits)) else { return false }
        return magnitude <= 9_007_199_254_740_991
    }
}

/// Small helpers for writing JSON text by hand on cold paths (error bodies, events).
public enum JSONText {
    /// `value` as a JSON string literal, with every character JSON requires escaped.
    public static func quoted(_ value: String) -> String {
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
        return out
    }
}
