import AsyncHTTPClient
import ArgumentParser
import BenchmarkSupport
import Foundation
import KubeAPI
import KubeClient
import Logging
import TideAPI
import TideScaler
import TideSimulation

/// Measures `tide-scaler` end to end (process start to exit, against LocalKube and a
/// real Prometheus) and compares scaling policies on synthetic load traces.
@main
struct ScalerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaler-bench", abstract: "tide-scaler wall time and memory, and scaling quality against an oracle.")

    @Option(help: "tide-scaler runs for the median.")
    var runs = 7

    @Option(help: "Directory with the local-kube, hello-service and tide-scaler binaries (default: next to this one).")
    var binaries: String?

    @Flag(help: "Only the scaling-quality table (no processes, no Prometheus).")
    var qualityOnly = false

    @Flag(help: "Only the HPA default and Predictive on every trace, smooth and with minute-level noise, quickly.")
    var noiseOnly = false

    @Flag(help: "Only the multi-day traces (--days, 7 by default: weekly shape, a holiday, a level shift, a new service, an hourly batch), smooth and noisy, scored on their last two days.")
    var multiDay = false

    @Flag(help: "Only the hindsight bound on the multi-day traces (smooth and noisy, every 15 s and every 60 s): the best any policy could have done on the last two days knowing the future, and whether the goals against the HPA default were reachable at all.")
    var multiDayBound = false

    @Flag(help: "Only the cost of a strategy Forecast decision with 14 days of 15 s history (CPU and peak memory, each in a process of its own), beside a Predictive decision.")
    var forecastCost = false

    @Option(help: "Days in each multi-day trace (--multi-day, --multi-day-bound, --timeline), scored on the last two; from 9, strategy Forecast can try a weekly pattern.")
    var days = 7

    @Option(help: "The noisy variants' minute-level noise, ± this many percent.")
    var noise = 8.0

    @Option(help: "The seed of the noisy variants' noise (the same seed, the same variant on every run).")
    var noiseSeed: UInt64 = ScalingSimulation.noiseSeed

    @Option(help: .hidden)
    var forecastDecision: String?

    @Option(help: .hidden)
    var costOutput: String?

    @Option(help: "Print every scale change the HPA default and Predictive (15 s and CronJob 60 s) made on this trace (step, ramp, spike, sawtooth, diurnal, noisy, outage, the multi-day ones, or any of them with ' ±8 %/min' or the --noise given), and nothing else.")
    var timeline: String?

    func validate() throws {
        guard (3...28).contains(days) else { throw ValidationError("--days must be from 3 to 28 (a trace is scored on its last two days), not \(days)") }
        guard noise > 0, noise <= 50 else { throw ValidationError("--noise must be above 0 and at most 50 (percent), not \(ScalingAlgorithm.format(noise))") }
    }

    /// `trace` with this run's minute-level noise.
    func noisy(_ trace: ScalingSimulation.Trace) -> ScalingSimulation.Trace {
        ScalingSimulation.noisy(trace, amplitude: noise / 100, seed: noiseSeed)
    }

    /// The multi-day traces, smooth then noisy, and the second they are scored from.
    func multiDaySuite() -> (traces: [ScalingSimulation.Trace], scoreFrom: Int) {
        let smooth = ScalingSimulation.multiDayTraces(days: days)
        return (smooth + smooth.map(noisy), ScalingSimulation.multiDayScoreFrom(days: days))
    }

    mutating func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        if let forecastDecision {
            try ForecastCost.decide(forecastDecision, output: costOutput)
            return
        }
        if forecastCost {
            try ForecastCost.table(runs: runs)
            return
        }
        if let timeline {
            try timelineTable(timeline)
            return
        }
        if noiseOnly {
            noiseTable()
            return
        }
        if multiDay {
            multiDayTable()
            return
        }
        if multiDayBound {
            multiDayBoundTable()
            return
        }
        if !qualityOnly { try await processTable() }
        qualityTable()
        noiseTable()
    }

    /// The HPA default and Predictive on the multi-day traces, smooth and with minute-level
    /// noise, scored on the last two days, with each policy's figures beside the HPA's at
    /// the same cadence.
    func multiDayTable() {
        var rows: [[String]] = []
        let (traces, from) = multiDaySuite()
        for trace in traces {
            var reference: [Int: ScalingSimulation.Score] = [:]
            for policy in Self.withForecast() {
                let score = ScalingSimulation.run(trace, policy: policy, target: 5, scoreFrom: from)
                if policy.name.hasPrefix("HPA") { reference[policy.interval] = score }
                let hpa = reference[policy.interval]
                func ratio(_ mine: Int, _ theirs: Int?) -> String {
                    guard let theirs, theirs > 0, !policy.name.hasPrefix("HPA") else { return "" }
                    return String(format: " (%.2f×)", Double(mine) / Double(theirs))
                }
                rows.append([
                    trace.name, policy.name, String(score.underProvisioned) + ratio(score.underProvisioned, hpa?.underProvisioned),
                    String(score.overProvisioned) + ratio(score.overProvisioned, hpa?.overProvisioned),
                    String(score.scaleChanges) + ratio(score.scaleChanges, hpa?.scaleChanges), String(score.flaps()),
                ])
            }
        }
        printTable(
            "\(days)-day traces, scored on the last two days (target 5 req/s per replica, pods ready 20 s after a scale-up, metric = 30 s mean)",
            headers: ["trace", "policy", "under-provisioned replica·s", "over-provisioned replica·s", "scale changes", "downs undone < 120 s"],
            rows: rows)
        print("(×: against the HPA default at the same cadence)")
    }

    /// The hindsight bound on the 7-day traces, scored on the last two days as
    /// ``multiDayTable()`` scores the policies: for each trace and cadence, the HPA
    /// default and Predictive, the best schedule in hindsight within 1.5× the HPA's
    /// changes (changes priced: the cheapest price whose schedule stays within them),
    /// and for each goal whether any policy at all could reach it
    /// (``PricedHindsightBound``).
    func multiDayBoundTable() {
        var rows: [[String]] = []
        let (traces, from) = multiDaySuite()
        let (hpaScaling, predictiveScaling, _) = Self.scalings()
        let prices: [Double] = [0, 10, 30, 100, 300, 1_000, 3_000, 10_000]
        for trace in traces {
            for interval in [15, 60] {
                let hpa = ScalingSimulation.run(trace, policy: .tide("HPA", scaling: hpaScaling, interval: interval), target: 5, scoreFrom: from)
                let predictive = ScalingSimulation.run(
                    trace, policy: .tide("Predictive", scaling: predictiveScaling, interval: interval), target: 5, scoreFrom: from)
                let budget = Int((1.5 * Double(hpa.scaleChanges)).rounded(.down))
                let cadence = "\(interval) s"
                func ratio(_ mine: Int, _ theirs: Int) -> String { theirs > 0 ? String(format: " (%.2f×)", Double(mine) / Double(theirs)) : "" }
                rows.append([trace.name, cadence, "HPA default", String(hpa.underProvisioned), String(hpa.overProvisioned), String(hpa.scaleChanges), ""])
                rows.append([
                    trace.name, cadence, "Predictive", String(predictive.underProvisioned) + ratio(predictive.underProvisioned, hpa.underProvisioned),
                    String(predictive.overProvisioned) + ratio(predictive.overProvisioned, hpa.overProvisioned),
                    String(predictive.scaleChanges) + ratio(predictive.scaleChanges, hpa.scaleChanges), "",
                ])
                // The best in hindsight at weight 1 within the change budget.
                var best: PricedHindsightBound.Result?
                for price in prices {
                    guard let result = PricedHindsightBound.optimal(trace, target: 5, weight: 1, price: price, interval: interval, from: from) else { continue }
                    if result.scaleChanges <= budget {
                        best = result
                        break
                    }
                }
                if let best {
                    rows.append([
                        trace.name, cadence, "best in hindsight, ≤ \(budget) changes",
                        String(best.underProvisioned) + ratio(best.underProvisioned, hpa.underProvisioned),
                        String(best.overProvisioned) + ratio(best.overProvisioned, hpa.overProvisioned),
                        String(best.scaleChanges) + ratio(best.scaleChanges, hpa.scaleChanges), String(format: "change priced %.0f", best.price),
                    ])
                }
                for (name, share) in [("goal: ≤ HPA", 1.0), ("goal: ≤ 50 % of HPA", 0.5)] {
                    let shortfall = Int(share * Double(hpa.underProvisioned)), idle = Int(share * Double(hpa.overProvisioned))
                    let proof = PricedHindsightBound.unreachable(
                        trace, target: 5, shortfall: shortfall, idle: idle, changes: budget, interval: interval, from: from, weights: [0.5, 1, 2, 4],
                        prices: [0, 100, 1_000])
                    let verdict = proof.map {
                        String(format: "unreachable: idle + %.1f × shortfall + %.0f × changes ≥ %.0f for every schedule", $0.weight, $0.price, $0.cost)
                    } ?? "not ruled out"
                    rows.append([trace.name, cadence, "\(name) (≤ \(shortfall) / ≤ \(idle) / ≤ \(budget))", "", "", "", verdict])
                }
            }
        }
        printTable(
            "Best possible on the \(days)-day traces' last two days with the trace known in advance (same scoring as the \(days)-day table)",
            headers: ["trace", "cadence", "schedule", "under-provisioned replica·s", "over-provisioned replica·s", "scale changes", "note"], rows: rows)
        print("(×: against the HPA default at the same cadence; a goal is shortfall / idle / changes)")
    }

    /// Every trace again with minute-level noise (``ScalingSimulation/noisy(_:amplitude:seed:)``, ±8 % unless `--noise`):
    /// whether a strategy's gains survive traffic that is not smooth.
    func noiseTable() {
        var rows: [[String]] = []
        let smooth = ScalingSimulation.standardTraces()
        for trace in (noiseOnly ? smooth : []) + smooth.map(noisy) {
            for policy in Self.hpaAndPredictive() {
                let score = ScalingSimulation.run(trace, policy: policy, target: 5)
                rows.append([
                    trace.name, policy.name, String(score.underProvisioned), String(score.overProvisioned), String(score.scaleChanges),
                    String(score.flaps()), String(score.downDuringOutage),
                ])
            }
        }
        printTable(
            "The same traces with ±\(ScalingAlgorithm.format(noise)) % minute-level noise (seeded; same scoring)",
            headers: ["trace", "policy", "under-provisioned replica·s", "over-provisioned replica·s", "scale changes", "downs undone < 120 s", "down in outage"],
            rows: rows)
    }

    // MARK: Scaler process

    func processTable() async throws {
        let directory = binaries ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        guard let prometheusBinary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first(where: FileManager.default.isExecutableFile) else {
            throw ValidationError("Prometheus is not installed: apt-get install -y --no-install-recommends prometheus")
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tide-scaler-bench-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let kubeconfig = work.appendingPathComponent("kubeconfig").path

        var processes: [Process] = []
        defer { for process in processes where process.isRunning { process.terminate(); process.waitUntilExit() } }
        func start(_ path: String, _ arguments: [String]) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append(process)
            return process
        }
        _ = try start("\(directory)/local-kube", ["--kubeconfig", kubeconfig, "--apply", root.appendingPathComponent("crds").path])
        let helloPort = 18_000 + Int(getpid() % 1_000)
        _ = try start("\(directory)/hello-service", ["--host", "127.0.0.1", "--port", String(helloPort)])
        let prometheusPort = helloPort + 1_000
        let config = work.appendingPathComponent("prometheus.yml")
        try """
            global: {scrape_interval: 1s}
            scrape_configs:
            - job_name: hello
              static_configs: [{targets: ['127.0.0.1:\(helloPort)'], labels: {namespace: default, service: bench}}]
            """.write(to: config, atomically: true, encoding: .utf8)
        _ = try start(prometheusBinary, [
            "--config.file=\(config.path)", "--storage.tsdb.path=\(work.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(prometheusPort)", "--log.level=error",
        ])
        let prometheusURL = URL(string: "http://127.0.0.1:\(prometheusPort)")!
        // Wait for LocalKube (its kubeconfig) and for Prometheus to have samples.
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: kubeconfig) { try await Task.sleep(for: .milliseconds(50)) }
        let query = #"sum(rate(hello_requests_total{service="bench"}[10s]))"#
        let probe = try PrometheusClient(address: prometheusURL)
        for _ in 0..<100 {
            _ = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(helloPort)/hello"), timeout: .seconds(1))
            if case .value = await probe.query(query) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        try await probe.shutdown()

        let client = try KubeClient(connection: try KubeConfigLoader(kubeconfigPath: kubeconfig, environment: [:]).load())
        let applications = client.namespaced(Application.self, in: "default")
        let scaling = Scaling(
            maxReplicas: 10, prometheus: PrometheusSource(address: prometheusURL.absoluteString, query: query),
            target: MetricTarget(type: .perReplica, value: "5"))
        _ = try await applications.create(Application(metadata: ObjectMeta(name: "bench"), spec: ApplicationSpec(image: "hello:1", replicas: 1, scaling: scaling)))

        var wall: [Double] = []
        var peak: [Int] = []
        var codes: Set<Int32> = []
        for _ in 0..<runs {
            let result = try Spawn.run("\(directory)/tide-scaler", [
                "--kubeconfig", kubeconfig, "--namespace", "default", "--application", "bench", "--log-level", "error",
            ])
            wall.append(result.wall)
            peak.append(result.maxRSSKiB)
            codes.insert(result.exitCode)
        }
        var inProcess: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            _ = await Scaler(client: client, namespace: "default", name: "bench").runOnce()
            let elapsed = ContinuousClock.now - start
            inProcess.append(elapsed.inSeconds)
        }
        var floor: [Double] = []
        for _ in 0..<runs { floor.append(try Spawn.run("/bin/true", []).wall) }
        try await client.shutdown()

        let rows = [
            ("tide-scaler, start to exit (median ms)", String(format: "%.1f", median(wall) * 1_000), "exit codes \(codes.sorted()); \(runs) runs"),
            ("tide-scaler, peak resident memory (median MiB)", String(format: "%.1f", Double(peak.sorted()[peak.count / 2]) / 1_024), "max RSS from wait4 in a small helper (peak-rss)"),
            ("same decision in-process (median ms)", String(format: "%.1f", median(inProcess) * 1_000), "no process start, warm connections"),
            ("/bin/true, start to exit (median ms)", String(format: "%.1f", median(floor) * 1_000), "floor: process creation"),
        ]
        printTable("One scaling decision against LocalKube and a real Prometheus", rows: rows.map { [$0.0, $0.1, $0.2] })
        print()
    }

    // MARK: Scaling quality

    /// The HPA default's and Predictive's scalings, as the quality table uses them.
    static func scalings() -> (hpa: Scaling, predictive: Scaling, tunedDown: Scaling) {
        let base = Scaling(
            maxReplicas: 20, prometheus: PrometheusSource(address: "http://prometheus:9090", query: "sum(rate(requests_total[30s]))"),
            target: MetricTarget(type: .perReplica, value: "5"))
        let hpa = ApplicationSpec(image: "x", scaling: base).withDefaults.scaling!
        var tideSpec = base
        tideSpec.behavior = ScalingBehavior(scaleDown: ScalingRules(
            stabilizationWindowSeconds: 120, policies: [ScalingPolicy(type: .percent, value: 50, periodSeconds: 60)]))
        let tide = ApplicationSpec(image: "x", scaling: tideSpec).withDefaults.scaling!
        var predictiveSpec = base
        predictiveSpec.strategy = .predictive
        let predictive = ApplicationSpec(image: "x", scaling: predictiveSpec).withDefaults.scaling!
        return (hpa, predictive, tide)
    }

    /// Each scale change of the HPA default and of Predictive on one trace, beside the
    /// reading it was decided on and the oracle at that second.
    func timelineTable(_ name: String) throws {
        let short = ScalingSimulation.standardTraces()
        let (long, multiDayFrom) = multiDaySuite()
        let traces = short + short.map(noisy) + long
        guard let trace = traces.first(where: { $0.name == name }) else {
            throw ValidationError("no trace named '\(name)'; the traces are \(traces.map(\.name).joined(separator: ", "))")
        }
        // A multi-day trace is shown, as it is scored, on its last two days.
        let scoreFrom = long.contains(where: { $0.name == name }) ? multiDayFrom : 0
        var rows: [[String]] = []
        for policy in Self.withForecast() where policy.interval == 15 || scoreFrom == 0 {
            let score = ScalingSimulation.run(trace, policy: policy, target: 5, scoreFrom: scoreFrom)
            for change in score.changes {
                let oracle = trace.load[change.second].map { String(Int(($0 / 5).rounded(.up))) } ?? "–"
                rows.append([policy.name, String(change.second), change.metric.map { String(format: "%.1f", $0) } ?? "unavailable", String(change.replicas), oracle])
            }
        }
        printTable(
            "Scale changes on the \(name) trace (target 5 req/s per replica)", headers: ["policy", "second", "reading", "replicas", "oracle now"], rows: rows)
    }

    /// The HPA default and Predictive, each every 15 s and at a CronJob's minute.
    static func hpaAndPredictive() -> [ScalingSimulation.Policy] { policies(withForecast: false) }

    /// The HPA default, Predictive and Forecast, each every 15 s and at a CronJob's minute.
    static func withForecast() -> [ScalingSimulation.Policy] { policies(withForecast: true) }

    static func policies(withForecast: Bool) -> [ScalingSimulation.Policy] {
        let (hpa, predictive, _) = scalings()
        var forecast = predictive
        forecast.strategy = .forecast
        let strategies = [("HPA default", hpa), ("Predictive", predictive)] + (withForecast ? [("Forecast", forecast)] : [])
        return [(", 15 s", 15), (", CronJob 60 s", 60)].flatMap { cadence in
            strategies.map { ScalingSimulation.Policy.tide($0.0 + cadence.0, scaling: $0.1, interval: cadence.1) }
        }
    }

    func qualityTable() {
        let (hpa, _, tide) = Self.scalings()
        let policies: [ScalingSimulation.Policy] = Self.hpaAndPredictive() + [
            .tide("HPA, tuned down (120 s, 50 %/60 s), 15 s", scaling: tide, interval: 15),
            .tide("HPA, tuned down, CronJob 60 s", scaling: tide, interval: 60),
            ScalingSimulation.Policy(name: "±1 per tick, floor 3, 60 s", interval: 60) { current, metric, _, _, _ in
                guard let metric else { return current }
                if metric > 5 * Double(current) { return current + 1 }
                if metric < 5 * Double(current) { return max(3, current - 1) }
                return current
            },
            ScalingSimulation.Policy(name: "value > 5 → 3 replicas, 60 s", interval: 60) { current, metric, _, _, _ in
                guard let metric else { return current }
                return metric > 5 ? 3 : current
            },
        ]
        var rows: [[String]] = []
        for trace in ScalingSimulation.standardTraces() {
            for policy in policies {
                let initial: Int32 = policy.name.hasPrefix("±1") ? 3 : 1
                let score = ScalingSimulation.run(trace, policy: policy, target: 5, initial: initial)
                rows.append([
                    trace.name, policy.name, String(score.underProvisioned), String(score.overProvisioned), String(score.scaleChanges),
                    String(score.flaps()), String(score.downDuringOutage),
                ])
            }
        }
        printTable(
            "Scaling quality on 30-minute traces (target 5 req/s per replica, pods ready 20 s after a scale-up, metric = 30 s mean)",
            headers: ["trace", "policy", "under-provisioned replica·s", "over-provisioned replica·s", "scale changes", "downs undone < 120 s", "down in outage"],
            rows: rows)
        print("oracle: ceil(load / 5) replicas every second; lower is better in every column")
        hindsightTable(hpa: hpa)
    }

    /// The best any policy could have done, knowing each trace in advance, within
    /// twice the HPA default's scale changes; and whether the issue's goal (shortfall
    /// ≤ the HPA's, idle ≤ half the HPA's, changes ≤ twice the HPA's) was reachable at all.
    func hindsightTable(hpa: Scaling) {
        var rows: [[String]] = []
        for trace in ScalingSimulation.standardTraces() {
            let reference = ScalingSimulation.run(trace, policy: .tide("HPA", scaling: hpa, interval: 15), target: 5)
            let budget = 2 * reference.scaleChanges
            let goal = (shortfall: reference.underProvisioned, idle: reference.overProvisioned / 2)
            // Free: any schedule. Held: scale-downs only as far as the last 60 s of readings allow.
            for (kind, hold) in [("", nil), (", downs after 60 s of lower readings", 60)] as [(String, Int?)] {
                for weight in [1.0, 2.0, 4.0] {
                    guard let best = HindsightBound.optimal(trace, target: 5, weight: weight, maxChanges: budget, downHold: hold) else { continue }
                    rows.append([
                        trace.name, "best in hindsight\(kind), shortfall ×\(Int(weight))", String(best.underProvisioned), String(best.overProvisioned),
                        String(best.scaleChanges), "≤ \(budget) changes",
                    ])
                }
                let verdict: String
                if let proof = HindsightBound.unreachable(trace, target: 5, shortfall: goal.shortfall, idle: goal.idle, maxChanges: budget, downHold: hold) {
                    verdict = String(
                        format: "unreachable: idle + %.1f × shortfall ≥ %.0f > %d for every such schedule", proof.weight, proof.cost,
                        goal.idle + Int(proof.weight * Double(goal.shortfall)))
                } else {
                    verdict = "not ruled out"
                }
                rows.append([trace.name, "goal\(kind): shortfall ≤ \(goal.shortfall), idle ≤ \(goal.idle)", "", "", "≤ \(budget)", verdict])
            }
        }
        printTable(
            "Best possible with the trace known in advance (same scoring; at most twice the HPA default's scale changes)",
            headers: ["trace", "schedule", "under-provisioned replica·s", "over-provisioned replica·s", "scale changes", "note"], rows: rows)
    }
}
