import Foundation
import KubeAPI
import KubeClient
import LocalKube
import TideAPI
import TideTestSupport
import Testing

/// The scaler of an Autoscaler runs with its own ServiceAccount's token and the Role
/// `samples/without-operator/autoscaler-scaler.yaml` gives it (the one the operator
/// would create): enough to decide and record for its Autoscaler,
/// and nothing else. LocalKube authorizes the token's requests with RBAC as
/// kube-apiserver does.
@Suite("The scaler's token", .serialized)
struct ScalerTokenTests {
    @Test("with the sample's Role, tide-scaler decides for its Autoscaler and records it; the same token cannot scale another target, read another Autoscaler or read Secrets")
    func scopedToItsTarget() async throws {
        let server = try await LocalKubeServer.start()
        let admin = try KubeClient(connection: ClusterConnection(server: server.url))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-scaler-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            try await check(server, admin, directory)
        } catch {
            Issue.record(error)
        }
        try? FileManager.default.removeItem(at: directory)
        try? await admin.shutdown()
        await server.stop()
    }

    func check(_ server: LocalKubeServer, _ admin: KubeClient, _ directory: URL) async throws {
        try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("crds").path, to: server.store)
        try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("samples/autoscaler.yaml").path, to: server.store)
        try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("samples/without-operator/autoscaler-scaler.yaml").path, to: server.store)
        let deployments = admin.namespaced(Deployment.self, in: "shop")
        for (name, replicas) in [("checkout", Int32(3)), ("payments", Int32(2))] {
            let labels = ["app": name]
            _ = try await deployments.create(Deployment(
                metadata: ObjectMeta(name: name),
                spec: .init(replicas: replicas, selector: LabelSelector(matchLabels: labels), template: .init(
                    metadata: ObjectMeta(labels: labels), spec: PodSpec(containers: [Container(name: "app", image: "hello:1")])))))
        }
        var other = try await admin.namespaced(Autoscaler.self, in: "shop").get("checkout")
        other.metadata = ObjectMeta(name: "payments", namespace: "shop")
        other.spec.scaleTargetRef.name = "payments"
        other.status = nil
        _ = try await admin.namespaced(Autoscaler.self, in: "shop").create(other)

        let request = try JSONEncoder().encode(["spec": ["expirationSeconds": 3600]])
        let issued = try await admin.request(
            .POST, path: "/api/v1/namespaces/shop/serviceaccounts/checkout-scaler/token", body: Array(request), contentType: "application/json", as: JSONValue.self)
        let token = try #require(issued.value(atPath: ["status", "token"])?.stringValue)
        let kubeconfig = directory.appendingPathComponent("kubeconfig")
        try server.kubeconfig(token: token).write(to: kubeconfig, atomically: true, encoding: .utf8)

        // The scaler, as the sample's CronJob runs it: one decision, recorded in status
        // (Prometheus is unreachable here, so it holds and says why).
        let run = try await runProcess(
            "\(binariesDirectory)/tide-scaler", ["--kubeconfig", kubeconfig.path, "--namespace", "shop", "--autoscaler", "checkout", "--log-format", "text"])
        #expect(!run.errors.contains("Forbidden") && !run.errors.contains("403"), "\(run.errors)")
        let recorded = try await admin.namespaced(Autoscaler.self, in: "shop").get("checkout")
        #expect(recorded.status?.scaling?.lastQueryTime != nil, "the decision is recorded: \(run.errors)")
        #expect(recorded.status?.scaling?.consecutiveFailures == 1)

        // The same token, for anything else.
        let scoped = try KubeClient(connection: try KubeConfigLoader(kubeconfigPath: kubeconfig.path, environment: [:]).load())
        _ = try await scoped.namespaced(Deployment.self, in: "shop").getScale("checkout")
        await #expect(throws: KubeError.self) { _ = try await scoped.namespaced(Deployment.self, in: "shop").scale("payments", replicas: 9) }
        await #expect(throws: KubeError.self) { _ = try await scoped.namespaced(Autoscaler.self, in: "shop").get("payments") }
        await #expect(throws: KubeError.self) { _ = try await scoped.namespaced(Autoscaler.self, in: "shop").patchStatus("payments", patch: ["status": ["replicas": 1]]) }
        await #expect(throws: KubeError.self) { _ = try await scoped.namespaced(Secret.self, in: "shop").list() }
        // Its own scaler pointed at the other Autoscaler fails, in one line, and changes nothing.
        let stray = try await runProcess(
            "\(binariesDirectory)/tide-scaler", ["--kubeconfig", kubeconfig.path, "--namespace", "shop", "--autoscaler", "payments", "--log-format", "text"])
        #expect(stray.status != 0)
        #expect(stray.errors.contains("forbidden") || stray.errors.contains("Forbidden"), "\(stray.errors)")
        #expect(try await deployments.get("payments").spec?.replicas == 2)
        #expect(try await admin.namespaced(Autoscaler.self, in: "shop").get("payments").status == nil)
        try await scoped.shutdown()
    }
}
