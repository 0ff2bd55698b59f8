import AsyncHTTPClient
import Foundation
import HelloService
import Hummingbird
import KubeAPI
import KubeClient
import LocalKube
import Logging
import TideAPI
import TideScaler
import Testing
import TideTestSupport

/// Where Debian installs Prometheus. `scripts/test.sh` installs it and sets
/// TIDE_REQUIRE_PROMETHEUS=1, so a missing binary fails there instead of skipping.
let prometheusBinary: String? = {
    for path in ["/usr/bin/prometheus", "/usr/local/bin/prometheus"] where FileManager.default.isExecutableFile(atPath: path) {
        return path
    }
    return nil
}()
let prometheusRequired = ProcessInfo.processInfo.environment["TIDE_REQUIRE_PROMETHEUS"] == "1"

/// A real Prometheus process on loopback, scraping `targets` every second.
final class PrometheusProcess: @unchecked Sendable {
    let process = Process()
    let directory: URL
    let port: Int

    /// A Prometheus whose storage already holds `backfill` (OpenMetrics text, loaded with
    /// `promtool tsdb create-blocks-from openmetrics`, as users backfill history).
    static func backfilled(binary: String, _ backfill: String) async throws -> PrometheusProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-prometheus-\(UUID().uuidString)")
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let input = directory.appendingPathComponent("history.om")
        try backfill.write(to: input, atomically: true, encoding: .utf8)
        let promtool = URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("promtool").path
        _ = try await runCommand(promtool, ["tsdb", "create-blocks-from", "openmetrics", input.path, data.path])
        return try PrometheusProcess(binary: binary, targets: [], labels: [:], directory: directory)
    }

    /// Runs `body` against a Prometheus backfilled with `lines` (OpenMetrics, without
    /// the closing `# EOF`) once it is ready, and a LocalKube cluster for the scaler;
    /// stops both however `body` ends.
    static func withBackfilled(
        binary: String, _ lines: [String], _ body: (PrometheusProcess, ScalerCluster) async throws -> Void
    ) async throws {
        let prometheus = try await backfilled(binary: binary, (lines + ["# EOF"]).joined(separator: "\n") + "\n")
        let cluster = try await ScalerCluster.start()
        do {
            try await prometheus.waitUntilReady()
            try await body(prometheus, cluster)
        } catch {
            await cluster.stop()
            await prometheus.stop()
            throw error
        }
        await cluster.stop()
        await prometheus.stop()
    }

    init(binary: String, targets: [Int], labels: [String: String], directory: URL? = nil) throws {
        self.directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("tide-prometheus-\(UUID().uuidString)")
        let directory = self.directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        let targetList = targets.map { "'127.0.0.1:\($0)'" }.joined(separator: ", ")
        let labelList = labels.map { "\($0.key): '\($0.value)'" }.joined(separator: ", ")
        let config = """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
            - job_name: hello
              static_configs:
              - targets: [\(targetList)]
                labels: {\(labelList)}
            """
        let configPath = directory.appendingPathComponent("prometheus.yml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config.file=\(configPath)", "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn", "--storage.tsdb.retention.time=30d",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    func waitUntilReady() async throws {
        for _ in 0..<200 {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "\(url.absoluteString)/-/ready"), timeout: .seconds(1)),
                response.status == .ok
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PrometheusNotReady()
    }

    struct PrometheusNotReady: Error {}

    /// SIGTERM and wait, without blocking a thread.
    func stop() async {
        if process.isRunning {
            process.terminate()
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite("Scaler with a real Prometheus", .enabled(if: prometheusBinary != nil || prometheusRequired))
struct RealPrometheusTests {
    @Test("load raises replicas; after it stops they fall only after the stabilization window; without Prometheus the scaler holds, exits 2, then falls back")
    func endToEnd() async throws {
        let binary = try #require(prometheusBinary, "Prometheus is not installed (scripts/test.sh installs it)")
        // Two real hello-service instances.
        var services: [Task<Void, any Error>] = []
        var ports: [Int] = []
        for _ in 0..<2 {
            let bound = AsyncStream<Int>.makeStream()
            var configuration = HelloService.Configuration()
            configuration.host = "127.0.0.1"
            configuration.port = 0
            let app = HelloService(configuration: configuration).application(onBound: { bound.continuation.yield($0) })
            services.append(Task { try await app.run() })
            for await port in bound.stream { ports.append(port); break }
        }
        let prometheus = try PrometheusProcess(binary: binary, targets: ports, labels: ["namespace": "demo", "service": "hello"])
        do {
            try await scenario(prometheus: prometheus, ports: ports)
        } catch {
            await prometheus.stop()
            for service in services { service.cancel() }
            throw error
        }
        await prometheus.stop()
        for service in services { service.cancel() }
        for service in services { _ = await service.result }
    }

    func scenario(prometheus: PrometheusProcess, ports: [Int]) async throws {
        try await prometheus.waitUntilReady()

        let cluster = try await ScalerCluster.start()
        let window: Int32 = 6
        try await cluster.create("hello", prometheus: prometheus.url, replicas: 1) { scaling in
            scaling.prometheus?.query = #"sum(rate(hello_requests_total{namespace="demo",service="hello"}[5s]))"#
            scaling.behavior = ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: window))
        }
        func tick() async -> ScalerOutcome { await Scaler(client: cluster.client, namespace: "default", name: "hello").runOnce() }
        func replicas() async throws -> Int32 { try await cluster.applications.get("hello").spec.replicas ?? 0 }

        // Phase 1: about 40 requests/s spread over both instances.
        let load = Task {
            var index = 0
            while !Task.isCancelled {
                let port = ports[index % ports.count]
                index += 1
                _ = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/hello"), timeout: .seconds(2))
                try? await Task.sleep(for: .milliseconds(25))
            }
        }
        // Wait for Prometheus to have two scrapes of the counters.
        let probe = try PrometheusClient(address: prometheus.url)
        for _ in 0..<50 {
            if case .value = await probe.query(#"sum(rate(hello_requests_total{service="hello"}[5s]))"#) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        try await probe.shutdown()
        var peak: Int32 = 1
        for _ in 0..<30 where peak < 4 {
            try await Task.sleep(for: .seconds(1))
            let outcome = await tick()
            #expect(outcome.exitCode == 0, "\(outcome.line)")
            peak = max(peak, try await replicas())
        }
        #expect(peak >= 4, "replicas rose under load (peak \(peak))")

        // Phase 2: load stops; replicas must not fall before the window has passed.
        load.cancel()
        let stopped = ContinuousClock.now
        var firstDrop: Duration?
        for _ in 0..<40 where firstDrop == nil {
            try await Task.sleep(for: .seconds(1))
            let outcome = await tick()
            #expect(outcome.exitCode == 0, "\(outcome.line)")
            if try await replicas() < peak { firstDrop = ContinuousClock.now - stopped }
        }
        let drop = try #require(firstDrop, "replicas fell after the load stopped")
        #expect(drop >= .seconds(Int(window)), "fell after \(drop), before the \(window) s window")
        let afterDrop = try await replicas()

        // Phase 3: Prometheus gone: hold and record, exit 2; fallback after 2 failures (never below current).
        for resource in [Application.resource, Autoscaler.resource] {
            let patch: JSONValue = ["onMetricUnavailable": "Fallback", "fallback": ["failureThreshold": 2, "replicas": 3]]
            _ = try await cluster.client.resource(DynamicObject.self, at: resource, namespace: "default").mergePatch(
                "hello", patch: ["spec": resource == Application.resource ? ["scaling": patch] : patch])
        }
        await prometheus.stop()
        let first = await tick()
        #expect(first.exitCode == 2)
        #expect(first.line.contains("PrometheusUnreachable"), "\(first.line)")
        #expect(try await replicas() == afterDrop, "held")
        #expect(try await cluster.scalerStatus("hello")?.conditions?[type: "ScalingActive"]?.reason == "FailedGetMetric")
        let events = try await cluster.client.namespaced(Event.self, in: "default").list().items
        #expect(events.contains { $0.reason == "MetricUnavailable" })
        #expect(events.contains { $0.reason == "ScaledUp" })
        #expect(events.contains { $0.reason == "ScaledDown" })
        let second = await tick()
        #expect(second.exitCode == 2)
        #expect(try await replicas() == max(afterDrop, 3), "fallback applied after failureThreshold runs")
        await cluster.stop()
    }
}
