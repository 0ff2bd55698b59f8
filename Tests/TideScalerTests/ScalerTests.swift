import Foundation
import KubeAPI
import KubeClient
import LocalKube
import TideAPI
import TideScaler
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// LocalKube with the CRD and a client.
struct ScalerCluster {
    let server: LocalKubeServer
    let client: KubeClient

    static func start() async throws -> ScalerCluster {
        let server = try await LocalKubeServer.start()
        try ManifestLoader.apply(path: repositoryRoot.appendingPathComponent("crds").path, to: server.store)
        var connection = ClusterConnection(server: server.url)
        connection.userAgent = "tide-scaler-test"
        return ScalerCluster(server: server, client: try KubeClient(connection: connection))
    }

    var applications: ResourceClient<Application, SingleScope> { client.namespaced(Application.self, in: "default") }

    var autoscalers: ResourceClient<Autoscaler, SingleScope> { client.namespaced(Autoscaler.self, in: "default") }

    /// An Application, and (when its spec is valid) the Autoscaler it owns, as the
    /// operator makes it: the one scaling path the scaler runs.
    func create(_ name: String, prometheus: URL, replicas: Int32? = 2, configure: (inout Scaling) -> Void = { _ in }) async throws {
        var scaling = Scaling(
            minReplicas: 1, maxReplicas: 10, prometheus: PrometheusSource(address: prometheus.absoluteString, query: "sum(rate(hello_requests_total[1m]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        configure(&scaling)
        let created = try await applications.create(
            Application(metadata: ObjectMeta(name: name), spec: ApplicationSpec(image: "hello:1", replicas: replicas, scaling: scaling)))
        if created.spec.withDefaults.validate().isEmpty, let own = created.scalingAutoscaler { _ = try await autoscalers.create(own) }
    }

    /// Updates an Application and, as the operator would, its Autoscaler's scaling spec.
    func update(_ application: Application) async throws {
        _ = try await applications.update(application)
        var own = try await autoscalers.get(application.name)
        own.spec.scaling = application.spec.scaling ?? own.spec.scaling
        _ = try await autoscalers.update(own)
    }

    /// What the scaler wrote: the status of the Application's Autoscaler (which the
    /// operator shows on the Application).
    func scalerStatus(_ name: String) async throws -> AutoscalerStatus? { try await autoscalers.get(name).status }

    func stop() async {
        try? await client.shutdown()
        await server.stop()
    }
}

func vector(_ value: String) -> String {
    #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,""# + value + #""]}]}}"#
}

@Suite("Scaler runs against LocalKube")
struct ScalerTests {
    @Test("a high metric scales up through /scale, writes status.scaling and conditions, records ScaledUp; exit 0")
    func scalesUp() async throws {
        let cluster = try await ScalerCluster.start()
        let prometheus = try await FakePrometheus.start(body: vector("30"))
        try await cluster.create("hello", prometheus: prometheus.url)
        let outcome = await Scaler(client: cluster.client, namespace: "default", name: "hello").runOnce()
        #expect(outcome.exitCode == 0, "\(outcome.line)")
        #expect(outcome.line.contains("scaled 2 → 6"))
        let application = try await cluster.applications.get("hello")
        #expect(application.spec.replicas == 6, "30 / 5 = 6, within the default +4 pods")
        let status = try await cluster.scalerStatus("hello")
        #expect(status?.scaling?.lastMetricValue == "30")
        #expect(status?.scaling?.desiredReplicas == 6)
        #expect(status?.conditions?[type: "ScalingActive"]?.reason == "ValidMetricFound")
        #expect(status?.conditions?[type: "ScalingLimited"]?.reason == "DesiredWithinRange")
        #expect(status?.conditions?[type: "Ready"]?.message == "scaling Application/hello")
        let events = try await cluster.client.namespaced(Event.self, in: "default").list().items
        #expect(events.contains { $0.reason == "ScaledUp" && $0.note?.contains("2 → 6 replicas; metric 30 for a target of 5 per replica → 6 replicas; scaling up to 6") == true })
        // A second run with the same metric keeps 6 and writes no /scale.
        cluster.server.requests.reset()
        let again = await Scaler(client: cluster.client, namespace: "default", name: "hello").runOnce()
        #expect(again.exitCode == 0)
        #expect(cluster.server.requests.count(.update, resource: "applications/scale") == 0)
        #expect(cluster.server.requests.count(.patch, resource: "autoscalers/status") == 1, "status.scaling is always written")
        await prometheus.stop()
        await cluster.stop()
    }

    @Test("an unavailable metric holds, records MetricUnavailable and exits 2; Fallback applies after the threshold")
    func unavailable() async throws {
        let cluster = try await ScalerCluster.start()
        let prometheus = try await FakePrometheus.start(body: #"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
        try await cluster.create("hello", prometheus: prometheus.url) { scaling in
            scaling.onMetricUnavailable = .fallback
            scaling.fallback = Fallback(failureThreshold: 2, replicas: 5)
        }
        let scaler = Scaler(client: cluster.client, namespace: "default", name: "hello")
        let first = await scaler.runOnce()
        #expect(first.exitCode == 2)
        #expect(first.line.contains("EmptyResult"))
        #expect(try await cluster.applications.get("hello").spec.replicas == 2)
        #expect(try await cluster.scalerStatus("hello")?.conditions?[type: "ScalingActive"]?.status == "False")
        let second = await scaler.runOnce()
        #expect(second.exitCode == 2)
        #expect(try await cluster.applications.get("hello").spec.replicas == 5, "fallback after 2 failures")
        #expect(try await cluster.scalerStatus("hello")?.scaling?.consecutiveFailures == 2)
        let events = try await cluster.client.namespaced(Event.self, in: "default").list().items
        #expect(events.contains { $0.reason == "MetricUnavailable" && $0.type == "Warning" })
        await prometheus.stop()
        await cluster.stop()
    }

    @Test("missing or invalid Applications, and one without its Autoscaler yet, exit 3 with one clear line; dry run writes nothing")
    func invalidAndDryRun() async throws {
        let cluster = try await ScalerCluster.start()
        let prometheus = try await FakePrometheus.start(body: vector("30"))
        let missing = await Scaler(client: cluster.client, namespace: "default", name: "ghost").runOnce()
        #expect(missing.exitCode == 3)
        #expect(missing.line == "Application default/ghost not found")
        try await cluster.create("blank", prometheus: prometheus.url) { $0.prometheus?.query = "  " }
        let blank = await Scaler(client: cluster.client, namespace: "default", name: "blank").runOnce()
        #expect(blank.exitCode == 3)
        #expect(blank.line.contains("spec.scaling.prometheus.query: must be a PromQL query; it is empty"))
        _ = try await cluster.applications.create(Application(metadata: ObjectMeta(name: "fixed"), spec: ApplicationSpec(image: "x", replicas: 1)))
        #expect(await Scaler(client: cluster.client, namespace: "default", name: "fixed").runOnce().exitCode == 3)
        _ = try await cluster.applications.create(Application(
            metadata: ObjectMeta(name: "early"), spec: ApplicationSpec(image: "x", scaling: Scaling(maxReplicas: 3, metrics: [
                ScalingMetric(name: "rps", prometheus: PrometheusSource(address: prometheus.url.absoluteString, query: "q"), target: MetricTarget(type: .perReplica, value: "5")),
            ]))))
        let early = await Scaler(client: cluster.client, namespace: "default", name: "early").runOnce()
        #expect(early.exitCode == 3)
        #expect(early.line == "Application default/early has no Autoscaler of its own yet: the operator makes Autoscaler early, which its scaler runs for (--autoscaler early)")

        try await cluster.create("dry", prometheus: prometheus.url)
        cluster.server.requests.reset()
        let dry = await Scaler(client: cluster.client, namespace: "default", name: "dry", dryRun: true).runOnce()
        #expect(dry.exitCode == 0)
        #expect(dry.decision?.desiredReplicas == 6)
        #expect(cluster.server.requests.writes == 0)
        await prometheus.stop()
        await cluster.stop()
    }

    @Test("a conflict on /scale is retried with a fresh read")
    func conflictRetry() async throws {
        let cluster = try await ScalerCluster.start()
        let prometheus = try await FakePrometheus.start(body: vector("30"))
        try await cluster.create("hello", prometheus: prometheus.url)
        cluster.server.faults.failNext(with: .conflict, verbs: [.update], resource: "applications/scale")
        let outcome = await Scaler(client: cluster.client, namespace: "default", name: "hello").runOnce()
        #expect(outcome.exitCode == 0, "\(outcome.line)")
        #expect(try await cluster.applications.get("hello").spec.replicas == 6)
        #expect(cluster.server.requests.count(.get, resource: "applications/scale") >= 2, "/scale read again")
        await prometheus.stop()
        await cluster.stop()
    }
}
