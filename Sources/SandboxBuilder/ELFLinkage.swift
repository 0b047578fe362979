/// What an ELF executable asks the dynamic loader for, read from its program headers, so
/// `--bridge-binary` can refuse a binary whose Swift runtime would be missing in the image
/// (the container would restart in a loop otherwise).
public enum ELFLinkage {
    public struct Unreadable: Error, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// Libraries a host-built bridge must not need: the image has no Swift runtime.
    static let swiftRuntimePrefixes = ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime"]

    /// The Swift runtime libraries among `needed` (empty for a binary built with
    /// `--static-swift-stdlib`, as `scripts/build-release` does).
    public static func swiftRuntimeLibraries(in needed: [String]) -> [String] {
        needed.filter { name in swiftRuntimePrefixes.contains { name.hasPrefix($0) } }
    }

    /// The DT_NEEDED entries of a little-endian ELF64 file (empty when it is fully static).
    public static func neededLibraries(_ bytes: [UInt8]) throws(Unreadable) -> [String] {
        func integer(_ offset: Int, _ size: Int) throws(Unreadable) -> Int {
            guard offset >= 0, size <= 8, offset <= bytes.count - size else { throw Unreadable(reason: "truncated ELF file") }
            var value: UInt64 = 0
            for index in (0..<size).reversed() { value = value << 8 | UInt64(bytes[offset + index]) }
            guard value <= UInt64(Int.max) else { throw Unreadable(reason: "ELF field out of range") }
            return Int(value)
        }
        guard bytes.count >= 64, bytes[0] == 0x7F, bytes[1] == 0x45, bytes[2] == 0x4C, bytes[3] == 0x46 else {
            throw Unreadable(reason: "not an ELF executable")
        }
        guard bytes[4] == 2, bytes[5] == 1 else { throw Unreadable(reason: "not a 64-bit little-endian ELF executable") }
        let headerOffset = try integer(0x20, 8), headerSize = try integer(0x36, 2), headerCount = try integer(0x38, 2)
        // Every offset is checked against the file before any arithmetic, so no sum overflows.
        guard headerSize >= 56, headerOffset < bytes.count else { throw Unreadable(reason: "malformed ELF program headers") }
        var loads: [(address: Int, offset: Int, size: Int)] = []
        var dynamic: (offset: Int, size: Int)?
        for index in 0..<headerCount {
            let header = headerOffset + index * headerSize
            switch try integer(header, 4) {
            case 1: loads.append((try integer(header + 16, 8), try integer(header + 8, 8), try integer(header + 32, 8)))
            case 2: dynamic = (min(try integer(header + 8, 8), bytes.count), min(try integer(header + 32, 8), bytes.count))
            default: break
            }
        }
        guard let dynamic else { return [] }
        var neededOffsets: [Int] = []
        var stringTableAddress: Int?
        var entry = dynamic.offset
        while entry + 16 <= dynamic.offset + dynamic.size {
            let tag = try integer(entry, 8)
            if tag == 0 { break }
            if tag == 1 { neededOffsets.append(try integer(entry + 8, 8)) }
            if tag == 5 { stringTableAddress = try integer(entry + 8, 8) }
            entry += 16
        }
        if neededOffsets.isEmpty { return [] }
        guard let stringTableAddress,
              let segment = loads.first(where: { $0.address <= stringTableAddress && stringTableAddress - $0.address < $0.size }),
              segment.offset < bytes.count, stringTableAddress - segment.address < bytes.count else {
            throw Unreadable(reason: "ELF string table not found")
        }
        let table = stringTableAddress - segment.address + segment.offset
        return try neededOffsets.map { (offset) throws(Unreadable) -> String in
            guard offset < bytes.count, table + offset < bytes.count else { throw Unreadable(reason: "ELF string out of range") }
            var end = table + offset
            let start = end
            while end < bytes.count, bytes[end] != 0 { end += 1 }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
    }
}
