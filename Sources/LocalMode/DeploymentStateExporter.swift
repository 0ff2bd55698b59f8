import Foundation
import KubeProbes
import Logging
import Prometheus
import ServiceLifecycle

/// What kube-state-metrics would tell Prometheus about the local Deployments: their
/// desired and ready replicas, as `kube_deployment_spec_replicas` and
/// `kube_deployment_status_replicas_ready` `{namespace, deployment}`, on a loopback
/// port Prometheus scrapes. With it, the local run's backtest shows what the
/// Deployment really had beside the replays and measures its pod start, as it does in
/// a cluster.
final class DeploymentStateExporter: Sendable {
    let port: Int
    private let registry: PrometheusCollectorRegistry
    private let server: Task<Void, any Error>
    private let group: ServiceGroup

    private init(port: Int, registry: PrometheusCollectorRegistry, server: Task<Void, any Error>, group: ServiceGroup) {
        self.port = port
        self.registry = registry
        self.server = server
        self.group = group
    }

    /// Starts serving on a free loopback port.
    static func start(logger: Logger) async throws -> DeploymentStateExporter {
        let registry = PrometheusCollectorRegistry()
        let bound = AsyncStream<Int>.makeStream()
        let probes = ProbeServer(host: "127.0.0.1", port: 0, registry: registry, isReady: { true }, onBound: { bound.continuation.yield($0) }, logger: logger)
        // In a service group of its own, so that stopping it is a graceful shutdown (a
        // cancelled server logs its open connections as errors).
        let group = ServiceGroup(configuration: .init(services: [probes], logger: logger))
        let server = Task { try await group.run() }
        var port = 0
        for await value in bound.stream {
            port = value
            break
        }
        guard port > 0 else {
            server.cancel()
            throw LocalRunError.failed("the Deployment state exporter did not start")
        }
        return DeploymentStateExporter(port: port, registry: registry, server: server, group: group)
    }

    /// Records a Deployment's desired and ready replicas.
    func set(desired: Int, ready: Int, namespace: String, deployment: String) {
        let labels = [("namespace", namespace), ("deployment", deployment)]
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "kube_deployment", metricName: "spec", unitName: "replicas",
                helpText: "Desired replicas of the Deployment (as kube-state-metrics names it)."),
            labels: labels
        ).set(Int64(desired))
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "kube_deployment", metricName: "status_replicas", unitName: "ready",
                helpText: "Ready replicas of the Deployment (as kube-state-metrics names it)."),
            labels: labels
        ).set(Int64(ready))
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        let server = self.server
        // A connection Prometheus keeps open must not hold the stop for long.
        let deadline = Task {
            try await Task.sleep(for: .seconds(3))
            server.cancel()
        }
        _ = await server.result
        deadline.cancel()
    }
}
