import Foundation
import Logging
import SQLiteNIO

/// The service's state: one SQLite file in the state directory. Every change is one statement
/// in WAL mode with full sync, so a kill -9 at any point leaves either the old or the new row.
struct StateStore: Sendable {
    let connection: SQLiteConnection

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func open(directory: URL, logger: Logger) async throws -> StateStore {
        let path = directory.appendingPathComponent("state.sqlite3").path
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw Failure(description: "cannot open the state database \(path): \(error); check --state-dir and its permissions")
        }
        let store = StateStore(connection: connection)
        for statement in [
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "CREATE TABLE IF NOT EXISTS deployments (name TEXT PRIMARY KEY, record BLOB NOT NULL)",
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ] {
            _ = try await connection.query(statement)
        }
        return store
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return encoder
    }()

    func records() async throws -> [DeploymentRecord] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try await connection.query("SELECT name, record FROM deployments ORDER BY name").map { row in
            guard let blob = row.column("record")?.blob else { throw Failure(description: "a deployment row has no record") }
            return try decoder.decode(DeploymentRecord.self, from: Data(blob.readableBytesView))
        }
    }

    func save(_ record: DeploymentRecord) async throws {
        let data = try Self.encoder.encode(record)
        _ = try await connection.query("INSERT OR REPLACE INTO deployments (name, record) VALUES (?, ?)",
                                       [.text(record.name), .blob(ByteBuffer(bytes: data))])
    }

    func remove(_ name: String) async throws {
        _ = try await connection.query("DELETE FROM deployments WHERE name = ?", [.text(name)])
    }

    func meta(_ key: String) async throws -> String? {
        try await connection.query("SELECT value FROM meta WHERE key = ?", [.text(key)]).first?.column("value")?.string
    }

    func setMeta(_ key: String, _ value: String) async throws {
        _ = try await connection.query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [.text(key), .text(value)])
    }

    func close() async {
        try? await connection.close()
    }
}
