/// Bytes as lowercase hexadecimal: tokens, identifiers and digests as visible ASCII.
public enum Hex {
    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        var text = ""
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes { text += byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }
        return text
    }
}
