import Foundation

/// The MCP clients `builder client-config` writes for, with where each keeps its servers and the
/// shape it documents (links in the README).
public enum ClientKind: String, Sendable, CaseIterable {
    case claudeDesktop = "claude-desktop"
    case claudeCode = "claude-code"
    case vscode
    case cursor
    case json

    /// The object holding one entry per server.
    public var container: String { self == .vscode ? "servers" : "mcpServers" }

    /// Whether the client can speak Streamable HTTP itself; Claude Desktop's configuration file
    /// only launches stdio servers (remote ones are added in its UI as connectors).
    public var speaksHTTP: Bool { self != .claudeDesktop }

    /// The file `--write` edits: per user for Claude Desktop and Cursor, per project (the current
    /// folder) for Claude Code (`.mcp.json`) and VS Code (`.vscode/mcp.json`).
    public func configurationFile(home: URL, workingDirectory: URL, environment: [String: String]) -> URL? {
        switch self {
        case .claudeDesktop:
            #if os(macOS)
            return home.appendingPathComponent("Library/Application Support/Claude/claude_desktop_config.json")
            #else
            let config = environment["XDG_CONFIG_HOME"].map { URL(fileURLWithPath: $0) } ?? home.appendingPathComponent(".config")
            return config.appendingPathComponent("Claude/claude_desktop_config.json")
            #endif
        case .claudeCode: return workingDirectory.appendingPathComponent(".mcp.json")
        case .vscode: return workingDirectory.appendingPathComponent(".vscode/mcp.json")
        case .cursor: return home.appendingPathComponent(".cursor/mcp.json")
        case .json: return nil
        }
    }
}
