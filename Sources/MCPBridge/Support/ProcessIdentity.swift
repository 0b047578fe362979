/// A numeric `UID[:GID]` (the group defaults to the uid). Numbers only: the images' root
/// filesystems are read-only and need no passwd entries, and a name could resolve differently
/// inside and outside a container.
public struct ProcessIdentity: Sendable, Equatable, CustomStringConvertible {
    public var uid: UInt32
    public var gid: UInt32

    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var text: String
        public var description: String {
            "expected a numeric UID or UID:GID (e.g. 10002:10002), got \"\(text)\""
        }
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count),
              let uid = Self.number(parts[0]),
              let gid = parts.count == 2 ? Self.number(parts[1]) : uid
        else { throw ParseError(text: text) }
        self.init(uid: uid, gid: gid)
    }

    /// Decimal digits only, below 2^32 - 1 (which the kernel reserves as "no id").
    private static func number(_ text: Substring) -> UInt32? {
        guard !text.isEmpty, text.count <= 10, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let value = UInt32(text), value != UInt32.max else { return nil }
        return value
    }

    public var description: String { "\(uid):\(gid)" }
}
