import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeClient
import KubeRuntime
import KubeSupport
import LocalKube
import TideAPI
import TideOperator
import Testing

@Suite("Operator end to end, on LocalKube and on the real API server", .serialized)
struct OperatorEndToEndTests {
    @Test("create: every child with owner references and labels, then Ready once the Deployment is available", arguments: Backend.available)
    func create(_ backend: Backend) async throws {
        let harness = try await OperatorHarness.start(backend)
        var spec = helloSpec()
        spec.scaling = Scaling(
            maxReplicas: 5, prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(rate(hello_requests_total[1m]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        spec.replicas = nil
        let created = try await harness.applications.create(newApplication("hello", spec))
        #expect(created.spec.port == 8080, "CRD schema defaults are applied by the API server")
        #expect(await eventually { try await harness.deployments.getIfPresent("hello") != nil })
        #expect(await eventually { try await harness.client.namespaced(CronJob.self, in: harness.namespace).getIfPresent("hello-scaler") != nil })
        let deployment = try await harness.deployments.get("hello")
        #expect(deployment.metadata.controllerReference?.uid == created.metadata.uid)
        #expect(deployment.metadata.labels?["app.kubernetes.io/managed-by"] == "tide")
        #expect(deployment.spec?.replicas == 1)
        let service = try await harness.services.get("hello")
        #expect(service.metadata.controllerReference?.name == "hello")
        #expect(await eventually { try await harness.client.namespaced(RoleBinding.self, in: harness.namespace).getIfPresent("hello-scaler") != nil })
        #expect(try await harness.client.namespaced(ServiceAccount.self, in: harness.namespace).get("hello-scaler").metadata.controllerReference != nil)
        #expect(try await harness.client.namespaced(RoleBinding.self, in: harness.namespace).get("hello-scaler").roleRef == .init(kind: "Role", name: "hello-scaler"))
        #expect(try await harness.client.namespaced(Role.self, in: harness.namespace).get("hello-scaler").rules?.first?.resourceNames == ["hello"])
        #expect(await eventually { try await harness.condition("Ready", of: "hello")?.reason == "RollingOut" })
        try await harness.markAvailable("hello")
        #expect(await eventually(timeout: .seconds(30)) { try await harness.condition("Ready", of: "hello")?.status == "True" })
        let status = try await harness.applications.get("hello").status
        #expect(status?.observedGeneration == 1)
        #expect(status?.readyReplicas == 1)
        #expect(status?.selector == "app.kubernetes.io/instance=hello,app.kubernetes.io/name=hello")
        let monitorsServed = try await harness.client.serves(group: "monitoring.coreos.com", version: "v1", plural: "servicemonitors")
        #expect(try await harness.condition("Degraded", of: "hello")?.reason == (monitorsServed ? "AsExpected" : "ServiceMonitorCRDMissing"))
        await harness.stop()
    }

    @Test("update image, port and env: children follow; /scale writes reach the Deployment; delete removes children", arguments: Backend.available)
    func updateScaleDelete(_ backend: Backend) async throws {
        let harness = try await OperatorHarness.start(backend)
        _ = try await harness.applications.create(newApplication("web", helloSpec()))
        #expect(await eventually { try await harness.deployments.getIfPresent("web") != nil })
        _ = try await harness.applications.mergePatch("web", patch: ["spec": ["image": "hello:2", "port": 9090, "env": [["name": "GREETING", "value": "Hi"]]]])
        #expect(await eventually {
            let container = try await harness.deployments.get("web").spec?.template.spec?.containers.first
            return container?.image == "hello:2" && container?.ports?.first?.containerPort == 9090 && container?.env?.first?.value == "Hi"
        })
        #expect(await eventually { try await harness.services.get("web").spec?.ports?.first?.port == 9090 })

        let scale = try await harness.applications.scale("web", replicas: 4)
        #expect(scale.spec.replicas == 4)
        #expect(await eventually { try await harness.deployments.get("web").spec?.replicas == 4 })
        #expect(await eventually { try await harness.applications.getScale("web").status?.selector == "app.kubernetes.io/instance=web,app.kubernetes.io/name=web" })

        try await harness.applications.delete("web")
        // The garbage collector (LocalKube's, or kube-controller-manager's) removes the
        // children. A fresh kube-controller-manager learns of a new CRD's resource at its
        // next discovery sync (every 30 s), so it may need that long.
        #expect(await eventually(timeout: .seconds(90)) { try await harness.deployments.getIfPresent("web") == nil })
        #expect(await eventually(timeout: .seconds(90)) { try await harness.services.getIfPresent("web") == nil })
        await harness.stop()
    }

    @Test("drift is repaired: an edited Deployment is put back, a deleted Service is recreated", arguments: Backend.available)
    func drift(_ backend: Backend) async throws {
        let harness = try await OperatorHarness.start(backend)
        _ = try await harness.applications.create(newApplication("drift", helloSpec()))
        #expect(await eventually { try await harness.services.getIfPresent("drift") != nil })
        #expect(await eventually { try await harness.deployments.getIfPresent("drift") != nil })
        _ = try await harness.deployments.mergePatch("drift", patch: ["metadata": ["labels": ["app.kubernetes.io/name": "other"]]])
        _ = try await harness.deployments.mergePatch(
            "drift", patch: ["spec": ["template": ["spec": ["containers": [["name": "app", "image": "evil:1"]]]]]])
        #expect(await eventually {
            let live = try await harness.deployments.get("drift")
            return live.spec?.template.spec?.containers.first?.image == "hello:1" && live.metadata.labels?["app.kubernetes.io/name"] == "drift"
        })
        try await harness.services.delete("drift")
        #expect(await eventually { try await harness.services.getIfPresent("drift") != nil })
        await harness.stop()
    }

    @Test("an object Tide does not control is left alone: Ready=False ResourceConflict and a Warning event", arguments: Backend.available)
    func foreignObject(_ backend: Backend) async throws {
        let harness = try await OperatorHarness.start(backend)
        let foreign = KubeAPI.Service(metadata: ObjectMeta(name: "taken", labels: ["owner": "someone"]), spec: .init(selector: ["x": "y"], ports: [ServicePort(name: "web", port: 1234)]))
        let created = try await harness.services.create(foreign)
        _ = try await harness.applications.create(newApplication("taken", helloSpec()))
        #expect(await eventually { try await harness.condition("Ready", of: "taken")?.reason == "ResourceConflict" })
        let service = try await harness.services.get("taken")
        #expect(service.spec?.ports?.first?.port == 1234, "not overwritten")
        #expect(service.metadata.ownerReferences == nil, "not adopted")
        #expect(service.metadata.resourceVersion == created.metadata.resourceVersion, "not written to at all")
        #expect(try await harness.deployments.getIfPresent("taken") != nil, "the rest is deployed")
        let events = try await harness.client.namespaced(Event.self, in: harness.namespace).list().items
        #expect(events.contains { $0.reason == "ResourceConflict" && $0.type == "Warning" && $0.note?.contains("Service taken") == true })
        await harness.stop()
    }

    @Test("without the ServiceMonitor CRD: Degraded and the rest deployed; once it appears the ServiceMonitor is created")
    func serviceMonitorAppears() async throws {
        let harness = try await OperatorHarness.start()
        _ = try await harness.applications.create(newApplication("mon", helloSpec()))
        #expect(await eventually { try await harness.condition("Degraded", of: "mon")?.reason == "ServiceMonitorCRDMissing" })
        #expect(try await harness.deployments.getIfPresent("mon") != nil)
        let crd = CustomResourceDefinition(
            metadata: ObjectMeta(name: "servicemonitors.monitoring.coreos.com"),
            spec: .init(
                group: "monitoring.coreos.com", names: .init(plural: "servicemonitors", kind: "ServiceMonitor"), scope: "Namespaced",
                versions: [.init(name: "v1", schema: .init(openAPIV3Schema: ["type": "object", "x-kubernetes-preserve-unknown-fields": true]))]))
        _ = try await harness.client.clusterScoped(CustomResourceDefinition.self).create(crd)
        let monitors = harness.client.namespaced(ServiceMonitor.self, in: "demo")
        #expect(await eventually(timeout: .seconds(10)) { try await monitors.getIfPresent("mon") != nil })
        #expect(try await monitors.get("mon").spec.endpoints.first?.port == "http")
        #expect(await eventually { try await harness.condition("Degraded", of: "mon")?.status == "False" })
        await harness.stop()
    }

    @Test("an invalid spec: Ready=False InvalidSpec with the message, nothing applied, the operator stays healthy", arguments: Backend.available)
    func invalidSpec(_ backend: Backend) async throws {
        let harness = try await OperatorHarness.start(backend)
        var spec = helloSpec()
        spec.scaling = Scaling(maxReplicas: 3, prometheus: PrometheusSource(address: "http://p:9090", query: "   "), target: MetricTarget(type: .total, value: "ten"))
        _ = try await harness.applications.create(newApplication("broken", spec))
        _ = try await harness.applications.create(newApplication("fine", helloSpec()))
        #expect(await eventually { try await harness.condition("Ready", of: "broken")?.reason == "InvalidSpec" })
        let message = try await harness.condition("Ready", of: "broken")?.message ?? ""
        #expect(message.contains("spec.scaling.prometheus.query: must be a PromQL query; it is empty"))
        #expect(message.contains("spec.scaling.target.value: \"ten\" is not a number"))
        #expect(try await harness.deployments.getIfPresent("broken") == nil)
        #expect(await eventually { try await harness.deployments.getIfPresent("fine") != nil }, "other Applications are unaffected")
        // The schema rejects what it can, with the server's causes.
        do {
            _ = try await harness.applications.create(newApplication("worse", ApplicationSpec(image: "x", port: 70_000)))
            Issue.record("port 70000 must be rejected by the CRD schema")
        } catch let error as KubeError {
            #expect(error.causes.contains { $0.field == "spec.port" })
        }
        let port = harness.tide.healthPort ?? 0
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(5))
        #expect(response.status.code == 200)
        let ready = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/readyz"), timeout: .seconds(5))
        #expect(ready.status.code == 200)
        await harness.stop()
    }

    @Test("steady state: a full resync makes zero write requests", arguments: Backend.available)
    func steadyStateResync(_ backend: Backend) async throws {
        let harness = try await OperatorHarness.start(backend)
        for name in ["a", "b", "c"] { _ = try await harness.applications.create(newApplication(name, helloSpec())) }
        var scaled = helloSpec(replicas: nil)
        // A yearly schedule: no CronJob activity inside the window.
        scaled.scaling = Scaling(
            maxReplicas: 4, schedule: "0 0 1 1 *", prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(up)"),
            target: MetricTarget(type: .total, value: "5"))
        _ = try await harness.applications.create(newApplication("d", scaled))
        for name in ["a", "b", "c", "d"] {
            #expect(await eventually { try await harness.deployments.getIfPresent(name) != nil })
            try await harness.markAvailable(name)
        }
        for name in ["a", "b", "c", "d"] {
            #expect(await eventually(timeout: .seconds(30)) { try await harness.condition("Ready", of: name)?.status == "True" })
        }
        try await Task.sleep(for: .milliseconds(500))
        // The operator's writes, counted by the server that serves them.
        let operatorResources: Set<String> = [
            "tide.dev/applications/status", "apps/deployments/", "/services/", "/serviceaccounts/", "rbac.authorization.k8s.io/roles/",
            "rbac.authorization.k8s.io/rolebindings/", "batch/cronjobs/", "events.k8s.io/events/",
        ]
        func writes() async throws -> Int {
            switch backend {
            case .localKube: return try harness.server.requests.writes
            case .realCluster: return try await #require(harness.cluster).writeRequestCount(admin: harness.client, resources: operatorResources)
            }
        }
        if backend == .localKube { try harness.server.requests.reset() }
        let before = try await writes()
        for name in ["a", "b", "c", "d"] { await harness.tide.controller.queue.add(ObjectKey(namespace: harness.namespace, name: name)) }
        try await Task.sleep(for: .milliseconds(800))
        #expect(await harness.tide.controller.queue.depth == 0)
        let after = try await writes()
        #expect(after - before == 0, "writes during a steady-state resync on \(backend.rawValue)")

        // After a restart the caches are filled from lists (whose items a server sends
        // without apiVersion and kind), not from watch events: still nothing to write,
        // neither in the first reconcile of each Application nor in a resync.
        await harness.stop(keepServer: true)
        let restartedBefore = try await writes()
        let restarted = try await OperatorHarness.start(backend, sharing: harness)
        #expect(await eventually { restarted.tide.controller.isReady })
        try await Task.sleep(for: .milliseconds(800))
        for name in ["a", "b", "c", "d"] { await restarted.tide.controller.queue.add(ObjectKey(namespace: restarted.namespace, name: name)) }
        try await Task.sleep(for: .milliseconds(800))
        #expect(await restarted.tide.controller.queue.depth == 0)
        let restartedAfter = try await writes()
        #expect(restartedAfter - restartedBefore == 0, "writes after a restart on \(backend.rawValue)")
        await restarted.stop()
    }

    @Test("a create-only apply creates what is absent, owned as any apply, and leaves an existing object untouched", arguments: Backend.available)
    func createOnlyApply(_ backend: Backend) async throws {
        let harness = try await OperatorHarness.start(backend)
        let maps = harness.client.namespaced(ConfigMap.self, in: harness.namespace)
        let created = try #require(
            try await maps.applyIfAbsent(ConfigMap(metadata: ObjectMeta(name: "once"), data: ["a": "1", "b": "2"]), fieldManager: "tide-test"))
        #expect(created.data == ["a": "1", "b": "2"])
        // An object of that name exists (anyone's): nothing is written to it.
        let again = try await maps.applyIfAbsent(ConfigMap(metadata: ObjectMeta(name: "once"), data: ["a": "changed"]), fieldManager: "tide-test")
        #expect(again == nil)
        let live = try await maps.get("once")
        #expect(live.data == ["a": "1", "b": "2"])
        #expect(live.metadata.resourceVersion == created.metadata.resourceVersion, "not written to")
        // The manager owns the fields as after any apply: applying without `b` removes it.
        let applied = try await maps.apply(ConfigMap(metadata: ObjectMeta(name: "once"), data: ["a": "1"]), fieldManager: "tide-test")
        #expect(applied.data == ["a": "1"])
        if backend == .realCluster {
            let raw = try await harness.client.request(
                .GET, path: "/api/v1/namespaces/\(harness.namespace)/configmaps/once", as: JSONValue.self)
            let managers = raw["metadata"]?["managedFields"]?.arrayValue ?? []
            #expect(managers.map { "\($0["manager"]?.stringValue ?? "") \($0["operation"]?.stringValue ?? "")" } == ["tide-test Apply"])
        }
        await harness.stop()
    }

    @Test("two operator instances with leader election: exactly one reconciles", arguments: Backend.available)
    func leaderElection(_ backend: Backend) async throws {
        let lease = "tide-operator-\(UUID().uuidString.prefix(6).lowercased())"
        let first = try await OperatorHarness.start(backend) { options in
            options.leaderElection = .init(leaseName: lease, namespace: backend == .realCluster ? "tide-system" : "default", identity: "first")
            options.leaderElection?.retryPeriod = .milliseconds(100)
        }
        let second = try await OperatorHarness.start(backend, sharing: first) { options in
            options.leaderElection = .init(leaseName: lease, namespace: first.leaseNamespace, identity: "second")
            options.leaderElection?.retryPeriod = .milliseconds(100)
        }
        _ = try await first.applications.create(newApplication("elected", helloSpec()))
        #expect(await eventually { try await first.deployments.getIfPresent("elected") != nil })
        let held = try await first.client.namespaced(Lease.self, in: first.leaseNamespace).get(lease)
        let leaders = [first, second].filter { $0.tide.controller.isReady }
        #expect(leaders.count == 1)
        #expect(held.spec?.holderIdentity == (first.tide.controller.isReady ? "first" : "second"))
        await second.stop(keepServer: true)
        await first.stop()
    }

    @Test("a new Application costs at most four writes, Events included; the missing ServiceMonitor CRD costs no Event per Application")
    func writesPerApplication() async throws {
        let harness = try await OperatorHarness.start()
        let server = try harness.server
        try await Task.sleep(for: .milliseconds(300))
        server.requests.reset()
        for name in ["w1", "w2", "w3"] { _ = try await harness.applications.create(newApplication(name, helloSpec())) }
        for name in ["w1", "w2", "w3"] {
            #expect(await eventually { try await harness.condition("Ready", of: name)?.reason == "RollingOut" })
        }
        let namespace = harness.namespace
        let client = harness.client
        // The Event is written after the status: wait for it before counting.
        #expect(await eventually {
            try await client.namespaced(Event.self, in: namespace).list().items.filter { $0.reason == "Created" }.count == 3
        })
        try await Task.sleep(for: .milliseconds(300))
        let operatorRequests = server.requests.byUserAgent["tide-operator-test"]
        #expect((operatorRequests?.writes ?? 99) <= 3 * 4, "\(server.requests.snapshot)")
        // Absent children are created without being read first.
        #expect(server.requests.count(.get, resource: "deployments") + server.requests.count(.get, resource: "services") == 0, "\(server.requests.snapshot)")
        let events = try await harness.client.namespaced(Event.self, in: harness.namespace).list().items
        #expect(!events.contains { $0.reason == "ServiceMonitorCRDMissing" })
        #expect(events.filter { $0.reason == "Created" }.count == 3, "one Event per Application: \(events.map { $0.note ?? "" })")
        #expect(events.first { $0.regarding?.name == "w1" }?.note == "created Deployment w1, created Service w1")
        await harness.stop()
    }

    @Test("the shipped kustomize output and samples are accepted by the API server")
    func manifestsLoad() async throws {
        let server = try await LocalKubeServer.start(options: { var o = LocalKubeOptions(); o.autoCreateNamespaces = true; return o }())
        try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("crds").path, to: server.store)
        let samples = try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("samples").path, to: server.store)
        // Three Applications; the Autoscaler sample's Namespace and Autoscaler.
        #expect(samples.count == 5)
        // The scaler objects for a cluster without the operator.
        let manual = try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("samples/without-operator").path, to: server.store)
        #expect(manual.map { $0["kind"]?.stringValue ?? "" } == ["ServiceAccount", "Role", "RoleBinding", "CronJob"])
        #expect(samples.filter { $0["kind"] == "Autoscaler" }.count == 1)
        for path in ["config/default/namespace.yaml", "config/rbac", "config/manager"] {
            let objects = try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent(path).path, to: server.store)
            #expect(!objects.isEmpty, "\(path)")
        }
        await server.stop()
    }
}
