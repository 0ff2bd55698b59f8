import AsyncHTTPClient
import Foundation
import KubeAPI
import Prometheus
import TideAPI
import TideOperator
import Testing

@Suite("Decision metrics")
struct DecisionMetricsTests {
    func exposition(_ registry: PrometheusCollectorRegistry) -> [String] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self).split(separator: "\n").map(String.init).filter { $0.hasPrefix("tide_") }
    }

    func application(desired: Int32, decidedAt seconds: Double, scaledAt scale: Double?, failures: Int32 = 0, unavailable: Bool = false) -> Application {
        var scaling = Scaling(
            maxReplicas: 10, metrics: [
                ScalingMetric(name: "rps", prometheus: PrometheusSource(address: "http://p", query: "q"), target: .init(type: .perReplica, value: "5")),
            ])
        scaling.minReplicas = 2
        var application = Application(metadata: ObjectMeta(name: "shop", namespace: "web"), spec: ApplicationSpec(image: "x", replicas: 2, scaling: scaling))
        var status = ApplicationStatus()
        status.replicas = 3
        status.readyReplicas = 2
        var memory = ScalingStatus()
        memory.desiredReplicas = desired
        memory.lastQueryTime = Time(Date(timeIntervalSince1970: seconds))
        memory.lastScaleTime = scale.map { Time(Date(timeIntervalSince1970: $0)) }
        memory.consecutiveFailures = failures
        memory.metrics = [.init(name: "rps", value: "12.5", time: memory.lastQueryTime, unavailableReason: unavailable ? "PrometheusUnreachable" : nil)]
        status.scaling = memory
        status.conditions = [Condition(type: "ScalingLimited", status: "True", reason: "ScaleUpLimit", message: "m")]
        application.status = status
        return application
    }

    /// The Application's own Autoscaler, with the same decision in its status (what the
    /// scaler writes, and the Application mirrors).
    func own(desired: Int32, decidedAt seconds: Double, scaledAt scale: Double?, failures: Int32 = 0, unavailable: Bool = false) throws -> Autoscaler {
        let application = application(desired: desired, decidedAt: seconds, scaledAt: scale, failures: failures, unavailable: unavailable)
        var autoscaler = try #require(application.scalingAutoscaler)
        var status = AutoscalerStatus()
        status.replicas = application.status?.replicas
        status.readyReplicas = application.status?.readyReplicas
        status.scaling = application.status?.scaling
        status.conditions = application.status?.conditions
        autoscaler.status = status
        return autoscaler
    }

    @Test("each scaled Application's decisions (its Autoscaler's status) become tide_ series labelled namespace, name and metric; counters move once per decision, the Application's mirror of it counting none; the series go with the Application")
    func series() throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = DecisionMetrics(factory: PrometheusMetricsFactory(registry: registry))
        metrics.record(try own(desired: 2, decidedAt: 1_800_000_000, scaledAt: nil))
        metrics.record(application(desired: 2, decidedAt: 1_800_000_000, scaledAt: nil))
        var lines = exposition(registry)
        for expected in [
            #"tide_desired_replicas{namespace="web",name="shop"} 2.0"#, #"tide_replicas{namespace="web",name="shop"} 3.0"#,
            #"tide_ready_replicas{namespace="web",name="shop"} 2.0"#, #"tide_max_replicas{namespace="web",name="shop"} 10.0"#,
            #"tide_min_replicas{namespace="web",name="shop"} 2.0"#, #"tide_scaling_limited{namespace="web",name="shop"} 1.0"#,
            #"tide_metric_value{namespace="web",name="shop",metric="rps"} 12.5"#, #"tide_metric_target{namespace="web",name="shop",metric="rps"} 5.0"#,
            #"tide_metric_unavailable{namespace="web",name="shop",metric="rps"} 0.0"#, #"tide_decision_interval_seconds{namespace="web",name="shop"} 60.0"#,
            #"tide_last_decision_timestamp_seconds{namespace="web",name="shop"} 1800000000.0"#, #"tide_decisions_total{namespace="web",name="shop"} 1"#,
        ] {
            #expect(lines.contains(expected), "\(expected) in \(lines)")
        }
        // The same status again (a resync): no decision counted.
        metrics.record(try own(desired: 2, decidedAt: 1_800_000_000, scaledAt: nil))
        // A scale-up, then a decision with the metric unavailable; between them the
        // Application's mirror, a decision behind, is seen (it counts nothing).
        metrics.record(try own(desired: 5, decidedAt: 1_800_000_060, scaledAt: 1_800_000_060))
        metrics.record(application(desired: 2, decidedAt: 1_800_000_000, scaledAt: nil))
        metrics.record(try own(desired: 5, decidedAt: 1_800_000_120, scaledAt: 1_800_000_060, failures: 1, unavailable: true))
        metrics.record(application(desired: 5, decidedAt: 1_800_000_060, scaledAt: 1_800_000_060))
        metrics.record(try own(desired: 3, decidedAt: 1_800_000_180, scaledAt: 1_800_000_180))
        lines = exposition(registry)
        #expect(lines.contains(#"tide_decisions_total{namespace="web",name="shop"} 4"#), "\(lines)")
        #expect(lines.contains(#"tide_scale_ups_total{namespace="web",name="shop"} 1"#))
        #expect(lines.contains(#"tide_scale_downs_total{namespace="web",name="shop"} 1"#))
        #expect(lines.contains(#"tide_unavailable_decisions_total{namespace="web",name="shop"} 1"#))
        #expect(lines.contains(#"tide_held_decisions_total{namespace="web",name="shop"} 1"#), "the first decision kept 2")
        #expect(lines.contains(#"tide_spec_invalid{namespace="web",name="shop"} 0.0"#))
        // The Application says whether its spec is valid; its Autoscaler does not unsay it.
        var invalid = application(desired: 3, decidedAt: 1_800_000_180, scaledAt: 1_800_000_180)
        invalid.status?.conditions = [Condition(type: "Ready", status: "False", reason: "InvalidSpec", message: "m")]
        metrics.record(invalid)
        metrics.record(try own(desired: 3, decidedAt: 1_800_000_180, scaledAt: 1_800_000_180))
        #expect(exposition(registry).contains(#"tide_spec_invalid{namespace="web",name="shop"} 1.0"#))
        metrics.record(application(desired: 3, decidedAt: 1_800_000_180, scaledAt: 1_800_000_180))
        lines = exposition(registry)
        // Every series is one the README and the rules may name, with only these labels.
        let names = Set(lines.compactMap { $0.split(separator: "{").first.map(String.init) })
        #expect(names.isSubset(of: Set(DecisionMetrics.names)), "\(names.subtracting(DecisionMetrics.names))")
        #expect(lines.allSatisfy { line in
            let labels = line.split(separator: "{").dropFirst().first?.split(separator: "}").first ?? ""
            return labels.split(separator: ",").allSatisfy { ["namespace", "name", "metric"].contains($0.split(separator: "=").first.map(String.init) ?? "") }
        })
        metrics.forget(.init(namespace: "web", name: "shop"))
        #expect(exposition(registry).isEmpty, "\(exposition(registry))")
        // An Application without scaling has none.
        var fixed = application(desired: 2, decidedAt: 1, scaledAt: nil)
        fixed.spec.scaling = nil
        metrics.record(fixed)
        #expect(exposition(registry).isEmpty)
    }

    @Test("an observing Autoscaler's status, written through the API server, is served by the operator's /metrics with its observation; the series go with it")
    func autoscalerSeries() async throws {
        let harness = try await OperatorHarness.start(.localKube)
        let autoscalers = harness.client.namespaced(Autoscaler.self, in: harness.namespace)
        var scaling = Scaling(
            maxReplicas: 8, schedule: "* * * * *",
            prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(rate(requests_total[1m]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        scaling.minReplicas = 1
        _ = try await autoscalers.create(Autoscaler(
            metadata: ObjectMeta(name: "checkout"),
            spec: AutoscalerSpec(scaleTargetRef: .init(apiVersion: "apps/v1", kind: "Deployment", name: "checkout"), observe: true, scaling: scaling)))
        var status = AutoscalerStatus()
        status.replicas = 4
        status.readyReplicas = 4
        var memory = ScalingStatus()
        memory.desiredReplicas = 6
        memory.lastQueryTime = .now
        memory.metrics = [.init(name: "prometheus", value: "27.5", time: .now)]
        status.scaling = memory
        status.observation = ObservationStatus(
            since: .now, lastTime: .now, tide: .init(shortfall: 120, idle: 900, scaleChanges: 3), actual: .init(shortfall: 480, idle: 4_100, scaleChanges: 2),
            shadowReplicas: 6, shadowReady: 6, summary: "tide 120/900 vs actual 480/4100")
        _ = try await autoscalers.patchStatus("checkout", patch: ["status": try JSONValue(encoding: status)])
        let port = harness.tide.metricsPort ?? 0
        func scrape() async throws -> String {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(5))
            return String(buffer: try await response.body.collect(upTo: 1 << 22))
        }
        let labels = #"{namespace="\#(harness.namespace)",name="checkout"}"#
        var exposition = ""
        let served = await eventually {
            exposition = try await scrape()
            return exposition.contains("tide_observed_target_idle_replica_seconds\(labels) 4100")
        }
        #expect(served, "\(exposition)")
        for line in [
            "tide_desired_replicas\(labels) 6", "tide_observed_shadow_replicas\(labels) 6", "tide_observed_tide_shortfall_replica_seconds\(labels) 120",
            "tide_observed_tide_idle_replica_seconds\(labels) 900", "tide_observed_target_shortfall_replica_seconds\(labels) 480",
        ] {
            #expect(exposition.contains(line), "\(line)")
        }
        try await autoscalers.delete("checkout")
        let gone = await eventually { !(try await scrape()).contains(labels) }
        await harness.stop()
        #expect(gone)
    }
}
