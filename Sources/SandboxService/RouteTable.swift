/// The service's routes and their methods, for answering a known path asked with another
/// method as 405 with `Allow` (the router alone would say 404).
enum RouteTable {
    static let routes: [([String], [String])] = [
        (["healthz"], ["GET"]),
        (["metrics"], ["GET"]),
        (["openapi.json"], ["GET"]),
        (["v1", "deployments"], ["GET", "POST"]),
        (["v1", "deployments", "*"], ["GET", "DELETE"]),
        (["v1", "deployments", "*", "stop"], ["POST"]),
        (["v1", "deployments", "*", "start"], ["POST"]),
        (["v1", "deployments", "*", "ttl"], ["PUT"]),
        (["v1", "deployments", "*", "logs"], ["GET"]),
        (["d", "*", "mcp"], ["GET", "POST", "DELETE"]),
        (["d", "*", "sse"], ["GET"]),
        (["d", "*", "message"], ["POST"]),
        (["d", "*", "messages"], ["POST"]),
    ]

    /// The methods `path` answers, or nil when no route has that shape.
    static func allowedMethods(for path: String) -> [String]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        for (pattern, methods) in routes where pattern.count == segments.count {
            if zip(pattern, segments).allSatisfy({ $0 == "*" ? !$1.isEmpty : $0 == $1 }) { return methods }
        }
        return nil
    }
}
