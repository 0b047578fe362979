import Foundation

/// Merges one server into a client's configuration file: a timestamped backup of the old file
/// first, then an atomic replace; every other byte of the file stays as it was (`JSONSplice`).
public struct ClientConfigFile: Sendable {
    public let path: URL

    /// A symlinked configuration (dotfiles kept elsewhere) is edited where it points, so the
    /// link stays a link.
    public init(path: URL) { self.path = path.resolvingSymlinksInPath() }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes `name` into the file's `container`; returns where the backup went (nil for a new file).
    @discardableResult
    public func merge(container: String, name: String, value: OrderedJSON, now: Date = Date()) throws -> URL? {
        let manager = FileManager.default
        var old = ""
        var backup: URL?
        var mode: Int = 0o600  // a new file holds the token: owner only
        if manager.fileExists(atPath: path.path) {
            guard let data = manager.contents(atPath: path.path) else {
                throw Failure(description: "\(path.path): cannot read it; check its permissions")
            }
            old = String(decoding: data, as: UTF8.self)
            if let attributes = try? manager.attributesOfItem(atPath: path.path), let existing = attributes[.posixPermissions] as? Int {
                mode = existing
            }
        }
        let updated: String
        do {
            updated = try JSONSplice.upsert(old, container: container, name: name, value: value)
        } catch let failure as JSONSplice.Failure {
            throw Failure(description: "\(path.path): \(failure.description); fix the file or pass --config for another one (nothing was written)")
        }
        try manager.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !old.isEmpty || manager.fileExists(atPath: path.path) {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd-HHmmss"
            formatter.timeZone = TimeZone(identifier: "UTC")
            var candidate = URL(fileURLWithPath: path.path + ".backup-" + formatter.string(from: now))
            var counter = 1
            while manager.fileExists(atPath: candidate.path) {
                counter += 1
                candidate = URL(fileURLWithPath: path.path + ".backup-" + formatter.string(from: now) + "-\(counter)")
            }
            try manager.copyItem(at: path, to: candidate)
            backup = candidate
        }
        // Write beside the file and rename over it: a crash leaves the old file or the new one.
        let temporary = path.deletingLastPathComponent().appendingPathComponent(".\(path.lastPathComponent).tmp-\(getpid())")
        guard manager.createFile(atPath: temporary.path, contents: Data(updated.utf8), attributes: [.posixPermissions: mode]) else {
            throw Failure(description: "\(temporary.path): cannot write it")
        }
        // rename(2) itself: Foundation's replaceItemAt removes the old file first on Linux.
        guard rename(temporary.path, path.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? manager.removeItem(at: temporary)
            throw Failure(description: "\(path.path): cannot replace it (\(reason)); it is unchanged")
        }
        return backup
    }
}
