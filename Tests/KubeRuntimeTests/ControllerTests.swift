import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeClient
import KubeProbes
import KubeRuntime
import KubeSupport
import LocalKube
import Logging
import Prometheus
import ServiceLifecycle
import Testing

/// Records reconciles; can fail a key a number of times.
final class RecordingReconciler: Reconciler {
    let calls = Locked<[ObjectKey]>([])
    let running = Locked<Set<ObjectKey>>([])
    let overlaps = Locked(0)
    let failures = Locked<[ObjectKey: Int]>([:])
    let cacheSynced: @Sendable () -> Bool
    let syncedAtFirstCall = Locked<Bool?>(nil)

    init(cacheSynced: @escaping @Sendable () -> Bool) { self.cacheSynced = cacheSynced }

    func reconcile(_ key: ObjectKey) async throws -> ReconcileResult {
        syncedAtFirstCall.withLock { if $0 == nil { $0 = cacheSynced() } }
        if !running.withLock({ $0.insert(key).inserted }) { overlaps.withLock { $0 += 1 } }
        defer { running.withLock { _ = $0.remove(key) } }
        calls.withLock { $0.append(key) }
        try await Task.sleep(for: .milliseconds(1))
        let fail = failures.withLock { failures -> Bool in
            guard let left = failures[key], left > 0 else { return false }
            failures[key] = left - 1
            return true
        }
        if fail { throw KubeError.transport("injected failure") }
        return .done
    }

    func count(_ key: ObjectKey) -> Int { calls.value.filter { $0 == key }.count }
}

@Suite("Controller")
struct ControllerTests {
    @Test("reconciles after sync, maps owned children to their owner, retries failures, resyncs")
    func reconcileLoop() async throws {
        let cluster = try await Cluster.start()
        let deployments = cluster.client.namespaced(Deployment.self, in: "default")
        let accounts = cluster.client.namespaced(ServiceAccount.self, in: "default")
        let owner = try await deployments.create(sampleDeployment("owner"))
        let primary = Informer(Watcher(ListWatch(deployments)))
        let children = Informer(Watcher(ListWatch(accounts)))
        let reconciler = RecordingReconciler(cacheSynced: { primary.cache.hasSynced && children.cache.hasSynced })
        var configuration = Controller.Configuration(name: "test")
        configuration.workers = 2
        configuration.resyncPeriod = .milliseconds(300)
        let registry = PrometheusCollectorRegistry()
        let controller = Controller(
            configuration: configuration, reconciler: reconciler,
            metrics: ControllerMetrics(controller: "test", factory: PrometheusMetricsFactory(registry: registry)))
        controller.watches(primary)
        controller.owns(children, ownerAPIVersion: "apps/v1", ownerKind: "Deployment")
        let group = ServiceGroup(configuration: .init(services: [primary, children, controller], logger: Logger(label: "test")))
        let run = Task { try await group.run() }

        let ownerKey = ObjectKey(namespace: "default", name: "owner")
        #expect(await eventually { reconciler.count(ownerKey) >= 1 })
        #expect(reconciler.syncedAtFirstCall.value == true, "no reconcile before caches synced")
        #expect(controller.isReady)

        let before = reconciler.count(ownerKey)
        let reference = OwnerReference(apiVersion: "apps/v1", kind: "Deployment", name: "owner", uid: owner.metadata.uid!, controller: true)
        _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "child", ownerReferences: [reference])))
        #expect(await eventually { reconciler.count(ownerKey) > before }, "a child's change reconciles its owner")
        _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "orphan")))
        #expect(reconciler.count(ObjectKey(namespace: "default", name: "orphan")) == 0)

        let flaky = ObjectKey(namespace: "default", name: "flaky")
        reconciler.failures.withLock { $0[flaky] = 3 }
        _ = try await deployments.create(sampleDeployment("flaky"))
        #expect(await eventually { reconciler.count(flaky) >= 4 }, "failures are retried until success")

        let settled = reconciler.count(ownerKey)
        #expect(await eventually { reconciler.count(ownerKey) > settled }, "periodic resync reconciles again")
        #expect(reconciler.overlaps.value == 0)

        var metrics: [UInt8] = []
        registry.emit(into: &metrics)
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(text.contains(#"controller_runtime_reconcile_errors_total{controller="test"} 3"#))
        #expect(text.contains("workqueue_adds_total"))
        #expect(text.contains("controller_runtime_reconcile_time_seconds"))

        await group.triggerGracefulShutdown()
        _ = await run.result
        #expect(!controller.isReady)
        await cluster.stop()
    }
}

func sampleDeployment(_ name: String) -> Deployment {
    Deployment(
        metadata: ObjectMeta(name: name),
        spec: .init(
            selector: LabelSelector(matchLabels: ["app": name]),
            template: PodTemplateSpec(metadata: ObjectMeta(labels: ["app": name]), spec: PodSpec(containers: [Container(name: "c", image: "i")]))))
}

@Suite("Leader election")
struct LeaderElectionTests {
    func configuration(_ identity: String) -> LeaderElector.Configuration {
        var configuration = LeaderElector.Configuration(leaseName: "tide-operator", namespace: "default", identity: identity)
        configuration.leaseDuration = .seconds(2)
        configuration.renewDeadline = .milliseconds(1_200)
        configuration.retryPeriod = .milliseconds(200)
        return configuration
    }

    /// Runs contenders, each counting how long its work ran, and samples who leads.
    @Test("with two and three contenders exactly one leads; release hands over; expiry hands over; a leader that cannot renew stops", arguments: [2, 3])
    func contenders(count: Int) async throws {
        let cluster = try await Cluster.start()
        let clients = try (0..<count).map { try cluster.server.makeClient(userAgent: "candidate-\($0)") }
        let electors = clients.enumerated().map { LeaderElector(client: $1, configuration: configuration("candidate-\($0)")) }
        let working = Locked<Set<Int>>([])
        let maxConcurrent = Locked(0)
        let groups = electors.enumerated().map { index, elector in
            ServiceGroup(configuration: .init(services: [ElectedWork(elector: elector, index: index, working: working, maxConcurrent: maxConcurrent)], logger: Logger(label: "c\(index)")))
        }
        let runs = groups.map { group in Task { try await group.run() } }
        func leader() -> Int? { electors.firstIndex { $0.isLeader } }

        #expect(await eventually(timeout: .seconds(30)) { leader() != nil })
        let first = try #require(leader(), "no candidate became leader")
        // Graceful shutdown of the leader releases the Lease; another takes over well
        // before the lease would have expired.
        let releasedAt = ContinuousClock.now
        await groups[first].triggerGracefulShutdown()
        _ = await runs[first].result
        let lease = try await cluster.client.namespaced(Lease.self, in: "default").get("tide-operator")
        #expect(lease.spec?.holderIdentity == nil || lease.spec?.holderIdentity != "candidate-\(first)")
        #expect(await eventually(timeout: .seconds(30)) { leader() != nil && leader() != first })
        #expect(ContinuousClock.now - releasedAt < .milliseconds(1_800), "took over on release, before the 2 s lease expired")
        let second = try #require(leader(), "no candidate took over")

        // The new leader loses access to the API server: it must stop its work within
        // the renew deadline, and another candidate takes over after expiry.
        cluster.server.faults.add(.init(fault: .serverError(code: 503), userAgent: "candidate-\(second)"))
        let cutAt = ContinuousClock.now
        #expect(await eventually { !working.value.contains(second) })
        #expect(ContinuousClock.now - cutAt < .milliseconds(1_900), "stopped within the renew deadline (1.2 s) and a retry")
        let runResult = await runs[second].result
        #expect(throws: LeaderElectionError.self) { try runResult.get() }
        if count == 3 {
            #expect(await eventually(timeout: .seconds(30)) { leader().map { ![first, second].contains($0) } ?? false })
        } else {
            #expect(await eventually { leader() == nil })
        }
        #expect(maxConcurrent.value == 1, "never two leaders working at once")
        for (index, group) in groups.enumerated() where index != first && index != second {
            await group.triggerGracefulShutdown()
            _ = await runs[index].result
        }
        for client in clients { try await client.shutdown() }
        await cluster.stop()
    }
}

/// A service that does "work" only while its elector leads.
struct ElectedWork: ServiceLifecycle.Service {
    let elector: LeaderElector
    let index: Int
    let working: Locked<Set<Int>>
    let maxConcurrent: Locked<Int>

    func run() async throws {
        try await elector.run {
            let count = working.withLock { $0.insert(index); return $0.count }
            maxConcurrent.withLock { $0 = max($0, count) }
            defer { working.withLock { _ = $0.remove(index) } }
            while !Task.isCancelled && !Task.isShuttingDownGracefully { try? await Task.sleep(for: .milliseconds(20)) }
        }
    }
}

@Suite("Events and probes")
struct EventAndProbeTests {
    @Test("a repeated event becomes one Event with a series count")
    func eventSeries() async throws {
        let cluster = try await Cluster.start()
        let accounts = cluster.client.namespaced(ServiceAccount.self, in: "default")
        let subject = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "subject")))
        let recorder = EventRecorder(client: cluster.client, controller: "tide.dev/test", instance: "pod-1")
        for _ in 0..<3 {
            await recorder.record(subject, type: "Warning", reason: "ResourceConflict", action: "Reconcile", note: "Service hello exists and is not controlled by Tide")
        }
        await recorder.record(subject, type: "Normal", reason: "Created", action: "Reconcile", note: "created")
        let events = try await cluster.client.namespaced(Event.self, in: "default").list().items
        #expect(events.count == 2)
        let conflict = events.first { $0.reason == "ResourceConflict" }
        #expect(conflict?.series?.count == 3)
        #expect(conflict?.regarding?.uid == subject.metadata.uid)
        #expect(conflict?.reportingController == "tide.dev/test")
        await cluster.stop()
    }

    @Test("the event queue returns at once, drops what does not fit (counted) and sends what it holds before it stops")
    func eventQueue() async throws {
        let cluster = try await Cluster.start()
        let subject = try await cluster.client.namespaced(ServiceAccount.self, in: "default").create(ServiceAccount(metadata: ObjectMeta(name: "subject")))
        let events = cluster.client.namespaced(Event.self, in: "default")
        let queue = EventQueue(
            recorder: EventRecorder(client: cluster.client, controller: "tide.dev/test", instance: "pod-1"), capacity: 3, senders: 2)
        // Nothing sends yet: three wait, two do not fit.
        for index in 0..<5 {
            await queue.record(subject, type: "Normal", reason: "Created", action: "Apply", note: "event \(index)")
        }
        #expect(queue.droppedCount == 2)
        #expect(try await events.list().items.isEmpty, "recording does not send")
        // Stopped before it ran: it still sends what it holds, then returns.
        queue.finish()
        try await queue.run()
        let sent = try await events.list().items.compactMap(\.note).sorted()
        #expect(sent == ["event 0", "event 1", "event 2"])
        await queue.record(subject, type: "Normal", reason: "Created", action: "Apply", note: "too late")
        #expect(queue.droppedCount == 3, "after it stopped, an Event is dropped and counted")
        await cluster.stop()
    }

    @Test("repeats recorded by separate processes (a scaler per CronJob tick) continue one Event's series through the API")
    func eventSeriesAcrossProcesses() async throws {
        let cluster = try await Cluster.start()
        let accounts = cluster.client.namespaced(ServiceAccount.self, in: "default")
        let subject = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "subject")))
        for run in 0..<3 {
            // A new recorder each time: nothing is remembered in memory between runs.
            let recorder = EventRecorder(client: cluster.client, controller: "tide.dev/scaler", instance: "run-\(run)")
            await recorder.record(subject, type: "Warning", reason: "MetricUnavailable", action: "Scale", note: "Prometheus is unreachable")
        }
        let other = EventRecorder(client: cluster.client, controller: "tide.dev/scaler", instance: "run-3")
        await other.record(subject, type: "Warning", reason: "MetricUnavailable", action: "Scale", note: "the query returned no series")
        let events = try await cluster.client.namespaced(Event.self, in: "default").list().items
        #expect(events.count == 2, "\(events.map(\.name))")
        #expect(events.first { $0.note == "Prometheus is unreachable" }?.series?.count == 3)
        #expect(events.first { $0.note == "the query returned no series" }?.series == nil)
        // An expired Event (deleted by its TTL) starts a new series.
        let recorder = EventRecorder(client: cluster.client, controller: "tide.dev/scaler", instance: "run-4")
        await recorder.record(subject, type: "Normal", reason: "ScaledUp", action: "Scale", note: "1 → 2")
        let name = try #require(try await cluster.client.namespaced(Event.self, in: "default").list().items.first { $0.reason == "ScaledUp" }?.name)
        await recorder.record(subject, type: "Normal", reason: "ScaledUp", action: "Scale", note: "1 → 2")
        try await cluster.client.namespaced(Event.self, in: "default").delete(name)
        await recorder.record(subject, type: "Normal", reason: "ScaledUp", action: "Scale", note: "1 → 2")
        let again = try await cluster.client.namespaced(Event.self, in: "default").get(name)
        #expect(again.series == nil, "a fresh Event after the old one expired")
        await cluster.stop()
    }

    @Test("healthz always, readyz only when ready, metrics in the Prometheus text format")
    func probes() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "tide", metricName: "test", unitName: "total", helpText: "A test counter.")).increment()
        let ready = Locked(false)
        let port = Locked(0)
        let server = ProbeServer(host: "127.0.0.1", port: 0, registry: registry, isReady: { ready.value }, onBound: { bound in port.withLock { $0 = bound } })
        let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "probes")))
        let run = Task { try await group.run() }
        #expect(await eventually { port.value > 0 })
        func status(_ path: String) async throws -> (Int, String) {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port.value)\(path)"), timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), String(buffer: body))
        }
        #expect(try await status("/healthz").0 == 200)
        #expect(try await status("/readyz").0 == 503)
        ready.withLock { $0 = true }
        #expect(try await status("/readyz").0 == 200)
        let metrics = try await status("/metrics")
        #expect(metrics.1.contains("tide_test_total 1"))
        await group.triggerGracefulShutdown()
        _ = await run.result
    }
}
