import Subprocess

extension Environment {
    /// Exactly these variables and no others (names the platform cannot hold are skipped).
    static func exactly(_ values: [String: String]) -> Environment {
        .custom(Dictionary(uniqueKeysWithValues: values.compactMap { key, value in
            Environment.Key(rawValue: key).map { ($0, value) }
        }))
    }
}
