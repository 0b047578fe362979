import Foundation
import MCPBridge

/// Everything `builder serve` is told, checked before anything starts.
public struct ServiceConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 7300
    public var stateDirectory: URL
    public var allowPlainHTTP = false
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    public var apiKeyFile: String?
    /// Peers whose `X-Forwarded-For` is believed (exact addresses).
    public var trustedProxies: [String] = []
    public var maxDeployments = 50
    /// The glibc `mcp-bridge` copied into images (scripts/build-release makes it).
    public var bridgeBinary: URL?
    /// The mcp-sandbox checkout, for compiling the bridge in the image when no binary is given.
    public var sourceRoot: URL?
    /// Python wheels installed offline into `python` deployments.
    public var wheelhouse: URL?
    /// The URL clients use to reach this service, for the endpoints in responses.
    public var publicURL: String?
    /// false: base images must already be on the host (`--pull never`); a create naming another
    /// is refused at once instead of reaching a registry.
    public var pullMissingImages = true
    public var startTimeout: Duration = .seconds(120)
    public var maxRequestBytes = 4 << 20
    public var concurrentOperations = 3
    /// Failed key or token checks allowed per client address per minute.
    public var failedAuthLimit = 10
    /// How often timers are checked (seconds are their unit; a second is fine).
    public var timerInterval: Duration = .seconds(1)
    public var logLevel = "info"
    public var environment: [String: String] = ProcessInfo.processInfo.environment

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(stateDirectory: URL) {
        self.stateDirectory = stateDirectory
    }

    var usesTLS: Bool { tlsCertificateFile != nil }

    var baseURL: String {
        if let publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        let shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        return "\(usesTLS ? "https" : "http")://\(shown.contains(":") ? "[\(shown)]" : shown):\(port)"
    }

    public func validate() throws {
        guard (0...65535).contains(port) else { throw Invalid(description: "--port: use 0-65535; got \(port)") }
        if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
            throw Invalid(description: "--tls-cert and --tls-key go together; give both or neither")
        }
        for (option, path) in [("--tls-cert", tlsCertificateFile), ("--tls-key", tlsKeyFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw Invalid(description: "\(option): no readable file at \(path)")
            }
        }
        if !BridgeConfiguration.isLoopback(host), !usesTLS, !allowPlainHTTP {
            throw Invalid(description: "--host \(host) is not loopback: API keys and tokens would cross the network in clear. Give --tls-cert and --tls-key, or put a TLS proxy in front and pass --allow-plain-http")
        }
        guard maxDeployments >= 1 else { throw Invalid(description: "--max-deployments: at least 1; got \(maxDeployments)") }
        // Zero would queue every create forever, lock an address out after one typo, or fail
        // every start before the bridge could answer.
        guard concurrentOperations >= 1 else { throw Invalid(description: "--concurrent-operations: at least 1; got \(concurrentOperations)") }
        guard failedAuthLimit >= 1 else { throw Invalid(description: "--failed-auth-limit: at least 1; got \(failedAuthLimit)") }
        guard startTimeout >= .seconds(1) else { throw Invalid(description: "--start-timeout: at least 1 (seconds); got \(startTimeout.components.seconds)") }
        if let bridgeBinary, !FileManager.default.isReadableFile(atPath: bridgeBinary.path) {
            throw Invalid(description: "--bridge-binary: no readable file at \(bridgeBinary.path); build one with scripts/build-release")
        }
    }
}
