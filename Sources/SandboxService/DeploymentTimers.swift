/// A deployment's timers, in seconds; nil is off. Limits match the OpenAPI document.
struct DeploymentTimers: Codable, Sendable, Equatable {
    /// Delete this long after creation, whatever the traffic.
    var deleteAfter: Int?
    /// Stop the containers after this long without front-door traffic; the next request wakes them.
    var idleStop: Int?
    /// Delete after this long without front-door traffic.
    var idleDelete: Int?

    static let maximum = 31_536_000

    /// Every timer set is 1 s to a year.
    func problems(field: String = "timers") -> [Problem.FieldError] {
        [("deleteAfterSeconds", deleteAfter), ("idleStopAfterSeconds", idleStop), ("idleDeleteAfterSeconds", idleDelete)]
            .compactMap { name, value in
                guard let value, !(1...Self.maximum).contains(value) else { return nil }
                return Problem.FieldError(field: "\(field).\(name)", detail: "must be between 1 and \(Self.maximum) seconds; got \(value)")
            }
    }
}
