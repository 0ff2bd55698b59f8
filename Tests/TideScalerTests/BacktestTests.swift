import AsyncHTTPClient
import Synchronization
import Foundation
import HelloService
import Hummingbird
import KubeAPI
import KubeClient
import Logging
import TideAPI
import Testing
import TideTestSupport
@testable import TideScaler

@Suite("Backtest: replaying a metric's history")
struct BacktestTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func body(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("query_range replies: one series, or a reason")
    func parseRange() {
        let one = #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1800000000,"1.5"],[1800000015,"NaN"],[1800000030,"3"]]}]}}"#
        #expect(PrometheusClient.parseRange(code: 200, body: body(one)) == .success([
            .init(time: start, value: 1.5), .init(time: start.addingTimeInterval(30), value: 3),
        ]), "NaN samples are left out as gaps")
        let cases: [(Int, String, MetricUnavailable)] = [
            (200, #"{"status":"success","data":{"resultType":"matrix","result":[]}}"#, .emptyResult),
            (200, #"{"status":"success","data":{"resultType":"matrix","result":[{"values":[]},{"values":[]}]}}"#, .multipleSeries(2)),
            (200, #"{"status":"success","data":{"resultType":"vector","result":[]}}"#, .unsupportedResultType("vector")),
            (400, #"{"status":"error","errorType":"bad_data","error":"parse error"}"#, .queryError(errorType: "bad_data", error: "parse error")),
            (503, "down", .httpStatus(503, "down")),
            (200, #"{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"x"]]}]}}"#, .malformedResponse("the sample value 'x' is not a number")),
        ]
        for (code, text, expected) in cases {
            #expect(PrometheusClient.parseRange(code: code, body: body(text)) == .failure(expected), "\(text)")
        }
    }

    @Test("decision times without a recent sample are gaps, replayed as unavailable")
    func gaps() {
        let points = [0.0, 15, 30, 120, 135].map { Backtest.Point(time: start.addingTimeInterval($0), value: 10) }
        let aligned = Backtest.align([.init(metric: "rps", points: points)], start: start, end: start.addingTimeInterval(150), step: 15)
        #expect(aligned.times.count == 11)
        #expect(aligned.readings.map { $0["rps"] != nil } == [true, true, true, true, false, false, false, false, true, true, true])
        #expect(aligned.gaps == [.init(metric: "rps", from: start.addingTimeInterval(60), to: start.addingTimeInterval(120))])
        #expect(aligned.gaps.first?.description.contains("replayed as unavailable") == true)
    }

    @Test("a replay follows the ideal after a pod start, never scales down in a gap, and counts shortfall and idle replica·seconds")
    func replay() {
        var scaling = Scaling(maxReplicas: 10, prometheus: PrometheusSource(address: "http://p", query: "q"), target: .init(type: .perReplica, value: "5"))
        scaling.behavior = ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 30))
        scaling = ApplicationSpec(image: "x", scaling: scaling).withDefaults.scaling!
        // 10 req/s, then 40 for two minutes, then a gap, then 10 again.
        var readings: [[String: Double]] = []
        var times: [Date] = []
        for index in 0..<24 {
            times.append(start.addingTimeInterval(Double(index) * 15))
            switch index {
            case 0..<4: readings.append(["prometheus": 10])
            case 4..<12: readings.append(["prometheus": 40])
            case 12..<16: readings.append([:])
            default: readings.append(["prometheus": 10])
            }
        }
        let replay = Backtest.replay(scaling: scaling, times: times, readings: readings, step: 15, initial: 2, readyDelay: 20)
        #expect(replay.desired[4] == 6, "40 / 5 = 8, bounded by the scale-up policy (+4 from 2)")
        #expect(replay.desired[5] == 8)
        #expect(replay.ready[4...7] == [2, 2, 6, 8], "each scale-up ready 20 s later")
        #expect(replay.desired[12...15].allSatisfy { $0 == 8 }, "held through the gap")
        #expect(replay.downWhileUnavailable == 0)
        #expect(replay.desired[16] == 2, "back down: no higher recommendation in the 30 s window")
        #expect(replay.shortfall == (6 + 6 + 2) * 15, "replicas short while the new pods started")
        #expect(replay.idle == 0)
        #expect(replay.ideal[12] == nil, "no ideal without a value")
        #expect(replay.scaleChanges == 3)
    }

    @Test("a replayed interval is scored against the load it carried: the reading half an interval and the query's lag later, between grid values")
    func scoredAgainstTheLoad() {
        let scaling = Scaling(
            maxReplicas: 20, prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(rate(requests_total[30s]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        let metrics = ApplicationSpec(image: "x", scaling: scaling).withDefaults.scaling!.resolvedMetrics
        // One value a minute; the load stepped from 10 to 30 between the second and
        // third readings. A rate over 30 s reads it 15 s late.
        let history = MetricHistory(start: start, step: 60, values: [10, 10, 30, 30])
        let times = (0..<4).map { start.addingTimeInterval(Double($0) * 60) }
        let readings = [10.0, 10, 30, 30].map { ["prometheus": $0] }
        let load = Backtest.load(during: times, step: 60, readings: readings, metrics: metrics, histories: ["prometheus": history])
        // 45 s into each minute: a quarter of the way to the next value; the last
        // minute has no next value, and the history ends before the one after it.
        #expect(load.map { $0["prometheus"] } == [10, 25, 30, 30])
        // A replay every five minutes on the same grid reads 165 s on: past the history's
        // end for all but the first.
        let coarse = Backtest.load(during: [start], step: 300, readings: [["prometheus": 10]], metrics: metrics, histories: ["prometheus": history])
        #expect(coarse.first?["prometheus"] == 30)
    }

    @Test("what the Deployment really had is scored as a replay is: a count holds until its next sample, and its changes are counted")
    func observed() throws {
        let times = (0..<6).map { start.addingTimeInterval(Double($0) * 15) }
        let points = [(5.0, 2.0), (40, 4), (70, 3)].map { Backtest.Point(time: start.addingTimeInterval($0.0), value: $0.1) }
        let ideal: [Int32?] = [2, 2, 4, 4, nil, 3]
        let observed = try #require(Backtest.observed(.init(metric: "replicas", points: points), times: times, ideal: ideal, step: 15))
        #expect(observed.ready == [2, 2, 2, 4, 4, 3], "before the first sample, the first; then the latest at or before each time")
        #expect(observed.shortfall == 2 * 15, "2 short at 30 s, where the ideal was already 4")
        #expect(observed.idle == 0, "no ideal at 60 s, so nothing counted there")
        #expect(observed.scaleChanges == 2)
        #expect(Backtest.observed(.init(metric: "replicas", points: []), times: times, ideal: ideal, step: 15) == nil)
        // The pod start, from desired and ready counts: each rise until ready reaches it.
        func history(_ values: [(Double, Double)]) -> [Backtest.Point] { values.map { .init(time: start.addingTimeInterval($0.0), value: $0.1) } }
        let desired = history([(0, 1), (30, 3), (120, 2), (200, 5), (300, 6), (310, 1)])
        let ready = history([(0, 1), (45, 2), (60, 3), (120, 2), (230, 5)])
        let measured = try #require(Backtest.measuredReadyDelay(desired: desired, ready: ready))
        #expect(measured.scaleUps == 2, "the rise to 6 was undone before it was ready")
        #expect(measured.seconds == 30, "the median of 30 s (1 → 3) and 30 s (2 → 5)")
        #expect(Backtest.measuredReadyDelay(desired: history([(0, 2), (60, 1)]), ready: ready) == nil, "no scale-up")
        #expect(BacktestRun.readyReplicasQuery(namespace: "demo", deployment: "hello")
            == #"max(kube_deployment_status_replicas_ready{namespace="demo",deployment="hello"})"#)
    }

    @Test("a behavior file that is not one is refused with the reason, naming the file")
    func behaviorFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-behavior-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ name: String, _ text: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let good = try write("good.yaml", "scaleDown:\n  stabilizationWindowSeconds: 60\n  policies:\n  - {type: Percent, value: 50, periodSeconds: 60}\n")
        #expect(try BacktestRun.behavior(fromFile: good).scaleDown?.stabilizationWindowSeconds == 60)
        let cases: [(String, String, String)] = [
            ("unclosed.yaml", "scaleDown: {stabilizationWindowSeconds: 60\n", "is not YAML or JSON"),
            ("shape.yaml", "scaleDown: 5\n", "is not a scaling behavior"),
            ("window.yaml", "scaleDown: {stabilizationWindowSeconds: 7200}\n", "scaleDown.stabilizationWindowSeconds: must be between 0 and 3600"),
            ("period.json", #"{"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 0}]}}"#, "periodSeconds: must be between 1 and 1800"),
        ]
        for (name, text, message) in cases {
            let path = try write(name, text)
            #expect { try BacktestRun.behavior(fromFile: path) } throws: { error in
                "\(error)".contains(message) && "\(error)".contains(name)
            }
        }
        #expect { try BacktestRun.behavior(fromFile: directory.appendingPathComponent("missing.yaml").path) } throws: { "\($0)".contains("cannot read") }
    }
}

@Suite("Backtest against a real Prometheus", .enabled(if: prometheusBinary != nil || prometheusRequired))
struct BacktestRealPrometheusTests {
    @Test("a history scraped from hello-service under a load profile replays through the current spec and a proposal; the CLI prints both and writes the plot; no history is a clear error")
    func realHistory() async throws {
        let binary = try #require(prometheusBinary, "Prometheus is not installed (scripts/test.sh installs it)")
        let bound = AsyncStream<Int>.makeStream()
        var configuration = HelloService.Configuration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let app = HelloService(configuration: configuration).application(onBound: { bound.continuation.yield($0) })
        let service = Task { try await app.run() }
        defer { service.cancel() }
        var port = 0
        for await bound in bound.stream { port = bound; break }
        // What kube-state-metrics would export: the Deployment's desired and ready
        // replicas, 1; under load 3, ready 3 s later; then 2.
        let replicas = ReplicaCounts()
        let router = Router()
        router.get("metrics") { _, _ in
            let (desired, ready) = replicas.state.withLock { $0 }
            return "kube_deployment_spec_replicas{namespace=\"default\",deployment=\"hello\"} \(desired)\n"
                + "kube_deployment_status_replicas_ready{namespace=\"default\",deployment=\"hello\"} \(ready)\n"
        }
        let (exporterPorts, exporterBound) = AsyncStream<Int>.makeStream()
        let exporter = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { exporterBound.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "kube-state-metrics"))
        let exporterTask = Task { try await exporter.run() }
        defer { exporterTask.cancel() }
        var exporterPort = 0
        for await bound in exporterPorts { exporterPort = bound; break }
        let prometheus = try PrometheusProcess(binary: binary, targets: [port, exporterPort], labels: ["service": "hello"])
        defer { Task { await prometheus.stop() } }
        try await prometheus.waitUntilReady()
        // The history must begin before the scale-up: wait for the first scrape of the exporter.
        let reader = try PrometheusClient(address: prometheus.url)
        for _ in 0..<100 {
            if case .value = await reader.query("max(kube_deployment_spec_replicas)") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        try await reader.shutdown()

        // The load profile: idle, about 40 requests/s for 16 s, then about 8.
        let started = Date()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var startsPods: Task<Void, any Error>?
        defer { startsPods?.cancel() }
        for (seconds, pause, count) in [(4.0, 1_000, 1), (16.0, 25, 3), (8.0, 125, 2)] {
            if count == 3 {
                replicas.state.withLock { $0.desired = 3 }
                startsPods = Task {
                    try await Task.sleep(for: .seconds(3))
                    replicas.state.withLock { $0.ready = 3 }
                }
            } else {
                replicas.state.withLock { $0 = (count, count) }
            }
            let until = Date().addingTimeInterval(seconds)
            while Date() < until {
                _ = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/hello"), timeout: .seconds(2))
                try await Task.sleep(for: .milliseconds(pause))
            }
        }
        try await client.shutdown()
        try await Task.sleep(for: .seconds(2))

        let cluster = try await ScalerCluster.start()
        defer { Task { await cluster.stop() } }
        try await cluster.create("hello", prometheus: prometheus.url, replicas: 1) { scaling in
            scaling.prometheus?.query = #"sum(rate(hello_requests_total{service="hello"}[4s]))"#
        }
        var options = BacktestRun.Options()
        options.since = .seconds(Int64(Date().timeIntervalSince(started).rounded(.up)))
        options.step = .seconds(2)
        options.strategy = .predictive
        options.behavior = ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 6))
        options.readyDelay = .seconds(4)
        let report = try await BacktestRun(client: cluster.client, namespace: "default", name: "hello", options: options).run()
        let text = report.lines.joined(separator: "\n")
        #expect(text.contains("Backtest of Application default/hello"))
        #expect(text.contains("proposed: strategy Predictive, scale-down window 6 s"))
        let scores = report.lines.filter { $0.hasPrefix("current ") || $0.hasPrefix("proposed ") || $0.hasPrefix("actual ") }
        #expect(scores.count == 3, "\(text)")
        let rows = report.lines.map { $0.split(separator: " ", omittingEmptySubsequences: true) }.filter { $0.count == 6 && $0[0].hasPrefix("20") }
        let peak = rows.compactMap { Int($0[3]) }.max() ?? 0
        #expect(peak >= 5, "about 40 requests/s at 5 per replica: \(text)")
        // What the Deployment had, read back from Prometheus beside the replays.
        #expect(text.contains(#"actual:   the workload's ready replicas, from max(kube_deployment_status_replicas_ready{namespace="default",deployment="hello"}); both replays start at its "#), "\(text)")
        let actual = rows.compactMap { Int($0[5]) }
        #expect(actual.max() == 3 && actual.last == 2, "3 under load, then 2: \(text)")
        #expect(rows.first.map { Int($0[3]) == Int($0[5]) && Int($0[4]) == Int($0[5]) } == true, "the replays start where the Deployment was: \(text)")
        #expect(report.svg.hasPrefix("<svg") && report.svg.contains("current: ready replicas") && report.svg.contains("proposed: ready replicas"))
        #expect(report.svg.contains("actual: ready replicas"))

        // The CLI, as a user runs it.
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("tide-backtest-\(UUID().uuidString).kubeconfig")
        try cluster.server.kubeconfig().write(to: kubeconfig, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: kubeconfig) }
        let plot = FileManager.default.temporaryDirectory.appendingPathComponent("tide-backtest-\(UUID().uuidString).svg")
        defer { try? FileManager.default.removeItem(at: plot) }
        let scaler = "\(binariesDirectory)/tide-scaler"
        let run = try await runProcess(scaler, [
            "backtest", "--kubeconfig", kubeconfig.path, "--namespace", "default", "--application", "hello", "--since", "\(Int(Date().timeIntervalSince(started)) + 2)s", "--step", "2s",
            "--strategy", "Predictive", "--svg", plot.path,
        ])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("shortfall replica·s") && run.output.contains("plot: \(plot.path)"))
        // No --ready-delay: the pod start is measured from the Deployment's history (3 s, at the samples' 2 s spacing).
        let measured = run.output.split(separator: "\n").first { $0.hasPrefix("Backtest of Application") }.map(String.init) ?? ""
        #expect(measured.contains("s after a scale-up (measured: the median of 1 scale-up in the history, to the samples' 2 s)"), "\(run.output)")
        let seconds = measured.split(separator: ";").last.flatMap { $0.split(separator: " ").dropFirst(2).first }.flatMap { Double($0) }
        #expect(seconds.map { (1...6).contains($0) } == true, "\(measured)")
        // A replicas query without history is a note, not a failure.
        let other = try await runProcess(scaler, [
            "backtest", "--kubeconfig", kubeconfig.path, "--namespace", "default", "--application", "hello", "--since", "40s", "--step", "2s",
            "--replicas-query", "sum(no_such_gauge)", "--svg", plot.path,
        ])
        #expect(other.status == 0, "\(other.errors)")
        #expect(other.output.contains("actual:   no history of the workload's ready replicas (sum(no_such_gauge) returned none"), "\(other.output)")
        // A query Prometheus refuses: the replays still run, and the note gives Prometheus's reason.
        let refused = try await runProcess(scaler, [
            "backtest", "--kubeconfig", kubeconfig.path, "--namespace", "default", "--application", "hello", "--since", "40s", "--step", "2s",
            "--replicas-query", "sum(", "--svg", plot.path,
        ])
        #expect(refused.status == 0, "\(refused.errors)")
        #expect(refused.output.contains("actual:   no history of the workload's ready replicas (sum( returned none: ") && refused.output.contains("bad_data"), "\(refused.output)")
        #expect(FileManager.default.fileExists(atPath: plot.path))

        // An Autoscaler on the same Deployment replays the same history, its target's replicas beside it.
        var scaling = try #require(try await cluster.applications.get("hello").spec.scaling)
        scaling.minReplicas = 1
        _ = try await cluster.client.namespaced(Autoscaler.self, in: "default").create(Autoscaler(
            metadata: ObjectMeta(name: "hello-tas"),
            spec: AutoscalerSpec(scaleTargetRef: .init(apiVersion: "apps/v1", kind: "Deployment", name: "hello"), observe: true, scaling: scaling)))
        let autoscaled = try await runProcess(scaler, [
            "backtest", "--kubeconfig", kubeconfig.path, "--namespace", "default", "--autoscaler", "hello-tas", "--since",
            "\(Int(Date().timeIntervalSince(started)) + 2)s", "--step", "2s", "--ready-delay", "4s", "--svg", plot.path,
        ])
        #expect(autoscaled.status == 0, "\(autoscaled.errors)")
        #expect(autoscaled.output.contains("Backtest of Autoscaler default/hello-tas (Deployment/hello)"), "\(autoscaled.output)")
        #expect(autoscaled.output.contains(#"actual:   the workload's ready replicas, from max(kube_deployment_status_replicas_ready{namespace="default",deployment="hello"})"#))
        let missing = try await runProcess(scaler, ["backtest", "--kubeconfig", kubeconfig.path, "--namespace", "default", "--autoscaler", "nowhere"])
        #expect(missing.status == 1 && missing.errors.contains("Autoscaler default/nowhere not found"), "\(missing.errors)")

        // No history: a clear message, exit 1.
        _ = try await cluster.applications.mergePatch("hello", patch: ["spec": ["scaling": ["prometheus": ["query": "sum(rate(no_such_metric_total[4s]))"]]]])
        let empty = try await runProcess(scaler, ["backtest", "--kubeconfig", kubeconfig.path, "--namespace", "default", "--application", "hello", "--since", "40s"])
        #expect(empty.status == 1)
        #expect(empty.errors.contains("metric prometheus has no samples in the window: nothing to replay"), "\(empty.errors)")
    }
}

/// The desired and ready replicas a stand-in kube-state-metrics exports.
private final class ReplicaCounts: Sendable {
    let state = Mutex<(desired: Int, ready: Int)>((1, 1))
}
