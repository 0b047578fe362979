import Foundation
import Testing

@testable import SandboxService

@Suite struct ServiceConfigurationTests {
    private static func configuration() -> ServiceConfiguration {
        ServiceConfiguration(stateDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("service-config-\(UUID().uuidString)"))
    }

    @Test func theDefaultsAreValid() throws {
        try Self.configuration().validate()
    }

    @Test func aValueThatCannotWorkIsRefusedNamingItsFlag() {
        let cases: [(flag: String, change: (inout ServiceConfiguration) -> Void)] = [
            ("--max-deployments", { $0.maxDeployments = 0 }),
            ("--concurrent-operations", { $0.concurrentOperations = 0 }),
            ("--concurrent-operations", { $0.concurrentOperations = -2 }),
            ("--failed-auth-limit", { $0.failedAuthLimit = 0 }),
            ("--start-timeout", { $0.startTimeout = .zero }),
            ("--start-timeout", { $0.startTimeout = .seconds(-5) }),
            ("--port", { $0.port = 70000 }),
        ]
        for (flag, change) in cases {
            var configuration = Self.configuration()
            change(&configuration)
            do {
                try configuration.validate()
                Issue.record("\(flag): the value was accepted")
            } catch {
                #expect("\(error)".hasPrefix("\(flag): "), "\(error)")
            }
        }
    }
}
