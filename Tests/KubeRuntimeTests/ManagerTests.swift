import Foundation
import KubeAPI
import KubeClient
import KubeProbes
import KubeRuntime
import LocalKube
import Logging
import Prometheus
import ServiceLifecycle
import Testing

/// A reconciler whose reconciles take a while and report whether they finished.
final class SlowReconciler: Reconciler {
    let started = Locked(0)
    let finished = Locked(0)
    let cancelled = Locked(0)

    func reconcile(_ key: ObjectKey) async throws -> ReconcileResult {
        started.withLock { $0 += 1 }
        do {
            try await Task.sleep(for: .milliseconds(300))
        } catch {
            cancelled.withLock { $0 += 1 }
            throw error
        }
        finished.withLock { $0 += 1 }
        return .done
    }
}

@Suite("Manager")
struct ManagerTests {
    @Test("graceful shutdown drains the reconcile in flight, releases the Lease, then stops, in bounded time")
    func gracefulShutdown() async throws {
        let cluster = try await Cluster.start()
        let deployments = cluster.client.namespaced(Deployment.self, in: "default")
        _ = try await deployments.create(sampleDeployment("slow"))
        let informer = Informer(Watcher(ListWatch(deployments)))
        let reconciler = SlowReconciler()
        let controller = Controller(configuration: .init(name: "slow"), reconciler: reconciler)
        controller.watches(informer)
        var election = LeaderElector.Configuration(leaseName: "tide-operator", namespace: "default", identity: "me")
        election.retryPeriod = .milliseconds(100)
        let elector = LeaderElector(client: cluster.client, configuration: election)
        let port = Locked(0)
        let probes = ProbeServer(host: "127.0.0.1", port: 0, registry: PrometheusCollectorRegistry(), isReady: { controller.isReady }, onBound: { bound in port.withLock { $0 = bound } })
        let manager = Manager(controller: controller, informers: [informer], leaderElector: elector, probeServer: probes, shutdownTimeout: .seconds(5))
        let group = manager.serviceGroup(signals: [])
        let run = Task { try await group.run() }

        #expect(await eventually { reconciler.started.value == 1 })
        #expect(elector.isLeader)
        #expect(manager.isReady)
        let stopAt = ContinuousClock.now
        await group.triggerGracefulShutdown()
        _ = await run.result
        #expect(ContinuousClock.now - stopAt < .seconds(5))
        #expect(reconciler.finished.value == 1, "the reconcile in flight finished")
        #expect(reconciler.cancelled.value == 0)
        let lease = try await cluster.client.namespaced(Lease.self, in: "default").get("tide-operator")
        #expect(lease.spec?.holderIdentity == nil, "the Lease was released")
        #expect(!elector.isLeader)
        await cluster.stop()
    }
}
