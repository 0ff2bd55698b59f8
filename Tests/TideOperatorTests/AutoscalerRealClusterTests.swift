import Foundation
import KubeAPI
import KubeClient
import TideAPI
import TideScaler
import TideTestSupport
import Testing

@Suite("Autoscaler on the real API server", .serialized, .enabled(if: RealCluster.isAvailable, Comment(rawValue: RealCluster.skipReason)))
struct AutoscalerRealClusterTests {
    @Test("with the sample's Role the scaler observes, then scales, its own target, and can neither scale another workload nor read another Autoscaler")
    func scopedToken() async throws {
        let installed = try await RealClusterInstall.shared.installed()
        let admin = installed.admin
        let namespace = try await installed.cluster.freshNamespace("tas", admin: admin)
        // The sample as shipped, in a namespace of its own.
        // The operator is not running here: the scaler's objects come from the sample for that.
        let sample = try String(contentsOf: repositoryRoot.appendingPathComponent("samples/autoscaler.yaml"), encoding: .utf8) + "\n---\n"
            + String(contentsOf: repositoryRoot.appendingPathComponent("samples/without-operator/autoscaler-scaler.yaml"), encoding: .utf8)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("autoscaler-\(namespace).yaml")
        try sample.replacing("shop", with: namespace).write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        _ = try await installed.cluster.kubectl(["apply", "-f", file.path])

        let deployments = admin.resource(DynamicObject.self, at: Deployment.resource, namespace: namespace)
        for name in ["checkout", "other"] {
            let deployment = try JSONValue.object([
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)],
                "spec": [
                    "replicas": 2, "selector": ["matchLabels": ["app": .string(name)]],
                    "template": [
                        "metadata": ["labels": ["app": .string(name)]],
                        "spec": [
                            "securityContext": ["runAsNonRoot": true, "seccompProfile": ["type": "RuntimeDefault"]],
                            "containers": [[
                                "name": "app", "image": "app:1",
                                "securityContext": ["allowPrivilegeEscalation": false, "capabilities": ["drop": ["ALL"]]],
                            ]],
                        ],
                    ],
                ],
            ]).decode(as: DynamicObject.self)
            _ = try await deployments.create(deployment)
        }
        let autoscalers = admin.namespaced(Autoscaler.self, in: namespace)
        _ = try await autoscalers.create(Autoscaler(
            metadata: ObjectMeta(name: "other"),
            spec: AutoscalerSpec(
                scaleTargetRef: .init(apiVersion: "apps/v1", kind: "Deployment", name: "other"), observe: true,
                scaling: Scaling(maxReplicas: 5, prometheus: PrometheusSource(address: "http://x", query: "q"), target: .init(type: .perReplica, value: "1")))))

        let token = try await installed.cluster.serviceAccountToken("checkout-scaler", namespace: namespace, admin: admin)
        let scoped = try installed.cluster.client(token: token, userAgent: "tide-scaler-test")
        let source = SettableSource()
        source.value.withLock { $0 = 500 }
        let scaler = AutoscalerScaler(client: scoped, namespace: namespace, name: "checkout", makeSource: { _, _ in source })

        // Observing (as the sample ships): recorded, the target untouched.
        let before = try await deployments.get("checkout")
        let watched = await scaler.runOnce()
        #expect(watched.kind == .decided && watched.line.contains("would scale 2 → "), "\(watched.line)")
        #expect(try await deployments.get("checkout").metadata.resourceVersion == before.metadata.resourceVersion)
        let observation = try await autoscalers.get("checkout").status?.observation
        #expect(observation?.shadowReplicas ?? 0 > 2, "the status subresource was written with the scoped token")

        // Acting: its own target's /scale.
        var acting = try await autoscalers.get("checkout")
        acting.spec.observe = false
        _ = try await autoscalers.update(acting)
        let scaled = await scaler.runOnce()
        #expect(scaled.kind == .decided && scaled.line.contains("scaled 2 → "), "\(scaled.line)")
        #expect(try await deployments.getScale("checkout").spec.replicas ?? 0 > 2)

        // Nothing else.
        await #expect(throws: KubeError.self) {
            _ = try await scoped.resource(DynamicObject.self, at: Deployment.resource, namespace: namespace).scale("other", replicas: 5)
        }
        await #expect(throws: KubeError.self) { _ = try await scoped.namespaced(Autoscaler.self, in: namespace).get("other") }
        #expect(try await deployments.getScale("other").spec.replicas == 2)
    }
}
