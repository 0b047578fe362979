#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Container PID 1 duties. The kernel gives PID 1 no default signal handlers and makes it
/// the parent of every orphan, so when the bridge starts as PID 1 it splits in two: this
/// small supervisor stays PID 1, forwards signals and reaps every zombie, while the bridge
/// proper runs as its child and keeps exact control over its own MCP server children.
public enum InitSupervisor {
    private static let forwardedSignals = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

    /// Runs the supervisor and never returns when this process is PID 1 (unless
    /// `MCP_BRIDGE_INIT=0`); returns immediately otherwise. With a `front` identity and root,
    /// the supervisor becomes that user with no capabilities once the bridge is started (the
    /// bridge drops its own privileges; it needs root at exec to keep the few it needs).
    public static func takeOverIfPID1(front: ProcessIdentity?, environment: [String: String]) {
        guard getpid() == 1, getenv("MCP_BRIDGE_INIT").map({ String(cString: $0) }) != "0" else { return }
        var handled = sigset_t()
        sigemptyset(&handled)
        for signal in forwardedSignals + [SIGCHLD] { sigaddset(&handled, signal) }
        sigprocmask(SIG_BLOCK, &handled, nil)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &handled)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var bridge: pid_t = 0
        // The resolved path, so the bridge's process name is mcp-bridge (not "exe") in ps and /proc.
        let spawned = posix_spawn(&bridge, ownExecutable(), nil, &attributes, CommandLine.unsafeArgv, environ)
        posix_spawnattr_destroy(&attributes)
        guard spawned == 0 else {
            StandardError.write("mcp-bridge: as PID 1, could not start the bridge process: \(String(cString: strerror(spawned)))\n")
            exit(1)
        }
        // The bridge has its own copy now; the supervisor's start-up environment may hold secrets.
        LaunchEnvironment.scrub(keeping: environment)
        if let front, getuid() == 0 {
            do {
                try Privileges.dropAll(to: front)
            } catch {
                StandardError.write("mcp-bridge: as PID 1, \(error)\n")
                kill(bridge, SIGKILL)
                exit(1)
            }
        }
        while true {
            let received = sigwaitinfo(&handled, nil)
            if received == SIGCHLD {
                var status: Int32 = 0
                while true {
                    let reaped = waitpid(-1, &status, WNOHANG)
                    guard reaped > 0 else { break }
                    if reaped == bridge { exit(exitCode(fromWaitStatus: status)) }
                }
            } else if received > 0 {
                kill(bridge, received)
            }
        }
    }

    private static func ownExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return "/proc/self/exe" }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The shell convention: the exit code, or 128 + the signal number.
    static func exitCode(fromWaitStatus status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}
