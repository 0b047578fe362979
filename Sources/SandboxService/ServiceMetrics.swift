import Prometheus

/// The service's own Prometheus registry (`/metrics`), separate from any process-wide one.
struct ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    func deployments(_ state: DeploymentRecord.State) -> Gauge {
        registry.makeGauge(name: "mcp_sandbox_deployments", labels: [("state", state.rawValue)], help: "Deployments by state")
    }

    func frontDoorRequests(status: Int) -> Counter {
        registry.makeCounter(name: "mcp_sandbox_front_door_requests_total", labels: [("status", String(status))],
                             help: "Requests through /d/{name}, by the status answered")
    }

    var authFailures: Counter {
        registry.makeCounter(name: "mcp_sandbox_auth_failures_total", help: "Requests refused for a missing or wrong key or token")
    }

    var wakes: DurationHistogram {
        registry.makeDurationHistogram(name: "mcp_sandbox_wake_seconds",
                                       buckets: [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30)],
                                       help: "From the request that found a stopped deployment to a healthy bridge")
    }

    var operationsFailed: Counter {
        registry.makeCounter(name: "mcp_sandbox_operations_failed_total", help: "Creates, starts and stops that failed")
    }

    func render() -> String { registry.emitToString() }
}
