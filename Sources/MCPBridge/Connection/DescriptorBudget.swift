#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging

/// Makes the connection cap fit the descriptor limit, so the cap (which the bridge reports) bites
/// before `accept` fails with EMFILE (which nobody would see): raises the soft limit to the hard
/// one, then lowers the cap if the sessions' pipes and a reserve would not fit beside it.
enum DescriptorBudget {
    /// Descriptors one session may hold: three pipes to its child, plus its stream.
    static let perSession = 8
    /// Listening socket, logs, /proc reads, sidecars, relays.
    static let reserve = 64

    static func fit(_ limits: ConnectionLimits, sessions: Int, logger: Logger) -> ConnectionLimits {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return limits }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let available = Int(clamping: limit.rlim_cur) - reserve - sessions * perSession
        var fitted = limits
        fitted.maximumConnections = fittedCap(limits.maximumConnections, available: available)
        if fitted.maximumConnections < limits.maximumConnections {
            logger.warning("the descriptor limit leaves room for fewer connections than --max-connections; raise it (ulimit -n, docker --ulimit nofile=) or lower --max-sessions", metadata: [
                "max_connections": "\(fitted.maximumConnections)", "nofile": "\(limit.rlim_cur)",
            ])
        }
        return fitted
    }

    static func fittedCap(_ wanted: Int, available: Int) -> Int {
        min(wanted, max(16, available))
    }
}
