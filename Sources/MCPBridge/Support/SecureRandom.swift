/// Random identifiers and tokens from the system's cryptographic generator (getrandom on Linux).
public enum SecureRandom {
    /// `byteCount` random bytes as lowercase hex (visible ASCII, safe in headers and files).
    public static func hex(byteCount: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        text.reserveCapacity(byteCount * 2)
        for _ in 0..<byteCount {
            let byte = UInt8.random(in: 0...255, using: &generator)
            text += byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }
        return text
    }
}
