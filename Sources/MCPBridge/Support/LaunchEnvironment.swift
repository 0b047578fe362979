#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The environment the bridge started with, plus the secrets file, read once; and the scrub
/// that removes them from where other processes could read them.
///
/// `/proc/PID/environ` shows the environment a process was started with. Linux guards it with
/// ptrace rules, but some gVisor releases (Debian's 2022 runsc among them) let any process read
/// any other's. So secrets reach the bridge in a root-only file (`MCP_BRIDGE_SECRETS_FILE`,
/// NUL-separated `NAME=VALUE` entries, as `builder` writes it), the bridge zeroes its start-up
/// environment, and sidecars receive their secrets on standard input instead of in theirs.
public enum LaunchEnvironment {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The launch environment merged with the secrets file (the file wins).
    public static let snapshot: Result<[String: String], Failure> = read()

    /// Variables that hold a credential of the front: never in any environment after start-up,
    /// never given to the MCP server.
    public static func isSecret(_ name: String) -> Bool {
        guard ChildEnvironment.isFrontVariable(name) else { return false }
        return ["TOKEN", "SECRET", "PASSWORD", "KEY"].contains { name.contains($0) }
    }

    static func read() -> Result<[String: String], Failure> {
        var values: [String: String] = [:]
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                values[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            index += 1
        }
        guard let path = values["MCP_BRIDGE_SECRETS_FILE"], !path.isEmpty else { return .success(values) }
        do {
            let secrets = try parseSecrets(try readFile(path), path: path)
            values.merge(secrets) { $1 }
            return .success(values)
        } catch let failure as Failure {
            return .failure(failure)
        } catch {
            return .failure(Failure(description: "MCP_BRIDGE_SECRETS_FILE=\(path): \(error)"))
        }
    }

    /// NUL-separated `NAME=VALUE` entries (values may hold newlines), at most 1 MiB.
    public static func parseSecrets(_ bytes: [UInt8], path: String) throws -> [String: String] {
        var secrets: [String: String] = [:]
        for (number, entry) in bytes.split(separator: 0, omittingEmptySubsequences: true).enumerated() {
            guard let equals = entry.firstIndex(of: UInt8(ascii: "=")), equals != entry.startIndex else {
                throw Failure(description: "MCP_BRIDGE_SECRETS_FILE=\(path): entry \(number + 1) is not NAME=VALUE")
            }
            secrets[String(decoding: entry[..<equals], as: UTF8.self)] = String(decoding: entry[(equals + 1)...], as: UTF8.self)
        }
        return secrets
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw Failure(description: "MCP_BRIDGE_SECRETS_FILE=\(path): cannot open it (\(reason)) as uid \(getuid()); the bridge reads it before leaving root, so start it as root or make the file readable by uid \(getuid())")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw Failure(description: "MCP_BRIDGE_SECRETS_FILE=\(path): read failed (\(String(cString: strerror(errno))))") }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            guard bytes.count <= 1 << 20 else { throw Failure(description: "MCP_BRIDGE_SECRETS_FILE=\(path): larger than 1 MiB") }
        }
    }

    /// Zeroes the start-up environment in place (what `/proc/PID/environ` shows) and rebuilds the
    /// process environment on the heap without the front's variables. Call while single-threaded.
    public static func scrub(keeping values: [String: String]) {
        var index = 0
        while let entry = environ[index] {
            memset(entry, 0, strlen(entry))
            index += 1
        }
        clearenv()
        for (name, value) in values where !ChildEnvironment.isFrontVariable(name) {
            setenv(name, value, 1)
        }
    }
}

#if canImport(Glibc)
private let systemRead = Glibc.read
#elseif canImport(Musl)
private let systemRead = Musl.read
#endif
