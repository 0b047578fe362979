import MCPBridge

/// A YAML value whose mapping keys keep the order they were written in, printed in block style
/// the way Kubernetes manifests are written by hand. Strings are plain when YAML would read
/// them back as the same string, and JSON-quoted otherwise (a JSON string is a valid YAML
/// double-quoted scalar), so `"true"`, `"8000"` or `"a: b"` never change type on the way.
public indirect enum YAMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case sequence([YAMLValue])
    case mapping([(String, YAMLValue)])

    public static func == (lhs: YAMLValue, rhs: YAMLValue) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.boolean(let a), .boolean(let b)): return a == b
        case (.sequence(let a), .sequence(let b)): return a == b
        case (.mapping(let a), .mapping(let b)): return a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
        default: return false
        }
    }

    /// The value of `key` in a mapping.
    public subscript(key: String) -> YAMLValue? {
        guard case .mapping(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// The document's text, ending in a newline.
    public var document: String {
        lines(indent: "").joined(separator: "\n") + "\n"
    }

    private var isCollection: Bool {
        switch self {
        case .sequence(let items): return !items.isEmpty
        case .mapping(let members): return !members.isEmpty
        default: return false
        }
    }

    /// Block lines of a collection, or the one-line form of a scalar or empty collection.
    private func lines(indent: String) -> [String] {
        switch self {
        case .mapping(let members) where !members.isEmpty:
            return members.flatMap { key, value -> [String] in
                let head = indent + Self.scalar(key) + ":"
                guard value.isCollection else { return [head + " " + value.inline] }
                // Sequences under a key sit at the key's own indentation, as kubectl prints them.
                if case .sequence = value { return [head] + value.lines(indent: indent) }
                return [head] + value.lines(indent: indent + "  ")
            }
        case .sequence(let items) where !items.isEmpty:
            return items.flatMap { item -> [String] in
                guard item.isCollection else { return [indent + "- " + item.inline] }
                if case .sequence = item { return [indent + "-"] + item.lines(indent: indent + "  ") }
                // A mapping item starts on the dash's line.
                var nested = item.lines(indent: indent + "  ")
                nested[0] = indent + "- " + nested[0].dropFirst(indent.count + 2)
                return nested
            }
        default:
            return [indent + inline]
        }
    }

    private var inline: String {
        switch self {
        case .string(let text): return Self.scalar(text)
        case .integer(let number): return String(number)
        case .boolean(let flag): return flag ? "true" : "false"
        case .sequence: return "[]"
        case .mapping: return "{}"
        }
    }

    /// `text` plain when that is unambiguous, else JSON-quoted.
    static func scalar(_ text: String) -> String {
        isPlainSafe(text) ? text : JSONText.quoted(text)
    }

    /// Words YAML 1.1 or 1.2 readers turn into booleans or null.
    private static let reservedWords: Set<String> = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ]

    static func isPlainSafe(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return false }
        guard !reservedWords.contains(text.lowercased()) else { return false }
        // Anything a YAML reader could take for a number (1, 1.0, 1e3, 0x1f, .5, 1_000, 12:30).
        if text.unicodeScalars.allSatisfy({ "0123456789.+-_:eExXoOabcdefABCDEF".unicodeScalars.contains($0) }),
           text.unicodeScalars.contains(where: { ("0"..."9").contains($0) }) || text.hasPrefix(".") {
            return false
        }
        let allowedFirst = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._"
        let allowed = allowedFirst + "-:=@,+ "
        // A leading '-' is an indicator only when a space or nothing follows (`--port` is plain).
        let dashWord = first == "-" && text.unicodeScalars.dropFirst().first.map { $0 != " " } == true
        guard allowedFirst.unicodeScalars.contains(first) || dashWord, last != " ", last != ":" else { return false }
        guard text.unicodeScalars.allSatisfy({ allowed.unicodeScalars.contains($0) }) else { return false }
        return !text.contains(": ") && !text.contains(" #")
    }
}
