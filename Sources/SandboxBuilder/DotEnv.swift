import Foundation

/// A `.env` parser with the syntax people expect from dotenv tools: comments, `export`,
/// single quotes (literal), double quotes (escapes, multi-line), and `${VAR}` expansion.
/// Errors name the file, the line and the problem.
public enum DotEnv {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var problem: String

        public var description: String { "\(file):\(line): \(problem)" }
    }

    /// Parses `text`; `${NAME}` resolves against earlier keys of the file, then `environment`.
    /// `${NAME:-fallback}` uses the fallback when NAME is unset or empty; `${NAME}` with NAME
    /// unset is an error.
    public static func parse(_ text: String, file: String = ".env", environment: [String: String] = [:]) throws(ParseError) -> [(key: String, value: String)] {
        // "\r\n" is one Character in Swift; normalising keeps every line-ending check simple.
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        var parser = Parser(characters: Array(normalized), file: file, environment: environment)
        return try parser.parse()
    }

    /// The line each variable was last assigned on (for error messages that say `FILE:LINE`).
    public static func lines(_ text: String, file: String = ".env", environment: [String: String] = [:]) throws(ParseError) -> [String: Int] {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        var parser = Parser(characters: Array(normalized), file: file, environment: environment)
        _ = try parser.parse()
        return parser.lines
    }

    /// Parses into a dictionary (last assignment wins).
    public static func values(_ text: String, file: String = ".env", environment: [String: String] = [:]) throws(ParseError) -> [String: String] {
        var values: [String: String] = [:]
        for (key, value) in try parse(text, file: file, environment: environment) { values[key] = value }
        return values
    }

    private struct Parser {
        let characters: [Character]
        let file: String
        let environment: [String: String]
        var index = 0
        var line = 1
        var assigned: [String: String] = [:]
        /// Where each key was last assigned.
        var lines: [String: Int] = [:]

        init(characters: [Character], file: String, environment: [String: String]) {
            self.characters = characters
            self.file = file
            self.environment = environment
        }

        var current: Character? { index < characters.count ? characters[index] : nil }

        mutating func advance() {
            if current == "\n" { line += 1 }
            index += 1
        }

        func failure(_ problem: String, at line: Int? = nil) -> ParseError {
            ParseError(file: file, line: line ?? self.line, problem: problem)
        }

        mutating func skipBlanks() {
            while current == " " || current == "\t" { advance() }
        }

        mutating func skipToEndOfLine() {
            while let character = current, character != "\n" { advance() }
        }

        mutating func parse() throws(ParseError) -> [(key: String, value: String)] {
            var result: [(key: String, value: String)] = []
            while current != nil {
                skipBlanks()
                guard let character = current else { break }
                if character == "\n" || character == "\r" {
                    advance()
                    continue
                }
                if character == "#" {
                    skipToEndOfLine()
                    continue
                }
                let startLine = line
                var key = readKey()
                if key == "export", current == " " || current == "\t" {
                    skipBlanks()
                    key = readKey()
                }
                guard !key.isEmpty else { throw failure("expected a variable name, found '\(character)'") }
                guard key.first.map({ $0 == "_" || $0.isASCII && $0.isLetter }) == true else {
                    throw failure("'\(key)' is not a valid variable name")
                }
                skipBlanks()
                guard current == "=" else { throw failure("expected '=' after \(key)") }
                advance()
                skipBlanks()
                let value = try readValue(startLine: startLine)
                assigned[key] = value
                lines[key] = startLine
                result.append((key, value))
            }
            return result
        }

        mutating func readKey() -> String {
            var key = ""
            while let character = current, character.isASCII, character.isLetter || character.isNumber || character == "_" || character == "." {
                key.append(character)
                advance()
            }
            return key
        }

        mutating func readValue(startLine: Int) throws(ParseError) -> String {
            switch current {
            case "'":
                advance()
                var value = ""
                while let character = current, character != "'" {
                    value.append(character)
                    advance()
                }
                try closeQuote("'", named: "single", startLine: startLine)
                return value
            case "\"":
                advance()
                var value = ""
                while let character = current, character != "\"" {
                    if character == "\\" {
                        advance()
                        guard let escaped = current else { break }
                        switch escaped {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        case "\"", "\\", "$", "`": value.append(escaped)
                        case "\n": break  // line continuation
                        default:
                            value.append("\\")
                            value.append(escaped)
                        }
                        advance()
                    } else if character == "$", index + 1 < characters.count, characters[index + 1] == "{" {
                        value += try expansion()
                    } else {
                        value.append(character)
                        advance()
                    }
                }
                try closeQuote("\"", named: "double", startLine: startLine)
                return value
            default:
                var value = ""
                while let character = current, character != "\n" {
                    if character == "#", value.last == " " || value.last == "\t" || value.isEmpty { break }
                    if character == "$", index + 1 < characters.count, characters[index + 1] == "{" {
                        value += try expansion()
                        continue
                    }
                    if character == "\"" || character == "'" {
                        if value.isEmpty { break }
                    }
                    value.append(character)
                    advance()
                }
                skipToEndOfLine()
                while let last = value.last, last == " " || last == "\t" || last == "\r" { value.removeLast() }
                return value
            }
        }

        /// Steps over the closing `quote`; only blanks and a comment may follow it on its line.
        mutating func closeQuote(_ quote: Character, named kind: String, startLine: Int) throws(ParseError) {
            guard current == quote else { throw failure("unterminated \(kind)-quoted value", at: startLine) }
            advance()
            try expectEndOfLine()
        }

        mutating func expectEndOfLine() throws(ParseError) {
            skipBlanks()
            if current == "\r" { advance() }
            guard let character = current, character != "\n" else { return }
            guard character == "#" else { throw failure("unexpected text after the closing quote") }
            skipToEndOfLine()
        }

        /// `${NAME}` or `${NAME:-fallback}` at the cursor.
        mutating func expansion() throws(ParseError) -> String {
            let startLine = line
            advance()  // $
            advance()  // {
            var body = ""
            while let character = current, character != "}" {
                guard character != "\n" else { break }
                body.append(character)
                advance()
            }
            guard current == "}" else { throw failure("unterminated ${ in value", at: startLine) }
            advance()
            let parts = body.split(separator: ":-", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw failure("'${\(body)}' does not name a variable", at: startLine)
            }
            let value = assigned[name] ?? environment[name]
            if parts.count == 2, value?.isEmpty ?? true { return String(parts[1]) }
            // An undefined variable is a mistake, not an empty value: MCP_PORT=${TYPO} must not
            // quietly become the default port.
            guard let value else {
                throw failure("${\(name)} is not set: define \(name) earlier in the file or in the environment, or give a default with ${\(name):-value}", at: startLine)
            }
            return value
        }
    }
}
