import Foundation
import MCPBridge

/// The API keys the service accepts, as SHA-256 digests only. A key comes from
/// `MCP_SANDBOX_API_KEY`, from `--api-key-file`, or is generated on the first start, shown once,
/// and stored as its digest (`api-key.sha256` in the state directory).
struct APIKeyring: Sendable {
    let hashes: [[UInt8]]
    /// Set only when this start generated the key: the caller shows it once.
    let generatedKey: String?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let minimumLength = 16

    static func load(environment: [String: String], keyFile: String?, stateDirectory: URL) throws -> APIKeyring {
        var hashes: [[UInt8]] = []
        if let key = environment["MCP_SANDBOX_API_KEY"] {
            try check(key, origin: "MCP_SANDBOX_API_KEY")
            hashes.append(SecretHash.digest(key))
        }
        if let keyFile {
            guard let text = try? String(contentsOfFile: keyFile, encoding: .utf8) else {
                throw Failure(description: "--api-key-file: cannot read \(keyFile)")
            }
            let keys = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            guard !keys.isEmpty else { throw Failure(description: "--api-key-file: \(keyFile) holds no key (one key per line)") }
            for (index, key) in keys.enumerated() {
                try check(key, origin: "\(keyFile): key \(index + 1)")
                hashes.append(SecretHash.digest(key))
            }
        }
        if !hashes.isEmpty { return APIKeyring(hashes: hashes, generatedKey: nil) }
        let stored = stateDirectory.appendingPathComponent("api-key.sha256")
        if let text = try? String(contentsOf: stored, encoding: .utf8) {
            guard let hash = SecretHash.bytes(hex: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw Failure(description: "\(stored.path) is not a SHA-256 digest in hex; delete it to generate a new key")
            }
            return APIKeyring(hashes: [hash], generatedKey: nil)
        }
        let key = "mcpsk_" + SecureRandom.hex(byteCount: 32)
        let hash = SecretHash.digest(key)
        let temporary = stored.appendingPathExtension("new")
        guard FileManager.default.createFile(atPath: temporary.path, contents: Data((SecretHash.hex(hash) + "\n").utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw Failure(description: "cannot write \(temporary.path); check --state-dir")
        }
        try FileManager.default.moveItem(at: temporary, to: stored)
        return APIKeyring(hashes: [hash], generatedKey: key)
    }

    private static func check(_ key: String, origin: String) throws {
        guard key.count >= minimumLength, key.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline }) else {
            throw Failure(description: "\(origin): an API key must be at least \(minimumLength) visible ASCII characters without spaces")
        }
    }

    func accepts(_ presented: some StringProtocol) -> Bool {
        SecretHash.matches(presented, hashes)
    }
}
