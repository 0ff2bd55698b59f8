import Foundation
import KubeProbes
import LocalKube
import Logging
import Prometheus

/// What kube-state-metrics would tell Prometheus about the local Deployments: their
/// desired and ready replicas, as `kube_deployment_spec_replicas` and
/// `kube_deployment_status_replicas_ready` `{namespace, deployment}`, on a loopback
/// port Prometheus scrapes. With it, the local run's backtest shows what the
/// Deployment really had beside the replays and measures its pod start, as it does in
/// a cluster.
final class DeploymentStateExporter: Sendable {
    let port: Int
    private let registry: PrometheusCollectorRegistry
    private let server: BackgroundServices

    private init(port: Int, registry: PrometheusCollectorRegistry, server: BackgroundServices) {
        self.port = port
        self.registry = registry
        self.server = server
    }

    /// Starts serving on a free loopback port.
    static func start(logger: Logger) async throws -> DeploymentStateExporter {
        let registry = PrometheusCollectorRegistry()
        let bound = AsyncStream<Int>.makeStream()
        let probes = ProbeServer(host: "127.0.0.1", port: 0, registry: registry, isReady: { true }, onBound: { bound.continuation.yield($0) }, logger: logger)
        let server = BackgroundServices([probes], logger: logger)
        var port = 0
        for await value in bound.stream {
            port = value
            break
        }
        guard port > 0 else {
            _ = await server.cancel()
            throw LocalRunError.failed("the Deployment state exporter did not start")
        }
        return DeploymentStateExporter(port: port, registry: registry, server: server)
    }

    /// Records a Deployment's desired and ready replicas.
    func set(desired: Int, ready: Int, namespace: String, deployment: String) {
        let labels = [("namespace", namespace), ("deployment", deployment)]
        func gauge(_ name: String, _ unit: String, _ help: String) -> Gauge {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(namespace: "kube_deployment", metricName: name, unitName: unit, helpText: help), labels: labels)
        }
        gauge("spec", "replicas", "Desired replicas of the Deployment (as kube-state-metrics names it).").set(Int64(desired))
        gauge("status_replicas", "ready", "Ready replicas of the Deployment (as kube-state-metrics names it).").set(Int64(ready))
    }

    func stop() async {
        // A connection Prometheus keeps open must not hold the stop for long.
        await server.stop(within: .seconds(3))
    }
}
