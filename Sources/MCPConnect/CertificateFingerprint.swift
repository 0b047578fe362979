import MCPBridge

/// A SHA-256 certificate fingerprint, as `openssl x509 -fingerprint -sha256` and `builder start`
/// print it (`AB:CD:…`); colons, case and a `sha256:` / `SHA256=` prefix do not matter.
public struct CertificateFingerprint: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]

    public struct Invalid: Error, CustomStringConvertible {
        public let text: String
        public var description: String {
            "expected a SHA-256 fingerprint of 64 hex digits (colons allowed, e.g. as `builder start` prints it), got \(text.isEmpty ? "nothing" : "\"\(text)\"")"
        }
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init(parsing text: String) throws {
        var body = Substring(text.trimmingSpaces)
        for prefix in ["sha256:", "sha256=", "sha256 fingerprint="] where body.lowercased().hasPrefix(prefix) {
            body = body.dropFirst(prefix.count)
        }
        let digits = body.filter { $0 != ":" && $0 != " " }
        guard digits.count == 64, digits.allSatisfy(\.isHexDigit) else { throw Invalid(text: text) }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { throw Invalid(text: text) }
            bytes.append(byte)
            index = next
        }
        self.bytes = bytes
    }

    /// The fingerprint of a DER-encoded certificate.
    public static func of(der: some Collection<UInt8>) -> CertificateFingerprint {
        CertificateFingerprint(bytes: SHA256.digest(der))
    }

    public var description: String {
        bytes.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: ":")
    }
}
