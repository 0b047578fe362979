import MCPBridge
@testable import MCPConnect
import Testing

@Suite struct CertificateFingerprintTests {
    @Test func sha256MatchesTheFIPSVectors() {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
        #expect(hex(SHA256.digest(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.digest([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(SHA256.digest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func parsesTheFormsPeopleCopy() throws {
        let colons = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
        let parsed = try CertificateFingerprint(parsing: colons)
        #expect(parsed.description == colons)
        #expect(try CertificateFingerprint(parsing: "sha256 Fingerprint=" + colons) == parsed)
        #expect(try CertificateFingerprint(parsing: "SHA256:" + colons.lowercased().filter { $0 != ":" }) == parsed)
        #expect(throws: CertificateFingerprint.Invalid.self) { try CertificateFingerprint(parsing: "AB:CD") }
        #expect(throws: CertificateFingerprint.Invalid.self) { try CertificateFingerprint(parsing: String(repeating: "zz", count: 32)) }
    }
}
