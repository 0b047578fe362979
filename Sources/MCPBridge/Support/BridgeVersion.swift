/// The release this source tree builds (`mcp-bridge --version`).
public enum BridgeVersion {
    public static let current = "0.3.0"
}
