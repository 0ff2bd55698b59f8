import Foundation
import KubeAPI
import KubeClient
import LocalKube
import Synchronization
import TideAPI
import TideScaler
import TideTestSupport
import Testing

@Suite("Observe mode's accounting")
struct ObservationLedgerTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("Tide's shadow follows its own decisions (up after the pod start, down at once); the target's ready replicas are scored as they were; stretches without an ideal are not scored")
    func ledger() throws {
        // (seconds, Tide decides, target ready, ideal)
        let steps: [(TimeInterval, Int32, Int32, Int32?)] = [
            (0, 2, 2, 2),  // the start: both at the ideal
            (60, 6, 2, 6),  // demand rises: Tide decides 6 (ready 30 s later); the target stays at 2
            (120, 6, 2, 6),  // 60 s: Tide short 4 for 30 s (120), the target short 4 for 60 s (240)
            (180, 6, 6, 3),  // 60 s at ideal 6: Tide 0, target short 4 (240); the target reaches 6
            (240, 3, 6, nil),  // 60 s at ideal 3: Tide idle 3 (180), target idle 3 (180); Tide down to 3 at once
            (300, 3, 6, 3),  // no ideal before: not scored
            (360, 3, 3, 3),  // 60 s at ideal 3: Tide 0, target idle 3 (180)
        ]
        var account: ObservationStatus?
        for (seconds, decided, ready, ideal) in steps {
            account = ObservationLedger.advance(
                account, now: start.addingTimeInterval(seconds), decided: decided, targetReplicas: 2, actualReady: ready, ideal: ideal, readyDelay: 30)
        }
        let final = try #require(account)
        #expect(final.since == Time(start) && final.lastTime == Time(start.addingTimeInterval(360)))
        #expect(final.tide == .init(shortfall: 120, idle: 180, scaleChanges: 2), "\(final.tide)")
        #expect(final.actual == .init(shortfall: 480, idle: 360, scaleChanges: 2), "\(final.actual)")
        #expect(final.shadowReplicas == 3 && final.shadowReady == 3 && final.shadowReadyAt == nil)
        #expect(final.summary == "tide 120/180 vs actual 480/360")
    }

    @Test("a pod start longer than the time between decisions carries over; a scale-down cancels a pending scale-up")
    func pending() throws {
        var account = ObservationLedger.advance(nil, now: start, decided: 4, targetReplicas: 1, actualReady: 1, ideal: 4, readyDelay: 90)
        #expect(account.shadowReplicas == 4 && account.shadowReady == 1 && account.shadowReadyAt == Time(start.addingTimeInterval(90)))
        account = ObservationLedger.advance(account, now: start.addingTimeInterval(60), decided: 4, targetReplicas: 1, actualReady: 1, ideal: 4, readyDelay: 90)
        #expect(account.tide.shortfall == 180 && account.shadowReady == 1, "60 s with 1 of 4 ready")
        account = ObservationLedger.advance(account, now: start.addingTimeInterval(120), decided: 2, targetReplicas: 1, actualReady: 1, ideal: 2, readyDelay: 90)
        #expect(account.tide.shortfall == 180 + 90 + 0, "30 s with 1 of 4, then 30 s with 4 of 4 ready: \(account.tide)")
        #expect(account.tide.idle == 0 && account.shadowReplicas == 2 && account.shadowReady == 2 && account.tide.scaleChanges == 2)
    }
}

/// LocalKube with Tide's CRDs, a client, and workloads to scale.
struct AutoscalerCluster {
    let server: LocalKubeServer
    let client: KubeClient
    let namespace = "shop"

    static func start() async throws -> AutoscalerCluster {
        let server = try await LocalKubeServer.start()
        _ = try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("crds").path, to: server.store)
        var connection = ClusterConnection(server: server.url)
        connection.userAgent = "tide-autoscaler-test"
        let cluster = AutoscalerCluster(server: server, client: try KubeClient(connection: connection))
        _ = try await cluster.client.clusterScoped(Namespace.self).create(Namespace(name: cluster.namespace))
        return cluster
    }

    var autoscalers: ResourceClient<Autoscaler, SingleScope> { client.namespaced(Autoscaler.self, in: namespace) }

    func stop() async {
        try? await client.shutdown()
        await server.stop()
    }

    /// A workload of `kind` with `replicas`, `ready` of them ready.
    func workload(_ resource: ResourceDescriptor, name: String, replicas: Int32, ready: Int32) async throws {
        let objects = client.resource(DynamicObject.self, at: resource, namespace: namespace)
        var spec: JSONValue = ["replicas": .int(Int64(replicas)), "selector": ["matchLabels": ["app": .string(name)]]]
        var template: JSONValue = ["metadata": ["labels": ["app": .string(name)]], "spec": ["containers": [["name": "app", "image": "app:1"]]]]
        if resource.kind == "Application" {
            spec = ["image": "app:1", "replicas": .int(Int64(replicas))]
            template = nil
        }
        if template != nil { spec["template"] = template }
        if resource.kind == "StatefulSet" { spec["serviceName"] = .string(name) }
        let object = try JSONValue.object([
            "apiVersion": .string(resource.apiVersion), "kind": .string(resource.kind), "metadata": ["name": .string(name)], "spec": spec,
        ]).decode(as: DynamicObject.self)
        _ = try await objects.create(object)
        try await setReady(resource, name: name, replicas: replicas, ready: ready)
    }

    /// What a kubelet and the workload's controller would report.
    func setReady(_ resource: ResourceDescriptor, name: String, replicas: Int32, ready: Int32) async throws {
        let objects = client.resource(DynamicObject.self, at: resource, namespace: namespace)
        _ = try await objects.patchStatus(name, patch: ["status": ["replicas": .int(Int64(replicas)), "readyReplicas": .int(Int64(ready))]])
    }

    func create(_ name: String, target: ScaleTargetReference, observe: Bool = false, configure: (inout Scaling) -> Void = { _ in }) async throws {
        var scaling = Scaling(
            minReplicas: 1, maxReplicas: 10, prometheus: PrometheusSource(address: "http://prometheus.monitoring:9090", query: "sum(rate(requests_total[30s]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        configure(&scaling)
        _ = try await autoscalers.create(Autoscaler(
            metadata: ObjectMeta(name: name), spec: AutoscalerSpec(scaleTargetRef: target, observe: observe, scaling: scaling)))
    }
}

let statefulSets = ResourceDescriptor(group: "apps", version: "v1", plural: "statefulsets", kind: "StatefulSet", namespaced: true)

@Suite("Autoscaler: Tide's scaler on a workload users already run")
struct AutoscalerTests {
    @Test("a Deployment, a StatefulSet and an Application are scaled through their /scale; the Autoscaler shows the decision, the target's replicas and Ready")
    func targets() async throws {
        let cluster = try await AutoscalerCluster.start()
        defer { Task { await cluster.stop() } }
        let source = SettableSource()
        source.value.withLock { $0 = 32 }
        let kinds: [(ResourceDescriptor, String)] = [(Deployment.resource, "apps/v1"), (statefulSets, "apps/v1"), (Application.resource, "tide.dev/v1alpha1")]
        for (resource, apiVersion) in kinds {
            let name = resource.kind.lowercased()
            try await cluster.workload(resource, name: name, replicas: 2, ready: 2)
            try await cluster.create(name, target: ScaleTargetReference(apiVersion: apiVersion, kind: resource.kind, name: name))
            let outcome = await AutoscalerScaler(client: cluster.client, namespace: cluster.namespace, name: name, makeSource: { _, _ in source }).runOnce()
            #expect(outcome.kind == .decided && outcome.line.contains("scaled 2 → 6"), "\(resource.kind): \(outcome.line)")
            let scale = try await cluster.client.resource(DynamicObject.self, at: resource, namespace: cluster.namespace).getScale(name)
            #expect(scale.spec.replicas == 6, "\(resource.kind): the scale-up policy allows 6 of the 7 that 32 req/s ask for now")
            let autoscaler = try await cluster.autoscalers.get(name)
            #expect(autoscaler.status?.replicas == 6 && autoscaler.status?.readyReplicas == 2 && autoscaler.status?.scaling?.desiredReplicas == 6)
            let ready = autoscaler.status?.conditions?.first { $0.type == "Ready" }
            #expect(ready?.status == "True" && ready?.reason == "Scaling" && ready?.message == "scaling \(resource.kind)/\(name)")
            #expect(autoscaler.status?.conditions?.first { $0.type == "ScalingLimited" }?.reason == "ScaleUpLimit")
            #expect(autoscaler.status?.observation == nil)
        }
    }

    @Test("observe mode: the target's replicas and resourceVersion are untouched while load rises and falls; the account matches the ledger; events say 'would scale'")
    func observe() async throws {
        let cluster = try await AutoscalerCluster.start()
        defer { Task { await cluster.stop() } }
        try await cluster.workload(Deployment.resource, name: "checkout", replicas: 3, ready: 3)
        try await cluster.create("checkout", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "checkout"), observe: true)
        let deployments = cluster.client.namespaced(Deployment.self, in: cluster.namespace)
        let before = try await deployments.get("checkout")
        let source = SettableSource()
        let clock = Mutex(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        let scaler = AutoscalerScaler(
            client: cluster.client, namespace: cluster.namespace, name: "checkout", now: { clock.withLock { $0 } }, makeSource: { _, _ in source })
        var expected: ObservationStatus?
        for load in [15.0, 40, 40, 40, 10, 10, 10, 10, 10, 10, 10, 10] {
            source.value.withLock { $0 = load }
            let outcome = await scaler.runOnce()
            #expect(outcome.kind == .decided, "\(outcome.line)")
            let decision = try #require(outcome.decision)
            let time = clock.withLock { $0 }
            expected = ObservationLedger.advance(
                expected, now: time, decided: decision.desiredReplicas, targetReplicas: 3, actualReady: 3,
                ideal: Int32((load / 5).rounded(.up)), readyDelay: TimeInterval(decision.history.readyDelaySeconds ?? 30))
            let status = try await cluster.autoscalers.get("checkout").status
            #expect(status?.observation == expected, "after load \(load)")
            clock.withLock { $0 = $0.addingTimeInterval(60) }
        }
        let after = try await deployments.get("checkout")
        #expect(after.spec?.replicas == 3 && after.metadata.resourceVersion == before.metadata.resourceVersion, "the target is never written")
        let account = try #require(try await cluster.autoscalers.get("checkout").status?.observation)
        #expect(account.tide.scaleChanges >= 2 && account.actual.scaleChanges == 0)
        #expect(account.tide.shortfall < account.actual.shortfall && account.tide.idle < account.actual.idle, "\(account.summary)")
        let ready = try await cluster.autoscalers.get("checkout").status?.conditions?.first { $0.type == "Ready" }
        #expect(ready?.reason == "Observing")
        let events = try await cluster.client.namespaced(Event.self, in: cluster.namespace).list().items
        #expect(events.contains { $0.reason == "WouldScaleUp" && ($0.note ?? "").hasPrefix("would scale 3 → ") }, "\(events.map { $0.reason ?? "" })")
        #expect(!events.contains { $0.reason == "ScaledUp" || $0.reason == "ScaledDown" })
    }

    @Test("target problems are Ready=False with a reason, never a crash: missing, not scalable, already scaled by an HPA (observing beside it is allowed), not permitted, invalid spec")
    func problems() async throws {
        let cluster = try await AutoscalerCluster.start()
        defer { Task { await cluster.stop() } }
        let source = SettableSource()
        source.value.withLock { $0 = 10 }
        func run(_ name: String) async -> ScalerOutcome {
            await AutoscalerScaler(client: cluster.client, namespace: cluster.namespace, name: name, makeSource: { _, _ in source }).runOnce()
        }
        func ready(_ name: String) async throws -> Condition? {
            try await cluster.autoscalers.get(name).status?.conditions?.first { $0.type == "Ready" }
        }
        try await cluster.create("missing", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "nowhere"))
        #expect(await run("missing").exitCode == 3)
        #expect(try await ready("missing")?.reason == "TargetNotFound")
        #expect(try await ready("missing")?.message == "Deployment/nowhere does not exist in namespace shop")

        try await cluster.create("unknown", target: .init(apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", name: "web"))
        _ = await run("unknown")
        #expect(try await ready("unknown")?.reason == "TargetNotFound")
        #expect(try await ready("unknown")?.message.contains("argoproj.io/v1alpha1") == true)

        _ = try await cluster.client.namespaced(ConfigMap.self, in: cluster.namespace).create(ConfigMap(metadata: ObjectMeta(name: "settings")))
        try await cluster.create("settings", target: .init(apiVersion: "v1", kind: "ConfigMap", name: "settings"))
        _ = await run("settings")
        #expect(try await ready("settings")?.reason == "TargetNotScalable")

        try await cluster.workload(Deployment.resource, name: "api", replicas: 2, ready: 2)
        let hpa = try JSONValue.object([
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": ["name": "api-hpa"],
            "spec": ["scaleTargetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "api"], "minReplicas": 1, "maxReplicas": 5],
        ]).decode(as: DynamicObject.self)
        let hpas = ResourceDescriptor(group: "autoscaling", version: "v2", plural: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler", namespaced: true)
        _ = try await cluster.client.resource(DynamicObject.self, at: hpas, namespace: cluster.namespace).create(hpa)
        try await cluster.create("api", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "api"))
        #expect(await run("api").exitCode == 3)
        #expect(try await ready("api")?.reason == "TargetConflict")
        #expect(try await ready("api")?.message.hasPrefix("HorizontalPodAutoscaler api-hpa already scales Deployment/api") == true)
        try await cluster.create("api-watch", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "api"), observe: true)
        #expect(await run("api-watch").kind == .decided)
        #expect(try await ready("api-watch")?.reason == "Observing")

        // A Role without the target's /scale: the API server refuses the write.
        try await cluster.workload(Deployment.resource, name: "web", replicas: 1, ready: 1)
        try await cluster.create("web", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "web"))
        cluster.server.faults.add(.init(fault: .forbidden, verbs: [.update], resource: "deployments/scale"))
        #expect(await run("web").exitCode == 3)
        cluster.server.faults.clear()
        #expect(try await ready("web")?.reason == "TargetNotPermitted")
        #expect(try await ready("web")?.message.contains("resources: [deployments/scale], resourceNames: [web], verbs: [get, update, patch]") == true)

        try await cluster.create("bad", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "api"), observe: true) { $0.schedule = "each minute" }
        _ = await run("bad")
        #expect(try await ready("bad")?.reason == "InvalidSpec")
        #expect(try await cluster.client.resource(DynamicObject.self, at: Deployment.resource, namespace: cluster.namespace).getScale("api").spec.replicas == 2,
            "no problem ever wrote the target")
    }

    @Test("tide-scaler --autoscaler: the process records an unreachable metric on the Autoscaler and exits 2; --application and --autoscaler exclude each other")
    func process() async throws {
        let cluster = try await AutoscalerCluster.start()
        defer { Task { await cluster.stop() } }
        try await cluster.workload(Deployment.resource, name: "web", replicas: 1, ready: 1)
        try await cluster.create("web", target: .init(apiVersion: "apps/v1", kind: "Deployment", name: "web")) { scaling in
            scaling.prometheus = PrometheusSource(address: "http://127.0.0.1:9", query: "up")
        }
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("autoscaler-\(UUID().uuidString).yaml")
        try cluster.server.kubeconfig().write(to: kubeconfig, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: kubeconfig) }
        let binary = "\(binariesDirectory)/tide-scaler"
        let result = try await runProcess(binary, ["--kubeconfig", kubeconfig.path, "--namespace", "shop", "--autoscaler", "web", "--log-level", "error"])
        #expect(result.status == 2, "Prometheus is unreachable: the outcome is recorded, exit 2: \(result.errors)")
        #expect(result.errors.contains("Autoscaler shop/web"))
        let status = try await cluster.autoscalers.get("web").status
        #expect(status?.conditions?.first { $0.type == "ScalingActive" }?.reason == "FailedGetMetric")
        let both = try await runProcess(binary, ["--kubeconfig", kubeconfig.path, "--namespace", "shop", "--autoscaler", "web", "--application", "web"])
        #expect(both.status == 64 && both.errors.contains("give one of --application and --autoscaler"), "\(both.errors)")
    }
}

@Suite("Trying Tide beside an autoscaler that acts")
struct ObserveBesideTests {
    @Test("an HPA-like scaler acts on a Deployment while an observing Predictive Autoscaler watches: both figures accumulate, the observer never writes, and kubectl shows them")
    func beside() async throws {
        let cluster = try await AutoscalerCluster.start()
        defer { Task { await cluster.stop() } }
        try await cluster.workload(Deployment.resource, name: "checkout", replicas: 2, ready: 2)
        let target = ScaleTargetReference(apiVersion: "apps/v1", kind: "Deployment", name: "checkout")
        try await cluster.create("checkout-hpa", target: target)
        try await cluster.create("checkout-tide", target: target, observe: true) { $0.strategy = .predictive }
        let source = SettableSource()
        let clock = Mutex(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        func scaler(_ name: String) -> AutoscalerScaler {
            AutoscalerScaler(client: cluster.client, namespace: cluster.namespace, name: name, now: { clock.withLock { $0 } }, makeSource: { _, _ in source })
        }
        let (acting, observing) = (scaler("checkout-hpa"), scaler("checkout-tide"))
        let scales = cluster.client.resource(DynamicObject.self, at: Deployment.resource, namespace: cluster.namespace)
        // A kubelet: new pods are ready 20 s after a scale-up, removed ones go at once.
        var ready: Int32 = 2
        var pending: [(at: Date, replicas: Int32)] = []
        // 30 minutes every 15 s: 10 req/s, 45 from minute 5 to 15, then 10 again.
        for tick in 0..<120 {
            let now = clock.withLock { $0 }
            let minute = tick / 4
            source.value.withLock { $0 = (5..<15).contains(minute) ? 45 : 10 }
            let replicas = try await scales.getScale("checkout").spec.replicas ?? 0
            while let first = pending.first, first.at <= now {
                ready = max(ready, min(first.replicas, replicas))
                pending.removeFirst()
            }
            ready = min(ready, replicas)
            try await cluster.setReady(Deployment.resource, name: "checkout", replicas: replicas, ready: ready)
            #expect(await acting.runOnce().kind == .decided)
            #expect(await observing.runOnce().kind == .decided)
            let next = try await scales.getScale("checkout").spec.replicas ?? 0
            if next > replicas { pending.append((now.addingTimeInterval(20), next)) }
            clock.withLock { $0 = $0.addingTimeInterval(15) }
        }
        let account = try #require(try await cluster.autoscalers.get("checkout-tide").status?.observation)
        print("observation: \(account.summary); Tide \(account.tide.scaleChanges) changes, actual \(account.actual.scaleChanges)")
        #expect(account.actual.scaleChanges > 0, "the acting scaler changed the Deployment and the observer saw it")
        #expect(account.tide.idle < account.actual.idle, "Predictive's shadow gives back the step's replicas sooner: \(account.summary)")
        let hpaEvents = try await cluster.client.namespaced(Event.self, in: cluster.namespace).list().items
        #expect(hpaEvents.contains { $0.reason == "WouldScaleDown" } && hpaEvents.contains { $0.reason == "ScaledDown" })
        if let kubectl = kubectlPath {
            let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("beside-\(UUID().uuidString).yaml")
            try cluster.server.kubeconfig().write(to: kubeconfig, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: kubeconfig) }
            let table = try await runCommand(kubectl, ["--kubeconfig", kubeconfig.path, "get", "autoscalers", "-n", "shop"])
            print(table)
            #expect(table.contains("OBSERVATION") && table.contains(account.summary), "\(table)")
            let short = try await runCommand(kubectl, ["--kubeconfig", kubeconfig.path, "get", "tas", "-n", "shop", "-o", "name"])
            #expect(short.contains("autoscaler.tide.dev/checkout-tide"))
        }
    }
}
