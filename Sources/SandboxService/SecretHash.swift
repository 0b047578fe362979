import MCPBridge

/// Secrets (API keys, deployment tokens) are kept only as SHA-256 digests and checked by
/// comparing digests in constant time: neither the stored value nor the timing of a check
/// reveals the secret.
enum SecretHash {
    static func digest(_ secret: some StringProtocol) -> [UInt8] {
        SHA256.digest(Array(secret.utf8))
    }

    static func matches(_ presented: some StringProtocol, _ stored: [[UInt8]]) -> Bool {
        let candidate = digest(presented)
        var matched = false
        for hash in stored where RequestGuards.constantTimeEqual(hash, candidate) { matched = true }
        return matched
    }

    static func hex(_ bytes: [UInt8]) -> String {
        Hex.lowercase(bytes)
    }

    static func bytes(hex: some StringProtocol) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    /// The presented secret of an `Authorization: Bearer` or `X-API-Key` header. An
    /// `Authorization` header that is not a bearer token counts as a wrong credential (nil):
    /// a request never passes on one header while presenting a bad other one.
    static func presented(authorization: String?, apiKey: String?) -> Substring? {
        if let authorization { return RequestGuards.bearerToken(in: authorization) }
        if let apiKey, !apiKey.isEmpty { return Substring(apiKey) }
        return nil
    }
}
