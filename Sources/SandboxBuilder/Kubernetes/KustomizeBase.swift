import Foundation

/// Writes the manifests as a kustomize base (`kubectl apply -k DIR`): one file per object and
/// `kustomization.yaml`. The Secrets hold the token, so the folder is 0700 and its files 0600.
/// The folder appears whole or not at all: it is written beside the target and renamed into place.
public struct KustomizeBase: Sendable {
    public let manifests: KubernetesManifests

    public init(manifests: KubernetesManifests) { self.manifests = manifests }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public func write(to directory: URL, replacing: Bool) throws {
        let files = FileManager.default
        let target = directory.standardizedFileURL
        let exists = files.fileExists(atPath: target.path)
        if exists, !replacing {
            throw Failure(description: "\(target.path) already exists; pass --force to replace it, or choose another folder")
        }
        let staging = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).new-\(getpid())")
        try? files.removeItem(at: staging)
        do {
            try files.createDirectory(at: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            var contents = manifests.documents.map { ($0.fileName, $0.value.document) }
            contents.append(("kustomization.yaml", manifests.kustomization.document))
            for (name, text) in contents {
                guard files.createFile(atPath: staging.appendingPathComponent(name).path, contents: Data(text.utf8),
                                       attributes: [.posixPermissions: 0o600]) else {
                    throw Failure(description: "cannot write \(staging.appendingPathComponent(name).path)")
                }
            }
            if exists {
                // Swap: the old base is kept until the new one is in place.
                let old = staging.appendingPathExtension("old")
                try files.moveItem(at: target, to: old)
                do {
                    try files.moveItem(at: staging, to: target)
                } catch {
                    try? files.moveItem(at: old, to: target)
                    throw error
                }
                try? files.removeItem(at: old)
            } else {
                try files.moveItem(at: staging, to: target)
            }
        } catch {
            try? files.removeItem(at: staging)
            if let failure = error as? Failure { throw failure }
            throw Failure(description: "cannot write the kustomize base to \(target.path): \(error.localizedDescription)")
        }
    }
}
