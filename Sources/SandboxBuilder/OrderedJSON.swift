import MCPBridge

/// A JSON value whose object keys keep the order they were written in, printed the way people
/// format configuration files (two-space indent), for what `builder client-config` emits.
public indirect enum OrderedJSON: Sendable, Equatable {
    case string(String)
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    public static func == (lhs: OrderedJSON, rhs: OrderedJSON) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
        default: return false
        }
    }

    /// The text, with nested lines indented by `indent` more than `base`.
    public func rendered(base: String = "", indent: String = "  ") -> String {
        switch self {
        case .string(let value):
            return JSONText.quoted(value)
        case .array(let items):
            if items.isEmpty { return "[]" }
            // Short arrays of strings stay on one line, as in the clients' own examples.
            if items.allSatisfy({ if case .string = $0 { return true } else { return false } }) {
                return "[" + items.map { $0.rendered() }.joined(separator: ", ") + "]"
            }
            let inner = base + indent
            return "[\n" + items.map { inner + $0.rendered(base: inner, indent: indent) }.joined(separator: ",\n") + "\n" + base + "]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            let inner = base + indent
            return "{\n" + members.map { inner + JSONText.quoted($0.0) + ": " + $0.1.rendered(base: inner, indent: indent) }
                .joined(separator: ",\n") + "\n" + base + "}"
        }
    }
}
