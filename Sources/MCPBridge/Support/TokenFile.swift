import FoundationEssentials

/// A bearer-token file: one token per line, blank lines and `#` comments skipped, spaces and
/// tabs around each token ignored. Read by the bridge (`--token-file`, several for rotation) and
/// by `mcp-bridge connect` (the first one).
public enum TokenFile {
    /// The tokens in the file at `path`, or nil when it cannot be read.
    public static func tokens(atPath path: String) -> [String]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { String($0).trimmingSpaces }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}
