/// The accepted bearer tokens as the front scripts see them: `MCP_BRIDGE_TOKEN` plus the
/// comma-separated `MCP_BRIDGE_TOKENS`. Every front (nginx map, pinggy keys, ngrok policy)
/// splices tokens into configuration, so all of them accept only these characters.
public enum AcceptedTokens {
    /// A bracket-expression body: the characters a token may hold.
    public static let characters = "A-Za-z0-9._~+/=-"

    /// A POSIX sh loop over the tokens that refuses (exit 1) any token holding other
    /// characters, then runs `statement` with the token in `$token`.
    public static func shellLoop(_ statement: String) -> String {
        """
        for token in ${MCP_BRIDGE_TOKEN:-} $(printf '%s' "${MCP_BRIDGE_TOKENS:-}" | tr ',' ' '); do
            case "$token" in
                *[!\(characters)]*)
                    echo "mcp-sandbox: a token contains characters other than \(characters); refusing it" >&2
                    exit 1 ;;
            esac
            \(statement)
        done
        """
    }

    /// A POSIX sh prelude that takes `names` from standard input (`NAME=value` lines, as
    /// mcp-bridge writes a sidecar's secrets) and never from the environment, which other
    /// processes may be able to read (/proc/PID/environ under some gVisor releases).
    /// `alsoSettings`: names that are not secret but that mcp-bridge sends on standard input
    /// anyway because their names look secret (`…KEY…`, e.g. a public host key); a value in the
    /// environment stands unless standard input brings one.
    public static func secretsFromStandardInput(_ names: [String], alsoSettings: [String] = []) -> String {
        """
        # Secrets arrive on standard input from mcp-bridge (NAME=value lines), never in the environment.
        unset \(names.joined(separator: " "))
        while IFS= read -r line || [ -n "$line" ]; do
            case $line in
        \((names + alsoSettings).map { "        \($0)=*) \($0)=${line#*=} ;;" }.joined(separator: "\n"))
            esac
        done
        """
    }
}
