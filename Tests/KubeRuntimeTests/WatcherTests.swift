import Foundation
import KubeAPI
import KubeClient
import KubeRuntime
import KubeSupport
import LocalKube
import Testing

@Suite("Watcher and cache")
struct WatcherTests {
    @Test("under dropped watches and forced 410s, 1,000 objects churned: the cache ends equal to the server and every change arrived once, in order")
    func convergesUnderFaults() async throws {
        var options = LocalKubeOptions()
        options.historyLimit = 300
        options.bookmarkInterval = .milliseconds(100)
        let cluster = try await Cluster.start(options)
        let accounts = cluster.client.namespaced(ServiceAccount.self, in: "default")
        var config = Watcher<ServiceAccount>.Configuration()
        config.backoff = Backoff(initial: .milliseconds(5), maximum: .milliseconds(50))
        let informer = Informer(Watcher(ListWatch(accounts), configuration: config))
        // Per object: the resourceVersions delivered, and whether the last change was a delete.
        let seen = Locked<[String: [Int]]>([:])
        let lastWasDelete = Locked<[String: Bool]>([:])
        let replays = Locked(0)
        informer.subscribe { change in
            switch change {
            case .applied(let object):
                let rv = Int(object.metadata.resourceVersion ?? "0") ?? 0
                seen.withLock { seen in
                    if let last = seen[object.name]?.last, rv <= last { replays.withLock { $0 += 1 } }
                    seen[object.name, default: []].append(rv)
                }
                lastWasDelete.withLock { $0[object.name] = false }
            case .deleted(let object):
                lastWasDelete.withLock { $0[object.name] = true }
            }
        }
        let run = Task { try await informer.run() }
        await informer.cache.waitUntilSynced()

        cluster.server.faults.watchDropInterval = .milliseconds(300)
        let writer = try cluster.server.makeClient(userAgent: "writer")
        let writes = writer.namespaced(ServiceAccount.self, in: "default")
        var deleted: Set<String> = []
        for index in 0..<1_000 {
            let name = "sa-\(index)"
            _ = try await writes.create(ServiceAccount(metadata: ObjectMeta(name: name, labels: ["round": "0"])))
            if index % 3 == 0 { _ = try await writes.mergePatch(name, patch: ["metadata": ["labels": ["round": "1"]]]) }
            if index % 5 == 0 {
                try await writes.delete(name)
                deleted.insert(name)
            }
            if index % 250 == 125 {
                cluster.server.store.compactHistory()
                cluster.server.faults.failNext(with: .gone, verbs: [.watch])
            }
        }
        cluster.server.faults.clear()
        let converged = await eventually(timeout: .seconds(20)) {
            let cached = Dictionary(uniqueKeysWithValues: informer.cache.list().map { ($0.name, $0.metadata.resourceVersion) })
            let live = try! await accounts.list().items
            return cached == Dictionary(uniqueKeysWithValues: live.map { ($0.name, $0.metadata.resourceVersion) })
        }
        #expect(converged, "the cache equals the server")
        #expect(informer.cache.count == 1_000 - deleted.count)
        #expect(replays.value == 0, "no object was delivered again at an older or equal resourceVersion")
        let deletes = lastWasDelete.value
        // An object created and deleted while the watcher was re-listing was never
        // seen, so it needs no delete; every object that was seen and then deleted was.
        for name in deleted where deletes[name] != nil { #expect(deletes[name] == true, "the delete of \(name) was delivered") }
        #expect(deleted.filter { deletes[$0] == true }.count > deleted.count / 2)
        #expect(informer.failureCount > 0 || cluster.server.requests.count(.list, resource: "serviceaccounts") > 1, "faults really happened")
        #expect(cluster.server.requests.count(.list, resource: "serviceaccounts") >= 2, "at least one re-list after a 410")
        run.cancel()
        _ = await run.result
        try await writer.shutdown()
        await cluster.stop()
    }

    @Test("list failures back off 0.8 s, 1.6 s, 3.2 s on the injected clock and recover")
    func backoffOnVirtualClock() async throws {
        let cluster = try await Cluster.start()
        let clock = ManualClock()
        cluster.server.faults.failNext(3, with: .serverError(code: 500), verbs: [.list])
        var config = Watcher<ServiceAccount>.Configuration()
        config.backoff = Backoff(jitter: 0)
        let watcher = Watcher(ListWatch(cluster.client.namespaced(ServiceAccount.self, in: "default")), configuration: config, clock: clock)
        var iterator = watcher.events().makeAsyncIterator()
        var delays: [Duration] = []
        while delays.count < 3 {
            guard case .error(let failure)? = await iterator.next() else { continue }
            #expect(failure.phase == .list)
            delays.append(failure.retryIn)
            _ = await eventually { clock.sleeperCount == 1 }
            clock.advance(by: failure.retryIn)
        }
        #expect(delays == [.milliseconds(800), .milliseconds(1_600), .milliseconds(3_200)])
        guard case .initStart? = await iterator.next() else { Issue.record("expected the list to succeed"); return }
        await cluster.stop()
    }

    @Test("an ERROR event mid-stream is a value; a 410 ERROR leads to a re-list")
    func errorEvents() async throws {
        let cluster = try await Cluster.start()
        let accounts = cluster.client.namespaced(ServiceAccount.self, in: "default")
        let informer = Informer(Watcher(ListWatch(accounts)))
        let run = Task { try await informer.run() }
        await informer.cache.waitUntilSynced()
        cluster.server.store.compactHistory()
        cluster.server.faults.failNext(with: .gone, verbs: [.watch])
        cluster.server.store.dropAllWatches()
        _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "after-gone")))
        #expect(await eventually { informer.cache.get(ObjectKey(namespace: "default", name: "after-gone")) != nil })
        #expect(cluster.server.requests.count(.list, resource: "serviceaccounts") == 2)
        run.cancel()
        await cluster.stop()
    }

    @Test("the cache keeps one copy of a string its objects repeat, and their values unchanged")
    func cacheInternsStrings() {
        let interner = StringInterner()
        let cache = ObjectCache<ServiceAccount>(interner: interner)
        // Built apart, as decoding gives them: each object holds its own copy.
        func account(_ name: String) -> ServiceAccount {
            let key = String(decoding: Array("app.kubernetes.io/managed-by".utf8), as: UTF8.self)
            return ServiceAccount(metadata: ObjectMeta(name: name, namespace: "default", labels: [key: "tide"]))
        }
        func keyStorage(_ name: String) -> UnsafeRawPointer? {
            guard var key = cache.get(ObjectKey(namespace: "default", name: name))?.metadata.labels?.keys.first else { return nil }
            return key.withUTF8 { UnsafeRawPointer($0.baseAddress) }
        }
        cache.apply(.initStart)
        cache.apply(.initObject(account("a")))
        cache.apply(.initDone)
        cache.apply(.apply(account("b")))
        #expect(cache.get(ObjectKey(namespace: "default", name: "b"))?.metadata.labels == ["app.kubernetes.io/managed-by": "tide"])
        #expect(keyStorage("a") != nil && keyStorage("a") == keyStorage("b"))
        #expect(interner.count == 1)
    }

    @Test("cache lookups by key and label return copies")
    func cacheLookups() {
        let cache = ObjectCache<ServiceAccount>()
        #expect(!cache.hasSynced)
        cache.apply(.initStart)
        cache.apply(.initObject(ServiceAccount(metadata: ObjectMeta(name: "a", namespace: "x", labels: ["k": "1"]))))
        cache.apply(.initObject(ServiceAccount(metadata: ObjectMeta(name: "b", namespace: "y", labels: ["k": "2"]))))
        #expect(!cache.hasSynced, "not synced before initDone")
        cache.apply(.initDone)
        #expect(cache.hasSynced)
        var copy = cache.get(ObjectKey(namespace: "x", name: "a"))!
        copy.metadata.labels = ["k": "changed"]
        #expect(cache.get(ObjectKey(namespace: "x", name: "a"))?.metadata.labels == ["k": "1"])
        #expect(cache.list(matching: try! LabelSelector(parsing: "k=2")).map(\.name) == ["b"])
        #expect(cache.list(namespace: "x").count == 1)
        // A re-list without "a" reports it deleted and swaps the content at once.
        cache.apply(.initStart)
        cache.apply(.initObject(ServiceAccount(metadata: ObjectMeta(name: "b", namespace: "y", labels: ["k": "2"]))))
        #expect(cache.count == 2, "the old content stays until initDone")
        let changes = cache.apply(.initDone)
        #expect(cache.count == 1)
        #expect(changes.count == 1)
    }
}
