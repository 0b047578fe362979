/// Random identifiers and tokens from the system's cryptographic generator (getrandom on Linux).
public enum SecureRandom {
    /// `byteCount` random bytes as lowercase hex (visible ASCII, safe in headers and files).
    public static func hex(byteCount: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.lowercase((0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
