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

        // Cache memory per small object: resident memory before and after.
        let template = ServiceAccount(metadata: ObjectMeta(
            name: "x", namespace: "default", labels: ["app.kubernetes.io/name": "hello", "app.kubernetes.io/managed-by": "tide"]))
        let jsonSize = try KubeJSON.encoder.encode(template).count
        let cache = ObjectCache<ServiceAccount>()
        let before = residentBytes()
        cache.apply(.initStart)
        for index in 0..<cacheObjects {
            var object = template
            object.metadata.name = "object-\(index)"
            object.metadata.uid = UUID().uuidString.lowercased()
            object.metadata.resourceVersion = String(1_000_000 + index)
            object.metadata.creationTimestamp = .now
            cache.apply(.initObject(object))
        }
        cache.apply(.initDone)
        let after = residentBytes()
        let perObject = Double(after - before) / Double(cacheObjects)
        rows.append(("cache memory per object (bytes)", String(format: "%.0f", perObject), "\(cacheObjects) ServiceAccounts; their JSON is ~\(jsonSize + 110) bytes each"))
        rows.append(("cache memory for \(cacheObjects) objects (MiB)", String(format: "%.1f", Double(after - before) / 1_048_576), "resident set growth"))
        _ = cache.count

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

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

import Synchronization
