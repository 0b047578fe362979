import Testing

@testable import MCPBridge

@Suite struct HexTests {
    @Test func bytesBecomeTwoLowercaseDigitsEach() {
        #expect(Hex.lowercase([0x00, 0x0f, 0x10, 0xa0, 0xff]) == "000f10a0ff")
        #expect(Hex.lowercase([UInt8]()) == "")
        #expect(Hex.lowercase(SHA256.digest(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func randomTokensAreHexOfTheAskedLengthAndDiffer() {
        let first = SecureRandom.hex(byteCount: 16), second = SecureRandom.hex(byteCount: 16)
        #expect(first.count == 32 && first.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(first != second)
    }
}
