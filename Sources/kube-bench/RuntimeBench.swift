import Foundation
import KubeAPI
import KubeClient
import KubeRuntime
import LocalKube
import Logging
import ServiceLifecycle

/// Runtime measurements: watch events into the cache, cache memory, work queue and
/// controller throughput.
enum RuntimeBench {
    static func run(count: Int, cacheObjects: Int, reconciles: Int) async throws -> [(String, String, String)] {
        var rows: [(String, String, String)] = []
        let server = try await LocalKubeServer.start()
        let client = try KubeClient(connection: ClusterConnection(server: server.url))
        let accounts = client.namespaced(ServiceAccount.self, in: "default")

        // Events from LocalKube into an informer's cache, live.
        let informer = Informer(Watcher(ListWatch(accounts)))
        let group = ServiceGroup(configuration: .init(services: [informer], logger: Logger(label: "bench")))
        let run = Task { try await group.run() }
        await informer.cache.waitUntilSynced()
        let writers = 8
        let elapsed = try await time {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for worker in 0..<writers {
                    tasks.addTask {
                        for index in stride(from: worker, to: count, by: writers) {
                            _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "w-\(index)")))
                        }
                    }
                }
                try await tasks.waitForAll()
            }
            while informer.cache.count < count { try await Task.sleep(for: .milliseconds(1)) }
        }
        rows.append(("watch events/s into the cache", rate(count, elapsed), "\(count) creates by \(writers) writers, until cached"))
        await group.triggerGracefulShutdown()
        _ = await run.result

        // Cache memory per object: Deployments shaped like Tide's children, decoded
        // from JSON as a list or watch delivers them (so each holds its own strings),
        // cached with their repeated strings interned and, as the baseline, without.
        // Both caches stay alive, so each measure is resident growth over fresh memory.
        let jsonSize = deploymentJSON(index: 0).utf8.count
        var kept: [ObjectCache<Deployment>] = []
        for (label, interner) in [("strings interned", StringInterner()), ("baseline: each object its own strings", StringInterner(capacity: 0))] {
            let cache = ObjectCache<Deployment>(interner: interner)
            let before = residentBytes()
            cache.apply(.initStart)
            for index in 0..<cacheObjects {
                cache.apply(.initObject(try KubeJSON.decoder.decode(Deployment.self, from: Data(deploymentJSON(index: index).utf8))))
            }
            cache.apply(.initDone)
            let growth = residentBytes() - before
            rows.append(("cache memory per Deployment (bytes)", String(format: "%.0f", Double(growth) / Double(cacheObjects)), "\(label); \(cacheObjects) cached, JSON \(jsonSize) bytes each"))
            kept.append(cache)
        }
        _ = kept.map(\.count)

        // No-op reconciles through the work queue and controller.
        let direct = NoOp()
        let baseline = try await time { for index in 0..<reconciles { _ = try await direct.reconcile(ObjectKey(namespace: "bench", name: "k\(index)")) } }
        rows.append(("no-op reconciles/s, direct calls", rate(reconciles, baseline), "baseline: no queue"))
        for workers in [1, 2] {
            let reconciler = NoOp()
            var configuration = Controller.Configuration(name: "bench")
            configuration.workers = workers
            configuration.resyncPeriod = nil
            let controller = Controller(configuration: configuration, reconciler: reconciler)
            let controllerGroup = ServiceGroup(configuration: .init(services: [controller], logger: Logger(label: "bench")))
            let controllerRun = Task { try await controllerGroup.run() }
            while !controller.isReady { try await Task.sleep(for: .milliseconds(1)) }
            let elapsed = try await time {
                for index in 0..<reconciles { await controller.queue.add(ObjectKey(namespace: "bench", name: "k\(index)")) }
                while reconciler.count < reconciles { try await Task.sleep(for: .microseconds(200)) }
            }
            rows.append(("no-op reconciles/s, \(workers) worker\(workers == 1 ? "" : "s")", rate(reconciles, elapsed), "\(reconciles) distinct keys through the work queue"))
            await controllerGroup.triggerGracefulShutdown()
            _ = await controllerRun.result
        }
        try await client.shutdown()
        await server.stop()
        return rows
    }

    final class NoOp: Reconciler {
        private let counter = Atomic(0)
        var count: Int { counter.load(ordering: .relaxed) }
        func reconcile(_ key: ObjectKey) async throws -> ReconcileResult {
            counter.add(1, ordering: .relaxed)
            return .done
        }
    }

    /// A Deployment as the API server returns one of Tide's children (the fields Tide
    /// decodes), with a name, uid and versions of its own.
    static func deploymentJSON(index: Int) -> String {
        let name = "checkout-\(index)"
        let uid = UUID().uuidString.lowercased()
        let labels = #""app.kubernetes.io/name":"\#(name)","app.kubernetes.io/instance":"\#(name)","app.kubernetes.io/managed-by":"tide""#
        let probe = #"{"httpGet":{"path":"/healthz","port":"http"},"periodSeconds":10,"timeoutSeconds":2,"failureThreshold":3}"#
        return """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"\(name)","namespace":"default","uid":"\(uid)",
            "resourceVersion":"\(1_000_000 + index)","generation":1,"creationTimestamp":"2026-12-01T10:00:00Z",
            "labels":{\(labels),"app.kubernetes.io/component":"server"},
            "ownerReferences":[{"apiVersion":"tide.dev/v1alpha1","kind":"Application","name":"\(name)","uid":"\(uid)","controller":true,"blockOwnerDeletion":true}]},
            "spec":{"replicas":1,"selector":{"matchLabels":{"app.kubernetes.io/name":"\(name)","app.kubernetes.io/instance":"\(name)"}},
            "template":{"metadata":{"labels":{\(labels)},"annotations":{"prometheus.io/scrape":"true","prometheus.io/port":"8080","prometheus.io/path":"/metrics"}},
            "spec":{"containers":[{"name":"app","image":"registry.example.com/shop/checkout:1.4.2","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],
            "livenessProbe":\(probe),"readinessProbe":\(probe),
            "securityContext":{"runAsNonRoot":true,"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"RuntimeDefault"}}}],
            "automountServiceAccountToken":false,"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}}}}},
            "status":{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"unavailableReplicas":1,"conditions":[
            {"type":"Available","status":"False","reason":"MinimumReplicasUnavailable","message":"Deployment does not have minimum availability.",
             "lastUpdateTime":"2026-12-01T10:00:00Z","lastTransitionTime":"2026-12-01T10:00:00Z"},
            {"type":"Progressing","status":"True","reason":"ReplicaSetUpdated","message":"ReplicaSet \\"\(name)-5d8f9c7b6d\\" is progressing.",
             "lastUpdateTime":"2026-12-01T10:00:00Z","lastTransitionTime":"2026-12-01T10:00:00Z"}]}}
            """
    }

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

import Synchronization
