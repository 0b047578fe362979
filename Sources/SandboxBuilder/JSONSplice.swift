import MCPBridge

/// Puts one member into an object nested in a JSON document by editing the text, so every other
/// byte of the file (other entries, comments, formatting) stays exactly as it was. Accepts the
/// JSON-with-comments dialect editors use for their settings (`//`, `/* */`, trailing commas).
public enum JSONSplice {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `document` with `root[container][name] = value`, creating `container` if needed.
    public static func upsert(_ document: String, container: String, name: String, value: OrderedJSON) throws -> String {
        var bytes = Array(document.utf8)
        var scanner = Scanner(bytes: bytes)
        // Only a blank file starts afresh; one holding just a comment (or an unterminated one)
        // is the user's text and is refused below rather than replaced.
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            return "{\n  " + JSONText.quoted(container) + ": {\n    " + JSONText.quoted(name) + ": "
                + value.rendered(base: "    ") + "\n  }\n}\n"
        }
        let root = try scanner.object()
        scanner.skipTrivia()
        guard scanner.atEnd else { throw Failure(description: "text after the top-level object at byte \(scanner.index)") }

        guard let holder = root.members.first(where: { $0.key == container }) else {
            let indent = indentation(of: root, in: bytes) ?? "  "
            let text = JSONText.quoted(container) + ": {\n" + indent + "  " + JSONText.quoted(name) + ": "
                + value.rendered(base: indent + "  ") + "\n" + indent + "}"
            insert(text, into: root, indent: indent, closingIndent: "", bytes: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        var inner = Scanner(bytes: bytes, index: holder.value.lowerBound)
        guard bytes[holder.value.lowerBound] == UInt8(ascii: "{") else {
            throw Failure(description: "\"\(container)\" is not an object")
        }
        let servers = try inner.object()
        let outerIndent = lineIndentation(at: holder.keyStart, in: bytes)
        let indent = indentation(of: servers, in: bytes) ?? outerIndent + "  "
        if let existing = servers.members.last(where: { $0.key == name }) {
            let text = value.rendered(base: lineIndentation(at: existing.keyStart, in: bytes))
            bytes.replaceSubrange(existing.value, with: Array(text.utf8))
        } else {
            let text = JSONText.quoted(name) + ": " + value.rendered(base: indent)
            insert(text, into: servers, indent: indent, closingIndent: outerIndent, bytes: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Inserts a member after the object's last one (or as its first), keeping a trailing comma
    /// if the file uses them.
    private static func insert(_ member: String, into object: Scanner.Object, indent: String, closingIndent: String, bytes: inout [UInt8]) {
        if let last = object.members.last {
            var after = Scanner(bytes: bytes, index: last.value.upperBound)
            after.skipTrivia()
            if after.peek == UInt8(ascii: ",") {
                bytes.insert(contentsOf: Array(("\n" + indent + member + ",").utf8), at: after.index + 1)
            } else {
                bytes.insert(contentsOf: Array((",\n" + indent + member).utf8), at: last.value.upperBound)
            }
        } else {
            bytes.replaceSubrange((object.open + 1)..<object.close, with: Array(("\n" + indent + member + "\n" + closingIndent).utf8))
        }
    }

    /// The indentation of the object's first member, if it starts its own line.
    private static func indentation(of object: Scanner.Object, in bytes: [UInt8]) -> String? {
        guard let first = object.members.first else { return nil }
        let indent = lineIndentation(at: first.keyStart, in: bytes)
        var start = first.keyStart - indent.utf8.count
        start -= 1
        return start >= 0 && bytes[start] == UInt8(ascii: "\n") ? indent : nil
    }

    private static func lineIndentation(at index: Int, in bytes: [UInt8]) -> String {
        var start = index
        while start > 0, bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
        let prefix = bytes[start..<index].prefix { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        return String(decoding: prefix, as: UTF8.self)
    }

    /// Just enough of a JSON(C) parser to find where members and values are.
    struct Scanner {
        struct Member {
            let key: String
            let keyStart: Int
            let value: Range<Int>
        }

        struct Object {
            let open: Int
            let close: Int
            let members: [Member]
        }

        let bytes: [UInt8]
        var index = 0
        var depth = 0

        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipTrivia() {
            while let byte = peek {
                if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                    index += 1
                } else if byte == UInt8(ascii: "/"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                    while let next = peek, next != 0x0A { index += 1; _ = next }
                } else if byte == UInt8(ascii: "/"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "*") {
                    index += 2
                    while index + 1 < bytes.count, !(bytes[index] == UInt8(ascii: "*") && bytes[index + 1] == UInt8(ascii: "/")) { index += 1 }
                    index = min(index + 2, bytes.count)
                } else if index == 0, bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
                    index = 3
                } else {
                    return
                }
            }
        }

        private func failure(_ what: String) -> Failure {
            var line = 1
            for byte in bytes[..<min(index, bytes.count)] where byte == 0x0A { line += 1 }
            return Failure(description: "line \(line): \(what)")
        }

        mutating func expect(_ byte: UInt8) throws {
            skipTrivia()
            guard peek == byte else { throw failure("expected \(Character(UnicodeScalar(byte)))") }
            index += 1
        }

        mutating func object() throws -> Object {
            skipTrivia()
            let open = index
            try expect(UInt8(ascii: "{"))
            depth += 1
            guard depth <= 256 else { throw failure("nested too deeply") }
            defer { depth -= 1 }
            var members: [Member] = []
            skipTrivia()
            while peek != UInt8(ascii: "}") {
                skipTrivia()
                let keyStart = index
                let key = try string()
                try expect(UInt8(ascii: ":"))
                skipTrivia()
                let valueStart = index
                try value()
                members.append(Member(key: key, keyStart: keyStart, value: valueStart..<index))
                skipTrivia()
                if peek == UInt8(ascii: ",") {
                    index += 1
                    skipTrivia()
                } else if peek != UInt8(ascii: "}") {
                    throw failure("expected , or }")
                }
            }
            let close = index
            index += 1
            return Object(open: open, close: close, members: members)
        }

        mutating func value() throws {
            skipTrivia()
            switch peek {
            case UInt8(ascii: "{"):
                _ = try object()
            case UInt8(ascii: "["):
                index += 1
                depth += 1
                guard depth <= 256 else { throw failure("nested too deeply") }
                defer { depth -= 1 }
                skipTrivia()
                while peek != UInt8(ascii: "]") {
                    try value()
                    skipTrivia()
                    if peek == UInt8(ascii: ",") {
                        index += 1
                        skipTrivia()
                    } else if peek != UInt8(ascii: "]") {
                        throw failure("expected , or ]")
                    }
                }
                index += 1
            case UInt8(ascii: "\""):
                _ = try string()
            case .some(let byte) where byte == UInt8(ascii: "-") || (0x30...0x39).contains(byte) || (0x61...0x7A).contains(byte):
                while let next = peek, next == UInt8(ascii: "-") || next == UInt8(ascii: "+") || next == UInt8(ascii: ".")
                    || (0x30...0x39).contains(next) || (0x61...0x7A).contains(next) || next == UInt8(ascii: "E") {
                    index += 1
                }
            default:
                throw failure("expected a value")
            }
        }

        /// A string token, decoded (escapes other than \" and \\ are kept as written: keys here
        /// are compared with plain names).
        mutating func string() throws -> String {
            guard peek == UInt8(ascii: "\"") else { throw failure("expected a string") }
            index += 1
            var decoded: [UInt8] = []
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: decoded, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = peek else { throw failure("unterminated string") }
                    index += 1
                    decoded.append(escaped == UInt8(ascii: "\"") || escaped == UInt8(ascii: "\\") ? escaped : UInt8(ascii: "\\"))
                    if escaped != UInt8(ascii: "\"") && escaped != UInt8(ascii: "\\") { decoded.append(escaped) }
                case 0x0A:
                    throw failure("line break inside a string")
                default:
                    decoded.append(byte)
                }
            }
            throw failure("unterminated string")
        }
    }
}
