/// Splits a one-string command (`--stdio "npx -y pkg /data"`) into argv the way a POSIX
/// shell would tokenise it: quotes and backslashes, but no expansion and no shell process.
public enum ShellWords {
    public enum SplitError: Error, Equatable, CustomStringConvertible {
        case unterminatedQuote(Character)
        case trailingBackslash

        public var description: String {
            switch self {
            case .unterminatedQuote(let quote): return "unterminated \(quote) quote"
            case .trailingBackslash: return "the command ends with a lone backslash"
            }
        }
    }

    public static func split(_ line: String) throws(SplitError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = line.makeIterator()
        while let character = iterator.next() {
            switch character {
            case " ", "\t", "\n":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            case "'":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "'" {
                        closed = true
                        break
                    }
                    current.append(next)
                }
                guard closed else { throw .unterminatedQuote("'") }
            case "\"":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" {
                        closed = true
                        break
                    }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { throw .unterminatedQuote("\"") }
                        if !["\"", "\\", "$", "`"].contains(escaped) { current.append("\\") }
                        current.append(escaped)
                    } else {
                        current.append(next)
                    }
                }
                guard closed else { throw .unterminatedQuote("\"") }
            case "\\":
                guard let escaped = iterator.next() else { throw .trailingBackslash }
                inWord = true
                current.append(escaped)
            default:
                inWord = true
                current.append(character)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
