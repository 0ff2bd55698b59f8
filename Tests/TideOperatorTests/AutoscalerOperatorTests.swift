import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeAPIExtensions
import KubeClient
import LocalKube
import TideAPI
import TideOperator
import TideTestSupport
import Testing

/// The operator gives each Autoscaler its scaler: the ServiceAccount, a Role scoped to
/// the Autoscaler and its target, the binding, and the CronJob or Continuous
/// Deployment; a target it may not grant says so instead.
@Suite("The operator and Autoscalers", .serialized)
struct AutoscalerOperatorTests {
    func autoscaler(_ name: String, target: ScaleTargetReference, mode: ScalingMode = .cronJob) -> Autoscaler {
        var scaling = Scaling(
            minReplicas: 1, maxReplicas: 8, mode: mode,
            prometheus: PrometheusSource(address: "http://127.0.0.1:9", query: "sum(rate(requests_total[1m]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        scaling.schedule = "* * * * *"
        return Autoscaler(metadata: ObjectMeta(name: name), spec: AutoscalerSpec(scaleTargetRef: target, observe: true, scaling: scaling))
    }

    @Test("an Autoscaler gets its scaler children, owned by it, with a Role for its own target only; Continuous swaps the CronJob for a Deployment; deleting it removes them", arguments: Backend.available)
    func scalerChildren(_ backend: Backend) async throws {
        let harness = try await OperatorHarness.start(backend)
        do {
            try await scalerChildren(harness)
        } catch {
            Issue.record(error)
        }
        await harness.stop()
    }

    func scalerChildren(_ harness: OperatorHarness) async throws {
        let namespace = harness.namespace
        let client = harness.client
        let autoscalers = client.namespaced(Autoscaler.self, in: namespace)
        let created = try await autoscalers.create(autoscaler("checkout", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "checkout")))
        let cronJobs = client.namespaced(CronJob.self, in: namespace)
        #expect(await eventually(timeout: .seconds(20)) { try await cronJobs.getIfPresent("checkout-scaler") != nil })
        let cronJob = try await cronJobs.get("checkout-scaler")
        #expect(cronJob.metadata.ownerReferences?.first?.kind == "Autoscaler")
        #expect(cronJob.metadata.ownerReferences?.first?.uid == created.metadata.uid)
        let arguments = cronJob.spec?.jobTemplate.spec.template.spec?.containers.first?.args ?? []
        #expect(arguments.starts(with: ["--namespace", namespace, "--autoscaler", "checkout"]), "\(arguments)")
        #expect(cronJob.spec?.jobTemplate.spec.template.spec?.serviceAccountName == "checkout-scaler")
        #expect(await eventually { try await client.namespaced(RoleBinding.self, in: namespace).getIfPresent("checkout-scaler") != nil })
        #expect(try await client.namespaced(ServiceAccount.self, in: namespace).getIfPresent("checkout-scaler") != nil)
        let role = try await client.namespaced(Role.self, in: namespace).get("checkout-scaler")
        let rules = role.rules ?? []
        #expect(rules.contains { $0.apiGroups == ["apps"] && $0.resources == ["deployments/scale"] && $0.resourceNames == ["checkout"] && $0.verbs == ["get", "patch", "update"] })
        #expect(rules.contains { $0.resources == ["autoscalers/status"] && $0.resourceNames == ["checkout"] })
        #expect(rules.allSatisfy { $0.resources != ["secrets"] })

        // Continuous: a one-replica Deployment instead of the CronJob.
        _ = try await autoscalers.mergePatch("checkout", patch: ["spec": ["mode": "Continuous"]])
        let deployments = client.namespaced(Deployment.self, in: namespace)
        #expect(await eventually(timeout: .seconds(20)) { try await deployments.getIfPresent("checkout-scaler") != nil })
        #expect(await eventually(timeout: .seconds(20)) { try await cronJobs.getIfPresent("checkout-scaler") == nil })
        let loop = try await deployments.get("checkout-scaler")
        #expect(loop.spec?.template.spec?.containers.first?.args?.contains("--interval") == true)

        // Mode HPA: a HorizontalPodAutoscaler on the target, reading the Autoscaler's
        // metrics as Object metrics; the scaler and its RBAC go.
        _ = try await autoscalers.mergePatch("checkout", patch: ["spec": ["mode": "HPA", "observe": false]])
        let hpas = client.namespaced(HorizontalPodAutoscaler.self, in: namespace)
        #expect(await eventually(timeout: .seconds(20)) { try await hpas.getIfPresent("checkout-scaler") != nil })
        #expect(await eventually(timeout: .seconds(20)) { try await deployments.getIfPresent("checkout-scaler") == nil })
        #expect(await eventually(timeout: .seconds(20)) { try await client.namespaced(Role.self, in: namespace).getIfPresent("checkout-scaler") == nil })
        let hpa = try await hpas.get("checkout-scaler")
        #expect(hpa.spec?.scaleTargetRef == HorizontalPodAutoscaler.CrossVersionObjectReference(apiVersion: "apps/v1", kind: "Deployment", name: "checkout"))
        let metric = try #require(hpa.spec?.metrics?.first?.object)
        #expect(metric.describedObject == HorizontalPodAutoscaler.CrossVersionObjectReference(apiVersion: "tide.dev/v1alpha1", kind: "Autoscaler", name: "checkout"))
        #expect(metric.metric.name == "prometheus" && metric.target.type == "AverageValue" && metric.target.averageValue == "5")
        #expect(hpa.metadata.ownerReferences?.first?.kind == "Autoscaler")

        // A kind without /scale is a condition, and no scaler runs.
        _ = try await autoscalers.create(autoscaler("settings", target: .init(apiVersion: "v1", kind: "ConfigMap", name: "settings")))
        #expect(await eventually(timeout: .seconds(20)) {
            try await autoscalers.get("settings").status?.conditions?[type: "Ready"]?.reason == "TargetNotScalable"
        })
        #expect(try await cronJobs.getIfPresent("settings-scaler") == nil)

        if harness.backend == .localKube {
            // The garbage collector removes what the Autoscaler owned (the real tier's
            // kube-controller-manager does the same; LocalKube at once).
            try await autoscalers.delete("checkout")
            #expect(await eventually(timeout: .seconds(20)) { try await deployments.getIfPresent("checkout-scaler") == nil })
        }
    }

    @Test("an Autoscaler in mode HPA cannot observe, and reads Object metrics only")
    func hpaModeValidation() {
        var observing = autoscaler("checkout", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "checkout"), mode: .hpa)
        #expect(observing.spec.validate().contains { $0.field == "spec.observe" })
        observing.spec.observe = false
        #expect(observing.spec.validate().isEmpty, "\(observing.spec.validate())")
        observing.spec.scaling.hpa = HPASettings(metricType: .external)
        #expect(observing.spec.validate().contains { $0.field == "spec.hpa.metricType" })
    }

    @Test("the operator's own ServiceAccount and config/rbac: a ReplicaSet target is TargetNotPermitted, naming the rule; the scaler it creates for a Deployment decides with the Role it was given")
    func permissions() async throws {
        try await GracefulShutdownTests.Setup.run(permissions)
    }

    func permissions(_ setup: GracefulShutdownTests.Setup) async throws {
        let (kubeconfig, _) = try await SecureMetricsTests.operatorKubeconfig(setup)
        let healthPort = try freeLoopbackPort()
        func startOperator() throws -> GracefulShutdownTests.RunningBinary {
            try GracefulShutdownTests.RunningBinary(
                "tide-operator",
                [
                    "--kubeconfig", kubeconfig.path, "--namespace", "default", "--metrics-bind-address", "0",
                    "--health-probe-bind-address", "127.0.0.1:\(healthPort)", "--log-format", "json",
                ], directory: setup.directory)
        }
        let operatorProcess = try startOperator()
        defer { operatorProcess.stop() }

        let autoscalers = setup.client.namespaced(Autoscaler.self, in: "default")
        _ = try await autoscalers.create(autoscaler("legacy", target: .init(apiVersion: "apps/v1", kind: "ReplicaSet", name: "legacy")))
        var message = ""
        let refused = await eventually(timeout: .seconds(20)) {
            let ready = try await autoscalers.get("legacy").status?.conditions?[type: "Ready"]
            message = ready?.message ?? ""
            return ready?.status == "False" && ready?.reason == "TargetNotPermitted"
        }
        #expect(refused, "\(operatorProcess.log)")
        #expect(message.contains("replicasets/scale") && message.contains("ClusterRole tide-operator"), "\(message)")
        #expect(try await setup.client.namespaced(Role.self, in: "default").getIfPresent("legacy-scaler") == nil)

        // A Deployment target: the operator grants its scaler exactly the Role, and the
        // real scaler decides with that ServiceAccount's token.
        let labels = ["app": "checkout"]
        _ = try await setup.client.namespaced(Deployment.self, in: "default").create(Deployment(
            metadata: ObjectMeta(name: "checkout"),
            spec: .init(replicas: 3, selector: LabelSelector(matchLabels: labels), template: .init(
                metadata: ObjectMeta(labels: labels), spec: PodSpec(containers: [Container(name: "app", image: "hello:1")])))))
        _ = try await autoscalers.create(autoscaler("checkout", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "checkout")))
        #expect(await eventually(timeout: .seconds(20)) {
            try await setup.client.namespaced(RoleBinding.self, in: "default").getIfPresent("checkout-scaler") != nil
        }, "\(operatorProcess.log)")
        let (scalerConfig, _) = try await SecureMetricsTests.kubeconfig(setup, serviceAccount: "checkout-scaler", namespace: "default")
        let run = try await runProcess(
            "\(binariesDirectory)/tide-scaler", ["--kubeconfig", scalerConfig.path, "--namespace", "default", "--autoscaler", "checkout", "--log-format", "text"])
        #expect(!run.errors.contains("orbidden"), "\(run.errors)")
        #expect(try await autoscalers.get("checkout").status?.scaling?.lastQueryTime != nil, "\(run.errors)")

        // SIGTERM: both controllers stop and the operator exits 0; a restart finds the
        // scaler's children as it left them and writes none of them again.
        let roles = setup.client.namespaced(Role.self, in: "default")
        let cronJobs = setup.client.namespaced(CronJob.self, in: "default")
        let before = (try await roles.get("checkout-scaler").metadata.resourceVersion, try await cronJobs.get("checkout-scaler").metadata.resourceVersion)
        let stopped = await operatorProcess.terminate()
        #expect(stopped.code == 0, "\(operatorProcess.log)")
        #expect(operatorProcess.errorLines.isEmpty, "\(operatorProcess.errorLines)")
        let restarted = try startOperator()
        defer { restarted.stop() }
        #expect(await eventually(timeout: .seconds(20)) {
            try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(healthPort)/readyz"), timeout: .seconds(2)).status.code == 200
        }, "\(restarted.log)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await roles.get("checkout-scaler").metadata.resourceVersion == before.0)
        #expect(try await cronJobs.get("checkout-scaler").metadata.resourceVersion == before.1)
        #expect(try await autoscalers.get("legacy").status?.conditions?[type: "Ready"]?.reason == "TargetNotPermitted")
        #expect(await restarted.terminate().code == 0)
    }
}
