import ArgumentParser
import BenchmarkSupport
import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeClient
import LocalKube
import Logging
import NIOCore

/// Measures KubeClient against an in-process LocalKube over loopback HTTP and prints
/// one table. The bare AsyncHTTPClient GET of the same URL is the baseline that shows
/// the client's own overhead.
@main
struct KubeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-bench", abstract: "KubeClient and LocalKube throughput and overhead.")

    @Option(help: "Objects to create (and events to watch).")
    var count: Int = 2_000

    @Option(help: "Requests for the per-request comparison.")
    var requests: Int = 2_000

    @Option(help: "Concurrent requests in the parallel create and get runs.")
    var concurrency: Int = 8

    @Option(help: "Objects held in the cache for the memory measurement.")
    var cacheObjects: Int = 10_000

    @Option(help: "No-op reconciles for the controller throughput measurement.")
    var reconciles: Int = 20_000

    mutating func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let server = try await LocalKubeServer.start()
        let client = try KubeClient(connection: ClusterConnection(server: server.url))
        let accounts = client.namespaced(ServiceAccount.self, in: "default")
        var rows: [(String, String, String)] = []
        let count = self.count
        let concurrency = self.concurrency

        let startRV = String(server.store.resourceVersion)
        var elapsed = try await time {
            for index in 0..<count {
                _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "seq-\(index)", labels: ["bench": "yes"])))
            }
        }
        rows.append(("creates/s (1 at a time)", rate(count, elapsed), "\(count) ServiceAccounts"))

        elapsed = try await time {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        for index in stride(from: worker, to: count, by: concurrency) {
                            _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: "par-\(index)")))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        rows.append(("creates/s (\(concurrency) in flight)", rate(count, elapsed), "\(count) ServiceAccounts"))

        elapsed = try await time {
            for index in 0..<count { _ = try await accounts.get("seq-\(index)") }
        }
        rows.append(("gets/s (1 at a time)", rate(count, elapsed), "typed decode included"))

        elapsed = try await time {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        for index in stride(from: worker, to: count, by: concurrency) { _ = try await accounts.get("seq-\(index)") }
                    }
                }
                try await group.waitForAll()
            }
        }
        rows.append(("gets/s (\(concurrency) in flight)", rate(count, elapsed), ""))

        // Replay of the sequential creates from history: server encoding, HTTP
        // streaming, splitting and typed decoding of each event.
        var received = 0
        elapsed = try await time {
            let stream = try await accounts.watch(resourceVersion: startRV, labelSelector: "bench=yes", allowBookmarks: false)
            for try await event in stream {
                if case .added = event { received += 1 }
                if received == count { break }
            }
        }
        rows.append(("watch events/s delivered", rate(received, elapsed), "\(received) ADDED events replayed"))

        // Live delivery: events produced while the watch is open.
        let liveStream = try await accounts.watch(resourceVersion: String(server.store.resourceVersion), allowBookmarks: false)
        let liveCount = count
        let consumer = Task {
            var seen = 0
            for try await event in liveStream {
                if case .modified = event { seen += 1 }
                if seen == liveCount { break }
            }
            return seen
        }
        elapsed = try await time {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        for index in stride(from: worker, to: count, by: concurrency) {
                            _ = try await accounts.mergePatch("seq-\(index)", patch: ["metadata": ["annotations": ["n": "1"]]])
                        }
                    }
                }
                try await group.waitForAll()
            }
            _ = try await consumer.value
        }
        rows.append(("watch events/s live (patch → event)", rate(count, elapsed), "\(concurrency) writers"))

        // Per-request overhead against a bare AsyncHTTPClient GET of the same object.
        let url = server.url.absoluteString + ServiceAccount.resource.objectPath(namespace: "default", name: "seq-0")
        let bare = HTTPClient(eventLoopGroupProvider: .singleton)
        let n = requests
        for _ in 0..<100 { _ = try await bareGet(bare, url) }
        for _ in 0..<100 { _ = try await accounts.get("seq-0") }
        let bareTime = try await time { for _ in 0..<n { _ = try await bareGet(bare, url) } }
        let clientTime = try await time { for _ in 0..<n { _ = try await accounts.get("seq-0") } }
        let rawTime = try await time {
            for _ in 0..<n { _ = try await client.send(.GET, path: ServiceAccount.resource.objectPath(namespace: "default", name: "seq-0")) }
        }
        try await bare.shutdown()
        let perBare = bareTime / Double(n) * 1e6
        let perClient = clientTime / Double(n) * 1e6
        let perRaw = rawTime / Double(n) * 1e6
        rows.append(("µs per GET, bare AsyncHTTPClient", String(format: "%.1f", perBare), "baseline"))
        rows.append(("µs per GET, KubeClient send (no decode)", String(format: "%.1f", perRaw), String(format: "%.2f× baseline", perRaw / perBare)))
        rows.append(("µs per GET, KubeClient typed get", String(format: "%.1f", perClient), String(format: "%.2f× baseline", perClient / perBare)))

        try await client.shutdown()
        await server.stop()

        let runtimeRows = try await RuntimeBench.run(count: count, cacheObjects: cacheObjects, reconciles: reconciles)
        printTable("KubeClient against LocalKube (loopback HTTP, debug=\(isDebug))", rows: rows.map { [$0.0, $0.1, $0.2] })
        print()
        printTable("KubeRuntime (watcher, cache, work queue, controller)", rows: runtimeRows.map { [$0.0, $0.1, $0.2] })
    }
}

var isDebug: Bool {
    #if DEBUG
    return true
    #else
    return false
    #endif
}

func bareGet(_ client: HTTPClient, _ url: String) async throws -> Int {
    var request = HTTPClientRequest(url: url)
    request.headers.add(name: "Accept", value: "application/json")
    let response = try await client.execute(request, timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 1 << 20)
    return body.readableBytes
}

func time(_ body: () async throws -> Void) async throws -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return elapsed.inSeconds
}

func rate(_ count: Int, _ seconds: Double) -> String { String(format: "%.0f", Double(count) / seconds) }

