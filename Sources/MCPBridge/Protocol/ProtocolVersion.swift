/// The MCP protocol revisions this bridge serves, in release order.
public enum ProtocolVersion: String, Sendable, CaseIterable, Comparable {
    case v2024_11_05 = "2024-11-05"
    case v2025_03_26 = "2025-03-26"
    case v2025_06_18 = "2025-06-18"
    case v2025_11_25 = "2025-11-25"

    /// Only 2025-03-26 allows JSON-RPC batches (SH-04, SH-23).
    public var allowsBatches: Bool { self == .v2025_03_26 }

    public static func < (lhs: ProtocolVersion, rhs: ProtocolVersion) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
