import Foundation
import KubeAPI
import KubeClient
import TideAPI
import TideOperator
import TideScaler
import TideTestSupport
import Testing

/// Scale to zero and back on the real API server: the operator deploys, the scaler
/// (under its own ServiceAccount's token) reads a real hello-service's `/stats`.
@Suite("Scale to zero on the real API server", .serialized, .enabled(if: RealCluster.isAvailable, Comment(rawValue: RealCluster.skipReason)))
struct ScaleToZeroTests {
    @Test("quiet for the cooldown → 0 replicas (Service stays); requests in flight → back up; events, conditions and the METRIC column say so")
    func toZeroAndBack() async throws {
        // The metric source: a hello-service process whose requests take 4 s, so
        // requests in flight can be held open while the scaler reads them.
        let port = try freeLoopbackPort()
        let service = try startHelloService(port: port, arguments: ["--work-ms", "4000"])
        defer {
            service.terminate()
            service.waitUntilExit()
        }
        let stats = "http://127.0.0.1:\(port)/stats"

        let harness = try await OperatorHarness.start(.realCluster)
        let cluster = try #require(harness.cluster)
        let namespace = harness.namespace
        let scaling = Scaling(
            minReplicas: 0, maxReplicas: 3, schedule: "0 0 1 1 *",
            metrics: [
                ScalingMetric(
                    name: "inflight", http: HTTPSource(url: stats, valueLocation: "inFlight"), target: MetricTarget(type: .perReplica, value: "5"),
                    activation: "0"),
                ScalingMetric(
                    name: "served", http: HTTPSource(url: stats, valueLocation: "requests"), target: MetricTarget(type: .perReplica, value: "1000"),
                    activation: "1000000"),
            ],
            cooldownPeriod: "1s", behavior: ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 0)))
        _ = try await harness.applications.create(newApplication("shop", ApplicationSpec(image: "hello:1", scaling: scaling)))
        let deployments = harness.client.namespaced(Deployment.self, in: namespace)
        #expect(await eventually(timeout: .seconds(20)) { try await deployments.getIfPresent("shop")?.spec?.replicas == 1 },
            "an Application that may scale to zero starts with one replica")
        #expect(await eventually(timeout: .seconds(20)) {
            try await harness.client.namespaced(RoleBinding.self, in: namespace).getIfPresent("shop-scaler") != nil
        })
        let token = try await cluster.serviceAccountToken("shop-scaler", namespace: namespace, admin: harness.client)
        let client = try cluster.client(token: token, userAgent: "tide-scaler-test")
        defer { Task { try? await client.shutdown() } }
        let scaler = Scaler(client: client, namespace: namespace, name: "shop")

        // Quiet: the cooldown starts, then the Deployment goes to zero.
        let first = await scaler.runOnce()
        #expect(first.exitCode == 0, "\(first.line)")
        #expect(try await harness.applications.get("shop").status?.scaling?.inactiveSince != nil)
        try await Task.sleep(for: .milliseconds(1_200))
        let second = await scaler.runOnce()
        #expect(second.line.contains("scaled 1 → 0"), "\(second.line)")
        #expect(await eventually(timeout: .seconds(20)) { try await deployments.get("shop").spec?.replicas == 0 })
        #expect(try await harness.client.namespaced(Service.self, in: namespace).getIfPresent("shop") != nil, "the Service stays")
        let third = await scaler.runOnce()
        #expect(third.line.contains("kept 0 replicas"), "\(third.line)")
        var application = try await harness.applications.get("shop")
        #expect(application.status?.conditions?[type: "ScalingActive"]?.status == "False")
        #expect(application.status?.conditions?[type: "ScalingActive"]?.reason == "ScaledToZero")
        let table = try await cluster.kubectl(["get", "applications", "-n", namespace])
        #expect(table.contains("inflight=0 served=0"), "\(table)")

        // Twelve requests in flight: above the activation value, 12 / 5 → 3 replicas.
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<12 {
                    group.addTask { _ = try? await runCommand("/usr/bin/curl", ["-s", "-m", "10", "http://127.0.0.1:\(port)/hello"]) }
                }
            }
        }
        #expect(await eventually(timeout: .seconds(5)) { (try? await readInFlight(stats)) == 12 })
        let fourth = await scaler.runOnce()
        await load.value
        #expect(fourth.line.contains("scaled 0 → 3"), "\(fourth.line)")
        #expect(await eventually(timeout: .seconds(20)) { try await deployments.get("shop").spec?.replicas == 3 })
        application = try await harness.applications.get("shop")
        #expect(application.status?.conditions?[type: "ScalingActive"]?.reason == "ValidMetricFound")
        #expect(application.status?.scaling?.summary == "inflight=12 served=12 (by inflight)")
        let reasons = try await harness.events(about: "shop").map(\.reason)
        #expect(reasons.contains("ScaledToZero") && reasons.contains("ScaledFromZero"), "\(reasons)")
        await harness.stop()
    }

    func readInFlight(_ url: String) async throws -> Double? {
        let source = try MetricSources.make(.http(HTTPSource(url: url, valueLocation: "inFlight")), secrets: SourceSecrets())
        defer { Task { await source.shutdown() } }
        return await source.read().value
    }
}
