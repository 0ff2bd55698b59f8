import Foundation
import KubeAPI
import TideAPI
import TideScaler
import TideTestSupport
import Testing

@Suite("Scaler with several metrics against LocalKube")
struct MultiMetricScalerTests {
    @Test("one metric fails: no scale-down, exit 0; the condition, the Warning and status name the failing metric and keep each value")
    func oneFails() async throws {
        let cluster = try await ScalerCluster.start()
        let prometheus = try await FakePrometheus.start(body: vector("5"))
        let endpoints = try await MetricEndpoints.start()
        defer { Task { await prometheus.stop(); await endpoints.stop(); await cluster.stop() } }
        endpoints.live.set(12)
        let metrics = [
            ScalingMetric(
                name: "rps", prometheus: PrometheusSource(address: prometheus.url.absoluteString, query: "sum(rate(x[1m]))"),
                target: MetricTarget(type: .perReplica, value: "5")),
            ScalingMetric(
                name: "orders", http: HTTPSource(url: endpoints.url("live"), valueLocation: "data.orders"),
                target: MetricTarget(type: .perReplica, value: "10")),
        ]
        try await cluster.create("shop", prometheus: prometheus.url, replicas: 4) {
            $0.prometheus = nil
            $0.target = nil
            $0.metrics = metrics
            $0.behavior = ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 0))
        }
        let first = await Scaler(client: cluster.client, namespace: "default", name: "shop").runOnce()
        #expect(first.exitCode == 0, "\(first.line)")
        var application = try await cluster.applications.get("shop")
        #expect(application.spec.replicas == 2, "rps asks for 1, orders for 2: the largest wins")
        var status = try await cluster.scalerStatus("shop")
        #expect(status?.scaling?.summary == "rps=5 orders=12 (by orders)")
        #expect(status?.scaling?.drivingMetric == "orders")

        // The endpoint starts failing while rps alone would scale down to 1.
        var spec = application.spec
        spec.replicas = 4
        spec.scaling?.metrics?[1].http?.url = endpoints.url("error")
        application.spec = spec
        try await cluster.update(application)
        let second = await Scaler(client: cluster.client, namespace: "default", name: "shop").runOnce()
        #expect(second.exitCode == 0, "one metric was read: the run decided")
        application = try await cluster.applications.get("shop")
        #expect(application.spec.replicas == 4, "no scale-down while orders cannot be read")
        status = try await cluster.scalerStatus("shop")
        let limited = status?.conditions?[type: "ScalingLimited"]
        #expect(limited?.reason == "MetricUnavailable")
        #expect(limited?.message.contains("orders") == true)
        #expect(status?.conditions?[type: "ScalingActive"]?.message.contains("orders (EndpointHTTPError)") == true)
        let orders = status?.scaling?.metrics?.first { $0.name == "orders" }
        #expect(orders?.value == "12" && orders?.unavailableReason == "EndpointHTTPError", "the last value read is kept")
        #expect(status?.scaling?.summary == "rps=5 orders=unavailable (by rps)")
        let events = try await cluster.client.namespaced(Event.self, in: "default").list().items
        #expect(events.contains { $0.reason == "MetricUnavailable" && $0.type == "Warning" && $0.note?.contains("orders") == true })
    }
}
