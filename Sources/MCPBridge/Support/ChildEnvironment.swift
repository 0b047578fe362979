/// Builds the environment an MCP server child starts with. The bridge's environment also holds
/// what the front needs (its token, tunnel credentials), so those names never reach the child,
/// whichever way they were asked for.
public enum ChildEnvironment {
    /// Always present when the bridge has them, even with a clean environment.
    public static let minimalBase = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"]

    /// Variables of the front: the bridge's settings, the tunnel agents' credentials and the
    /// sandbox scripts' settings.
    public static func isFrontVariable(_ name: String) -> Bool {
        ["MCP_BRIDGE_", "MCP_SANDBOX_", "MCP_AUTH_", "NGROK_", "PINGGY_"].contains { name.hasPrefix($0) }
    }

    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameters:
    ///   - clean: start from `minimalBase` plus `passing` instead of everything.
    ///   - passing: names copied from `environment` (with `clean`).
    ///   - setting: explicit `NAME=VALUE` pairs (`--env`), applied last.
    public static func build(from environment: [String: String], clean: Bool, passing: [String],
                             setting: [(String, String)]) throws -> [String: String] {
        for name in passing + setting.map(\.0) where isFrontVariable(name) {
            throw Refusal(description: "\(name) belongs to the bridge's front (its token, settings or tunnel credentials) and is never given to the MCP server; rename the variable")
        }
        var child: [String: String]
        if clean {
            child = environment.filter { minimalBase.contains($0.key) }
            for name in passing {
                if let value = environment[name] { child[name] = value }
            }
        } else {
            child = environment
        }
        child = child.filter { !isFrontVariable($0.key) }
        for (name, value) in setting { child[name] = value }
        return child
    }
}
