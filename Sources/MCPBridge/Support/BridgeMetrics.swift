import CoreMetrics

/// The bridge's counters and gauges, reported through swift-metrics (Prometheus at `/metrics`).
public struct BridgeMetrics: Sendable {
    private let sessionsActive: Gauge
    private let sessionsStarted: Counter
    private let childrenRunning: Gauge
    private let bytesToChild: Counter
    private let bytesFromChild: Counter
    /// Counters per (path, method, status), made once: creating one per request costs a registry lookup.
    private let requestCounters = RequestCounters()

    private final class RequestCounters: Sendable {
        /// The three values as they come, not joined into one string: building that key cost
        /// more than the lookup.
        private struct Key: Hashable {
            var path: String
            var method: String
            var status: Int
        }

        private let counters = Locked<[Key: Counter]>([:])

        func counter(path: String, method: String, status: Int) -> Counter {
            let key = Key(path: path, method: method, status: status)
            return counters.withLock { counters in
                if let counter = counters[key] { return counter }
                let counter = Counter(label: "mcp_bridge_http_requests_total", dimensions: [("path", path), ("method", method), ("status", String(status))])
                counters[key] = counter
                return counter
            }
        }
    }

    public init() {
        sessionsActive = Gauge(label: "mcp_bridge_sessions_active")
        sessionsStarted = Counter(label: "mcp_bridge_sessions_started_total")
        childrenRunning = Gauge(label: "mcp_bridge_children_running")
        bytesToChild = Counter(label: "mcp_bridge_bytes_total", dimensions: [("direction", "to_child")])
        bytesFromChild = Counter(label: "mcp_bridge_bytes_total", dimensions: [("direction", "from_child")])
    }

    func sessionsChanged(active: Int, children: Int) {
        sessionsActive.record(active)
        childrenRunning.record(children)
    }

    func sessionStarted(transport: String) {
        sessionsStarted.increment()
        Counter(label: "mcp_bridge_sessions_by_transport_total", dimensions: [("transport", transport)]).increment()
    }

    func request(path: String, method: String, status: Int) {
        requestCounters.counter(path: path, method: method, status: status).increment()
    }

    func errors(kind: String) {
        Counter(label: "mcp_bridge_errors_total", dimensions: [("kind", kind)]).increment()
    }

    func bytesToChild(_ count: Int) { bytesToChild.increment(by: count) }
    func bytesFromChild(_ count: Int) { bytesFromChild.increment(by: count) }
}
