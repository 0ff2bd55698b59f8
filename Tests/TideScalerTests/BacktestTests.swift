import AsyncHTTPClient
import Foundation
import HelloService
import KubeAPI
import KubeClient
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
            ("anchors.yaml", "scaleDown: &a {}\n", "is not YAML or JSON"),
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
        let prometheus = try PrometheusProcess(binary: binary, targets: [port], labels: ["service": "hello"])
        defer { Task { await prometheus.stop() } }
        try await prometheus.waitUntilReady()

        // The load profile: idle, about 40 requests/s for 16 s, then about 8.
        let started = Date()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        for (seconds, pause) in [(4.0, 1_000), (16.0, 25), (8.0, 125)] {
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
        let scores = report.lines.filter { $0.hasPrefix("current ") || $0.hasPrefix("proposed ") }
        #expect(scores.count == 2, "\(text)")
        let peak = report.lines.compactMap { line -> Int? in
            let cells = line.split(separator: " ", omittingEmptySubsequences: true)
            return cells.count == 5 && cells[0].hasPrefix("20") ? Int(cells[3]) : nil
        }.max() ?? 0
        #expect(peak >= 5, "about 40 requests/s at 5 per replica: \(text)")
        #expect(report.svg.hasPrefix("<svg") && report.svg.contains("current: ready replicas") && report.svg.contains("proposed: ready replicas"))

        // The CLI, as a user runs it.
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("tide-backtest-\(UUID().uuidString).kubeconfig")
        try cluster.server.kubeconfig().write(to: kubeconfig, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: kubeconfig) }
        let plot = FileManager.default.temporaryDirectory.appendingPathComponent("tide-backtest-\(UUID().uuidString).svg")
        defer { try? FileManager.default.removeItem(at: plot) }
        let scaler = "\(binariesDirectory)/tide-scaler"
        let run = try await runProcess(scaler, [
            "backtest", "--kubeconfig", kubeconfig.path, "--namespace", "default", "--application", "hello", "--since", "40s", "--step", "2s",
            "--strategy", "Predictive", "--svg", plot.path,
        ])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("shortfall replica·s") && run.output.contains("plot: \(plot.path)"))
        #expect(FileManager.default.fileExists(atPath: plot.path))

        // No history: a clear message, exit 1.
        _ = try await cluster.applications.mergePatch("hello", patch: ["spec": ["scaling": ["prometheus": ["query": "sum(rate(no_such_metric_total[4s]))"]]]])
        let empty = try await runProcess(scaler, ["backtest", "--kubeconfig", kubeconfig.path, "--namespace", "default", "--application", "hello", "--since", "40s"])
        #expect(empty.status == 1)
        #expect(empty.errors.contains("metric prometheus has no samples in the window: nothing to replay"), "\(empty.errors)")
    }
}
