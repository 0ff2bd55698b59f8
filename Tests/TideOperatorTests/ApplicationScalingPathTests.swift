import Foundation
import KubeAPI
import KubeAPIExtensions
import KubeClient
import LocalKube
import TideAPI
import TideOperator
import TideScaler
import TideTestSupport
import Testing

/// One scaling path: an Application that scales owns an Autoscaler of its name that
/// targets the Application's `/scale`; the scaler, its RBAC, its memory and its
/// conditions are that Autoscaler's, and the Application shows them. An Application
/// the previous version scaled (its scaler children its own, its memory in its status)
/// moves onto that path without a scale change.
@Suite("An Application scales through its own Autoscaler", .serialized)
struct ApplicationScalingPathTests {
    static func scaling(metricURL: String) -> Scaling {
        var scaling = Scaling(
            minReplicas: 1, maxReplicas: 10,
            metrics: [ScalingMetric(name: "rps", http: HTTPSource(url: metricURL, valueLocation: "value"), target: MetricTarget(type: .perReplica, value: "5"))])
        scaling.schedule = "* * * * *"
        return scaling
    }

    @Test("an Application scaled to 5 by the previous version stays at 5 across the upgrade, with no scale event: its scaler's memory moves to its new Autoscaler, whose scaler replaces the old one", arguments: Backend.available)
    func upgrade(_ backend: Backend) async throws {
        let metric = RealLoopTests.MetricValue()
        let endpoint = try await RealLoopTests.MetricEndpoint.start(metric)
        defer { endpoint.task.cancel() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-upgrade-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // The previous version's state is made while no operator watches its namespace.
        let old = try await OperatorHarness.start(backend) { $0.namespace = "tide-elsewhere" }
        do {
            try await upgrade(old, metric: metric, metricURL: endpoint.url, directory: directory)
        } catch {
            Issue.record(error)
            await old.stop()
        }
    }

    func upgrade(_ old: OperatorHarness, metric: RealLoopTests.MetricValue, metricURL: String, directory: URL) async throws {
        let namespace = old.namespace
        let client = old.client
        let applications = old.applications
        // What the previous version left: the Application at 5 (a scale-up to 5 a
        // minute ago, 25 req/s at 5 per replica), its Deployment at 5, its scaler
        // children controlled by the Application itself, and the scaler's memory in the
        // Application's status.
        var spec = ApplicationSpec(image: "hello:1", replicas: 5, scaling: Self.scaling(metricURL: metricURL))
        spec.env = nil
        let application = try await applications.create(TideOperatorTests.newApplication("shop", spec))
        let earlier = Date().addingTimeInterval(-60)
        let previous = ScalingAlgorithm.decide(ScalingInput(
            currentReplicas: 2, scaling: try #require(application.spec.withDefaults.scaling), readings: ["rps": .value(25)], now: earlier,
            readyReplicas: 2))
        #expect(previous.desiredReplicas == 5)
        var conditions: [Condition] = []
        previous.setConditions(&conditions, generation: application.metadata.generation)
        _ = try await applications.patchStatus("shop", patch: ["status": [
            "scaling": try JSONValue(encoding: previous.history), "conditions": try JSONValue(encoding: conditions),
        ]])
        _ = try await old.deployments.create(Children.deployment(for: application))
        var oldOwner = ScalerOwner(try #require(application.scalingAutoscaler))
        oldOwner.ownerReference = application.controllerReference
        oldOwner.labels = application.childLabels
        var oldCronJob = Children.scalerCronJob(for: oldOwner, settings: OperatorSettings(scalerImage: "tide:previous"))
        oldCronJob.spec?.jobTemplate.spec.template.spec?.containers[0].args = ["--namespace", namespace, "--application", "shop", "--exit-zero-when-recorded"]
        _ = try await client.namespaced(ServiceAccount.self, in: namespace).create(Children.scalerServiceAccount(for: oldOwner))
        _ = try await client.namespaced(CronJob.self, in: namespace).create(oldCronJob)

        // The new version: the one scaling path.
        let harness = try await OperatorHarness.start(old.backend, sharing: old)
        await old.stop(keepServer: true)
        do {
            try await upgraded(harness, application: application, previous: previous.history, metric: metric, directory: directory)
        } catch {
            Issue.record(error)
        }
        await harness.stop()
    }

    func upgraded(
        _ harness: OperatorHarness, application: Application, previous: ScalingStatus, metric: RealLoopTests.MetricValue, directory: URL
    ) async throws {
        let namespace = harness.namespace
        let client = harness.client
        let applications = harness.applications
        let autoscalers = client.namespaced(Autoscaler.self, in: namespace)
        #expect(await eventually(timeout: .seconds(20)) { try await autoscalers.getIfPresent("shop")?.status?.scaling != nil })
        let own = try await autoscalers.get("shop")
        #expect(own.owningApplication == "shop")
        #expect(own.metadata.ownerReferences?.first?.uid == application.metadata.uid)
        #expect(own.spec.scaleTargetRef == ScaleTargetReference(apiVersion: "tide.dev/v1alpha1", kind: "Application", name: "shop"))
        #expect(own.status?.scaling == previous, "the old scaler's memory, as it was")
        // The old scaler's children are replaced by the Autoscaler's.
        let cronJobs = client.namespaced(CronJob.self, in: namespace)
        #expect(await eventually(timeout: .seconds(20)) {
            try await cronJobs.getIfPresent("shop-scaler")?.metadata.ownerReferences?.first?.uid == own.metadata.uid
        })
        let cronJob = try await cronJobs.get("shop-scaler")
        let arguments = cronJob.spec?.jobTemplate.spec.template.spec?.containers.first?.args ?? []
        #expect(arguments.starts(with: ["--namespace", namespace, "--autoscaler", "shop"]), "\(arguments)")
        #expect(await eventually(timeout: .seconds(20)) {
            try await client.namespaced(RoleBinding.self, in: namespace).getIfPresent("shop-scaler")?.metadata.ownerReferences?.first?.kind == "Autoscaler"
        })
        let role = try await client.namespaced(Role.self, in: namespace).get("shop-scaler")
        #expect(role.rules?.contains { $0.resources == ["applications/scale"] && $0.resourceNames == ["shop"] } == true)
        #expect(try await client.namespaced(ServiceAccount.self, in: namespace).get("shop-scaler").metadata.ownerReferences?.first?.kind == "Autoscaler")

        // The load has fallen to 11 req/s (3 replicas' worth). The old memory holds 5
        // inside the scale-down window; without it the scaler would go to 3.
        metric.set(11)
        let outcome = try await runScaler(harness, arguments: Array(arguments.prefix(4)), directory: directory)
        #expect(outcome.contains("kept 5 replicas"), "\(outcome)")
        print("upgrade: the scaler said: \(outcome)")
        #expect(try await applications.get("shop").spec.replicas == 5)
        #expect(try await harness.deployments.get("shop").spec?.replicas == 5)
        let events = try await client.namespaced(Event.self, in: namespace).list().items
        let scaled = events.filter { ["ScaledUp", "ScaledDown", "ScaledToZero", "ScaledFromZero"].contains($0.reason ?? "") }
        #expect(scaled.isEmpty, "no scale event: \(scaled.map { "\($0.reason ?? ""): \($0.note ?? "")" })")
        // The Application shows its Autoscaler's decision (DESIRED and METRIC).
        #expect(await eventually(timeout: .seconds(20)) { try await applications.get("shop").status?.scaling?.lastMetricValue == "11" })
        let shown = try await applications.get("shop")
        let decided = try await autoscalers.get("shop")
        #expect(shown.status?.scaling == decided.status?.scaling)
        #expect(shown.status?.conditions?[type: "ScalingActive"]?.reason == decided.status?.conditions?[type: "ScalingActive"]?.reason)
        #expect(shown.status?.conditions?[type: "ScalingLimited"]?.message == decided.status?.conditions?[type: "ScalingLimited"]?.message)
    }

    /// One scaler run with the CronJob's arguments. On LocalKube: the `tide-scaler`
    /// binary with a token of the scaler's own ServiceAccount, so its Role is what
    /// allows it; on a real server, in process with the test's client.
    func runScaler(_ harness: OperatorHarness, arguments: [String], directory: URL) async throws -> String {
        guard harness.backend == .localKube else {
            let name = try #require(arguments.last)
            return await AutoscalerScaler(client: harness.client, namespace: harness.namespace, name: name).runOnce().line
        }
        let server = try harness.server
        let request = try JSONEncoder().encode(["spec": ["expirationSeconds": 3600]])
        let issued = try await harness.client.request(
            .POST, path: "/api/v1/namespaces/\(harness.namespace)/serviceaccounts/shop-scaler/token", body: Array(request),
            contentType: "application/json", as: JSONValue.self)
        let token = try #require(issued.value(atPath: ["status", "token"])?.stringValue)
        let kubeconfig = directory.appendingPathComponent("kubeconfig")
        try server.kubeconfig(token: token).write(to: kubeconfig, atomically: true, encoding: .utf8)
        let run = try await runProcess(
            "\(binariesDirectory)/tide-scaler", ["--kubeconfig", kubeconfig.path, "--log-format", "text"] + arguments)
        #expect(!run.errors.contains("Forbidden") && !run.errors.contains("403"), "\(run.errors)")
        return run.errors
    }

    @Test("a new scaled Application gets its Autoscaler, and through it a scaler that scales the Application; the Application shows the decision", arguments: Backend.available)
    func freshApplication(_ backend: Backend) async throws {
        let metric = RealLoopTests.MetricValue()
        metric.set(30)
        let endpoint = try await RealLoopTests.MetricEndpoint.start(metric)
        defer { endpoint.task.cancel() }
        let harness = try await OperatorHarness.start(backend)
        do {
            let namespace = harness.namespace
            var scaling = Self.scaling(metricURL: endpoint.url)
            scaling.mode = .continuous
            let created = try await harness.applications.create(TideOperatorTests.newApplication("cart", ApplicationSpec(image: "hello:1", scaling: scaling)))
            let autoscalers = harness.client.namespaced(Autoscaler.self, in: namespace)
            #expect(await eventually(timeout: .seconds(20)) { try await autoscalers.getIfPresent("cart") != nil })
            let madeScaling = try await autoscalers.get("cart").spec.scaling
            #expect(madeScaling == created.spec.withDefaults.scaling, "the Application's scaling spec, every default filled: \(madeScaling)")
            let deployments = harness.deployments
            #expect(await eventually(timeout: .seconds(20)) {
                try await deployments.getIfPresent("cart-scaler")?.metadata.ownerReferences?.first?.kind == "Autoscaler"
            })
            #expect(try await harness.client.namespaced(CronJob.self, in: namespace).getIfPresent("cart-scaler") == nil)
            #expect(try await deployments.get("cart").spec?.replicas == 1, "minReplicas until the scaler decides")

            // What the scaler Deployment runs, once: 30 req/s at 5 per replica → 5 (+4 at most).
            let outcome = await Scaler(client: harness.client, namespace: namespace, name: "cart").runOnce()
            #expect(outcome.line.hasPrefix("Application \(namespace)/cart: scaled 1 → 5;"), "\(outcome.line)")
            #expect(try await harness.applications.get("cart").spec.replicas == 5)
            #expect(await eventually(timeout: .seconds(20)) { try await deployments.get("cart").spec?.replicas == 5 }, "the operator rolls the Application's replicas out")
            #expect(await eventually(timeout: .seconds(20)) { try await harness.applications.get("cart").status?.scaling?.desiredReplicas == 5 })
            let shown = try await harness.applications.get("cart")
            #expect(shown.status?.scaling?.summary == (try await autoscalers.get("cart").status?.scaling?.summary))
            #expect(shown.status?.conditions?[type: "ScalingActive"]?.reason == "ValidMetricFound")
            #expect(shown.status?.conditions?[type: "Ready"] != nil && shown.status?.conditions?.contains { $0.type == "Ready" && $0.reason == "Scaling" } == false,
                "the Application's Ready stays its own")

            // Scaling removed: the Autoscaler and with it the scaler go.
            _ = try await harness.applications.mergePatch("cart", patch: ["spec": ["scaling": .null, "replicas": 2]])
            #expect(await eventually(timeout: .seconds(20)) { try await autoscalers.getIfPresent("cart") == nil })
        } catch {
            Issue.record(error)
        }
        await harness.stop()
    }

    @Test("mode HPA: the Application's Autoscaler has the HorizontalPodAutoscaler, on the Application's /scale; what it writes there is rolled out, and its conditions show on the Application; an Application an earlier version scaled in mode HPA keeps its count across the upgrade", arguments: Backend.available)
    func hpaMode(_ backend: Backend) async throws {
        let old = try await OperatorHarness.start(backend) { $0.namespace = "tide-elsewhere" }
        let namespace = old.namespace
        var scaling = Self.scaling(metricURL: "http://127.0.0.1:9/metric")
        scaling.mode = .hpa
        scaling.minReplicas = 2
        scaling.schedule = nil
        let application = try await old.applications.create(TideOperatorTests.newApplication("shop", ApplicationSpec(image: "hello:1", scaling: scaling)))
        // What an earlier version left: its own HPA named as the Application on the
        // Deployment, which the HPA had scaled to 7; the Application's spec.replicas unset.
        var deployment = Children.deployment(for: application)
        deployment.spec?.replicas = 7
        _ = try await old.deployments.create(deployment)
        var labels = application.childLabels
        labels["app.kubernetes.io/component"] = "autoscaler"
        _ = try await old.client.namespaced(HorizontalPodAutoscaler.self, in: namespace).create(HorizontalPodAutoscaler(
            metadata: ObjectMeta(name: "shop", namespace: namespace, labels: labels, ownerReferences: [application.controllerReference]),
            spec: .init(
                scaleTargetRef: .init(apiVersion: "apps/v1", kind: "Deployment", name: "shop"), minReplicas: 2, maxReplicas: 10,
                metrics: [.init(external: .init(metric: .init(name: "shop-rps"), target: .init(type: "AverageValue", averageValue: "5")))])))

        let harness = try await OperatorHarness.start(backend, sharing: old)
        await old.stop(keepServer: true)
        do {
            let hpas = harness.client.namespaced(HorizontalPodAutoscaler.self, in: namespace)
            #expect(await eventually(timeout: .seconds(20)) { try await hpas.getIfPresent("shop-scaler") != nil })
            #expect(await eventually(timeout: .seconds(20)) { try await hpas.getIfPresent("shop") == nil }, "the earlier version's HPA is removed")
            #expect(try await harness.applications.get("shop").spec.replicas == 7, "the Application took the live count")
            #expect(try await harness.deployments.get("shop").spec?.replicas == 7, "nothing moved")
            let hpa = try await hpas.get("shop-scaler")
            #expect(hpa.spec?.scaleTargetRef == .init(apiVersion: "tide.dev/v1alpha1", kind: "Application", name: "shop"))
            #expect(hpa.metadata.ownerReferences?.first?.kind == "Autoscaler")
            #expect(hpa.spec?.metrics?.first?.external?.metric.name == "shop-rps", "the Application's External metric names")
            let role = try await harness.client.namespaced(Role.self, in: namespace).getIfPresent("shop-scaler")
            #expect(role == nil, "no scaler, no scaler Role")

            // The HPA controller's write, through the Application's /scale: rolled out.
            guard harness.backend == .localKube else { return await harness.stop() }
            var scale = try await harness.applications.getScale("shop")
            #expect(scale.status?.selector == "app.kubernetes.io/instance=shop,app.kubernetes.io/name=shop", "the HPA finds the pods")
            scale.spec.replicas = 9
            _ = try await harness.applications.updateScale("shop", scale: scale)
            #expect(await eventually(timeout: .seconds(20)) { try await harness.deployments.get("shop").spec?.replicas == 9 })
            // Its conditions, as kube-controller-manager writes them, on the Application.
            _ = try await hpas.patchStatus("shop-scaler", patch: ["status": ["currentReplicas": 9, "desiredReplicas": 9, "conditions": [
                ["type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size", "lastTransitionTime": "2026-12-07T10:00:00Z"],
                ["type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "the HPA was able to successfully calculate a replica count from external metric shop-rps", "lastTransitionTime": "2026-12-07T10:00:00Z"],
            ]]])
            #expect(await eventually(timeout: .seconds(20)) {
                try await harness.applications.get("shop").status?.conditions?[type: "ScalingActive"]?.reason == "ValidMetricFound"
            })
            #expect(try await harness.applications.get("shop").status?.conditions?[type: "AbleToScale"]?.status == "True")
        } catch {
            Issue.record(error)
        }
        await harness.stop()
    }
}
