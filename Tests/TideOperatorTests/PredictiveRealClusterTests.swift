import Foundation
import KubeAPI
import KubeClient
import Synchronization
import TideAPI
import TideScaler
import Testing

/// A metric source that answers what the test sets.
final class SettableSource: MetricSource, Sendable {
    let value = Mutex<Double>(0)
    func read() async -> MetricReading { .value(value.withLock { $0 }) }
    func shutdown() async {}
}

@Suite("Strategy Predictive on the real API server", .serialized, .enabled(if: RealCluster.isAvailable, Comment(rawValue: RealCluster.skipReason)))
struct PredictiveRealClusterTests {
    @Test("the CRD admits strategy Predictive, refuses an unknown strategy, and keeps its memory in status.scaling (not pruned)")
    func memorySurvivesTheSchema() async throws {
        let installed = try await RealClusterInstall.shared.installed()
        let namespace = try await installed.cluster.freshNamespace("predictive", admin: installed.admin)
        let applications = installed.admin.namespaced(Application.self, in: namespace)
        var scaling = Scaling(
            maxReplicas: 10, prometheus: PrometheusSource(address: "http://127.0.0.1:9", query: "sum(up)"), target: .init(type: .perReplica, value: "5"))
        scaling.strategy = .predictive
        scaling.schedule = "0 0 1 1 *"
        _ = try await applications.create(Application(metadata: ObjectMeta(name: "ahead"), spec: ApplicationSpec(image: "hello:1", replicas: 2, scaling: scaling)))
        #expect(try await applications.get("ahead").spec.scaling?.strategy == .predictive)

        // An unknown strategy is refused at admission, with the allowed values.
        let raw = installed.admin.resource(DynamicObject.self, at: Application.resource, namespace: namespace)
        let bad = try JSONValue.object([
            "metadata": ["name": "bad"],
            "spec": ["image": "hello:1", "scaling": ["maxReplicas": 3, "strategy": "Clairvoyant", "prometheus": ["address": "http://x", "query": "q"], "target": ["type": "Total", "value": "1"]]],
        ]).decode(as: DynamicObject.self)
        await #expect { _ = try await raw.create(bad) } throws: { error in
            "\(error)".contains("spec.scaling.strategy") && "\(error)".contains("\"HPA\", \"Predictive\"")
        }

        // Three rising readings 15 s apart, then a fourth: the memory is written and read back.
        let source = SettableSource()
        // On a whole second: status times are kept to the second.
        let clock = Mutex(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        let scaler = Scaler(
            client: installed.admin, namespace: namespace, name: "ahead", now: { clock.withLock { $0 } }, makeSource: { _, _ in source })
        var outcomes: [ScalerOutcome] = []
        for value in [10.0, 20, 30, 40] {
            source.value.withLock { $0 = value }
            let outcome = await scaler.runOnce()
            #expect(outcome.kind == .decided, "\(outcome.line)")
            outcomes.append(outcome)
            clock.withLock { $0 = $0.addingTimeInterval(15) }
        }
        // The third decision read its two earlier readings back from the server: 10, 20,
        // 30 over 30 s rise at 2/3 per second, projected 45 s ahead (30 s pod start by
        // default + 15 s) to 60 → 12 replicas.
        #expect(outcomes[2].line.contains("rising toward 60 by the time new pods are ready (30 s) → 12 replicas"), "\(outcomes[2].line)")
        let status = try #require(try await applications.get("ahead").status?.scaling)
        #expect(status.samples?.map(\.value) == ["10", "20", "30", "40"], "the readings survive the schema: \(String(describing: status.samples))")
        #expect(status.pendingScaleUp != nil, "the last scale-up is remembered until its pods are ready")
        #expect(try await applications.get("ahead").status?.scaling == outcomes.last?.decision?.history, "what was decided is what is stored")

        // The operator's record of when the pods were ready survives the schema, and the
        // next decision measures the pod start to it; the measured scale-up leaves status.
        let pending = try #require(status.pendingScaleUp)
        let seen = ScalingStatus.Recommendation(time: Time(pending.time.date.addingTimeInterval(12)), replicas: pending.replicas)
        _ = try await applications.patchStatus("ahead", patch: [
            "status": ["readyReplicas": .int(Int64(pending.replicas)), "scaleUpReady": try JSONValue(encoding: seen)]
        ])
        #expect(try await applications.get("ahead").status?.scaleUpReady == seen)
        let measured = await scaler.runOnce()
        let after = try #require(try await applications.get("ahead").status?.scaling)
        #expect(after == measured.decision?.history)
        #expect(after.readyDelaySeconds == 12, "measured to the operator's record, not to this run")
    }

    @Test("the CRD admits strategy Forecast and spec.metrics.labels, and keeps the forecast verdict in status.scaling (not pruned)")
    func forecastVerdictSurvivesTheSchema() async throws {
        let installed = try await RealClusterInstall.shared.installed()
        let namespace = try await installed.cluster.freshNamespace("forecast", admin: installed.admin)
        let applications = installed.admin.namespaced(Application.self, in: namespace)
        var scaling = Scaling(
            maxReplicas: 10, prometheus: PrometheusSource(address: "http://127.0.0.1:9", query: "sum(up)"), target: .init(type: .perReplica, value: "5"))
        scaling.strategy = .forecast
        scaling.schedule = "0 0 1 1 *"
        let spec = ApplicationSpec(image: "hello:1", replicas: 2, metrics: MetricsEndpoint(labels: ["release": "kube-prometheus-stack"]), scaling: scaling)
        _ = try await applications.create(Application(metadata: ObjectMeta(name: "seasonal"), spec: spec))
        let stored = try await applications.get("seasonal")
        #expect(stored.spec.scaling?.strategy == .forecast && stored.spec.metrics?.labels == ["release": "kube-prometheus-stack"])
        var memory = ScalingStatus()
        memory.forecast = .init(
            checkedTime: Time(Date(timeIntervalSince1970: 1_800_000_000)), confident: true, reason: "ForecastConfident", message: "replayed over the last day",
            periodSeconds: 3_600, forecastShortfall: 120, predictiveShortfall: 480, forecastIdle: 900, predictiveIdle: 700)
        var status = ApplicationStatus()
        status.scaling = memory
        _ = try await applications.patchStatus("seasonal", patch: ["status": try JSONValue(encoding: status)])
        #expect(try await applications.get("seasonal").status?.scaling?.forecast == memory.forecast)
    }
}
