import Subprocess
import Synchronization

extension Environment {
    /// The last environment built, reused while the variables stay the same: every session's
    /// child gets the configured environment, and a fresh copy per child cost ~2 KiB of bridge
    /// memory for as long as each session lived.
    private static let lastBuilt = Mutex<(values: [String: String], environment: Environment)?>(nil)

    /// Exactly these variables and no others (names the platform cannot hold are skipped).
    static func exactly(_ values: [String: String]) -> Environment {
        if let last = lastBuilt.withLock({ $0 }), last.values == values { return last.environment }
        let environment = Environment.custom(Dictionary(uniqueKeysWithValues: values.compactMap { key, value in
            Environment.Key(rawValue: key).map { ($0, value) }
        }))
        lastBuilt.withLock { $0 = (values, environment) }
        return environment
    }
}
