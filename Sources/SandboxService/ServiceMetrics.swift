import Prometheus

/// The service's own Prometheus registry (`/metrics`), separate from any process-wide one.
struct ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    func deployments(_ state: DeploymentRecord.State) -> Gauge {
        registry.makeGauge(descriptor: .init(metricName: "mcp_sandbox_deployments", unitName: "", helpText: "Deployments by state"),
                           labels: [("state", state.rawValue)])
    }

    func frontDoorRequests(status: Int) -> Counter {
        registry.makeCounter(descriptor: .init(metricName: "mcp_sandbox_front_door_requests", unitName: "total",
                                              helpText: "Requests through /d/{name}, by the status answered"),
                             labels: [("status", String(status))])
    }

    var authFailures: Counter {
        registry.makeCounter(descriptor: .init(metricName: "mcp_sandbox_auth_failures", unitName: "total",
                                              helpText: "Requests refused for a missing or wrong key or token"))
    }

    var wakes: DurationHistogram {
        registry.makeDurationHistogram(descriptor: .init(metricName: "mcp_sandbox_wake", unitName: "seconds",
                                                        helpText: "From the request that found a stopped deployment to a healthy bridge"),
                                       buckets: [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30)])
    }

    var operationsFailed: Counter {
        registry.makeCounter(descriptor: .init(metricName: "mcp_sandbox_operations_failed", unitName: "total",
                                              helpText: "Creates, starts and stops that failed"))
    }

    func render() -> String { registry.emitToString() }
}
