#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CPrivileges

/// The bridge's two identities. The *front* (the bridge, nginx, tunnel agents) holds the secrets;
/// every MCP server child runs as a different uid with no capabilities, so it can neither signal,
/// trace nor read the front's processes and files. To start children as another uid and signal
/// them, the bridge keeps exactly CAP_SETUID, CAP_SETGID and CAP_KILL after leaving root; its
/// sidecars start as the front uid with no capabilities (exec as non-root clears them).
public enum Privileges {
    /// What the bridge process keeps when it runs children under another identity.
    public static let childSwitchingCapabilities: UInt64 =
        1 << UInt64(MCP_CAP_SETUID) | 1 << UInt64(MCP_CAP_SETGID) | 1 << UInt64(MCP_CAP_KILL)

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public struct Capabilities: Sendable, Equatable {
        public var effective: UInt64
        public var permitted: UInt64
        public var inheritable: UInt64
        public var ambient: UInt64
    }

    public static var isRoot: Bool { getuid() == 0 }

    /// The calling thread's capability sets.
    public static func capabilities() -> Capabilities {
        var effective: UInt64 = 0, permitted: UInt64 = 0, inheritable: UInt64 = 0
        _ = mcp_capabilities(&effective, &permitted, &inheritable)
        return Capabilities(effective: effective, permitted: permitted, inheritable: inheritable, ambient: mcp_ambient_capabilities())
    }

    /// Becomes the front identity (when given) and checks that children can be started as
    /// `child` (when given). Must run before the process starts a second thread, since
    /// capabilities are per thread; it refuses otherwise rather than leave threads behind with
    /// other privileges.
    public static func prepare(front: ProcessIdentity?, child: ProcessIdentity?) throws {
        if let front {
            let keep = child == nil ? 0 : childSwitchingCapabilities
            try switchIdentity(to: front, keeping: keep, flag: "--user")
        }
        if let child { try checkCanStartChildren(as: child) }
    }

    /// The `--healthcheck` probe and PID 1 after it has started the bridge: the front identity,
    /// no capabilities at all.
    public static func dropAll(to front: ProcessIdentity) throws {
        try switchIdentity(to: front, keeping: 0, flag: "--user")
    }

    static func switchIdentity(to identity: ProcessIdentity, keeping keep: UInt64, flag: String) throws {
        let threads = threadCount()
        if keep != 0, threads != 1 {
            throw Failure(description: "\(flag) \(identity): the identity switch must happen while the bridge has one thread, but it has \(threads); this is a bug in mcp-bridge")
        }
        var step: UnsafePointer<CChar>? = nil
        let failed = mcp_switch_identity(uid_t(identity.uid), gid_t(identity.gid), keep, &step)
        guard failed == 0 else {
            let call = step.map { String(cString: $0) } ?? "?"
            var advice = "start the bridge as root (in Docker: --user 0:0 with --cap-add SETUID --cap-add SETGID --cap-add KILL)"
            if keep != 0, getuid() == identity.uid {
                advice = "the bridge already runs as \(identity.uid) but lacks CAP_SETUID, CAP_SETGID or CAP_KILL; " + advice
            }
            throw Failure(description: "\(flag) \(identity): \(call) failed (\(String(cString: strerror(failed)))) as uid \(getuid()); \(advice)")
        }
    }

    /// Refuses every way a child could end up with the bridge's own powers.
    static func checkCanStartChildren(as child: ProcessIdentity) throws {
        guard child.uid != 0, child.gid != 0 else {
            throw Failure(description: "--child-user \(child): the MCP server must not run as root (uid or gid 0); pick an unused uid such as 10002:10002")
        }
        guard child.uid != getuid() else {
            throw Failure(description: "--child-user \(child): that is the bridge's own uid, so the server could signal and read the bridge; pick a different uid (and --user for the bridge)")
        }
        let effective = capabilities().effective
        guard effective & childSwitchingCapabilities == childSwitchingCapabilities else {
            throw Failure(description: "--child-user \(child): the bridge (uid \(getuid())) cannot start children as another user: it lacks CAP_SETUID, CAP_SETGID or CAP_KILL. Start it as root with --user UID:GID for itself (in Docker: --user 0:0 --cap-add SETUID --cap-add SETGID --cap-add KILL), or drop --child-user")
        }
    }

    /// Threads of this process, from /proc (1 when it cannot be read).
    static func threadCount() -> Int {
        guard let directory = opendir("/proc/self/task") else { return 1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { count += 1 }
        }
        return count
    }
}
