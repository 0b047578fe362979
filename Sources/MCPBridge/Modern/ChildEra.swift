/// Which revision family a child speaks, found by the stdio probe once per process.
public enum ChildEra: String, Sendable {
    /// Answered `server/discover`: passed through, with ids and progress tokens made unique.
    case modern
    /// Refused the probe or stayed silent: initialized by the bridge and adapted.
    case legacy
}
