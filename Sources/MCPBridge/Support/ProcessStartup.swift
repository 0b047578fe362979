/// The first steps of every mcp-bridge process, in the order the security design needs: PID 1
/// supervision (which must spawn the bridge before anything is scrubbed or dropped), the start-up
/// environment zeroed, then the identity switch while the process still has one thread.
public enum ProcessStartup {
    public enum Mode: Sendable {
        /// Serving (or relaying): become `front`, keeping what is needed to run children as `child`.
        case serve(child: ProcessIdentity?)
        /// `--healthcheck` or `--version`: become `front` with nothing at all.
        case probe
    }

    public static func prepare(front: ProcessIdentity?, mode: Mode, environment: [String: String]) throws {
        InitSupervisor.takeOverIfPID1(front: front, environment: environment)
        LaunchEnvironment.scrub(keeping: environment)
        switch mode {
        case .probe:
            if let front, Privileges.isRoot { try Privileges.dropAll(to: front) }
        case .serve(let child):
            try Privileges.prepare(front: front, child: child)
        }
    }
}
