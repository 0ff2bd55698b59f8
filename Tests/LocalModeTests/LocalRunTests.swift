import Foundation
import Synchronization
import LocalMode
import TideTestSupport
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The build directory holding hello-service and tide-scaler next to the test bundle.
let binaries = binariesDirectory

/// Whether a process still exists (a zombie of ours counts as gone).
func alive(_ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
    return !status.contains("State:\tZ")
}

@Suite("Local mode")
struct LocalRunTests {
    @Test(
        "a short run: replicas rise under load and fall after it, with real processes and Prometheus; the plot and summary are written; nothing is left running",
        arguments: LocalRun.MetricSourceKind.allCases)
    func shortRun(source: LocalRun.MetricSourceKind) async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tide-local-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        var configuration = LocalRun.Configuration(binaries: binaries, output: output, repositoryRoot: repositoryRoot)
        configuration.profile = .short
        configuration.scalerEvery = .seconds(LoadProfile.short.scalerEvery)
        configuration.scaleDownWindow = LoadProfile.short.scaleDownWindow
        configuration.verbose = false
        configuration.source = source
        // The HTTP run uses strategy Forecast: with minutes of history it decides as
        // Predictive, and its condition says why.
        configuration.strategy = source == .http ? .forecast : .hpa
        let lines = LineCollector()
        let report = try await LocalRun(configuration: configuration).run { lines.add($0) }
        if source == .http {
            #expect(lines.all.contains { $0.contains("/stats (HTTP source") }, "the scaler read hello-service's own endpoint")
        }
        let summary = report.timeline.summary
        if configuration.strategy == .hpa {
            #expect(summary.roseAndFell, "\(report.timeline.summaryText())")
        } else {
            // Predictive (which Forecast is here) holds lower demand for at least 60 s:
            // longer than the short profile's quiet phase. It rises.
            #expect(summary.firstScaleUp != nil && summary.peakDesired >= 2, "\(report.timeline.summaryText())")
        }
        #expect(summary.peakRunning >= 2, "real processes followed the replicas")
        #expect(summary.scalerExitCodes[0, default: 0] >= 10, "the scaler ran and decided")
        // The summary's numbers come from the timeline.
        #expect(summary.peakDesired == report.timeline.samples.map(\.desired).max())
        #expect(summary.finalDesired == report.timeline.samples.last?.desired)
        let text = try String(contentsOf: report.summaryFile, encoding: .utf8)
        #expect(text.contains("peak desired \(summary.peakDesired)"))
        let svg = try String(contentsOf: report.plot, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline") && svg.contains("capacity (running × 5)"))
        switch source {
        case .prometheus:
            // The run's own history replayed through its spec and strategy Predictive.
            #expect(text.contains("Backtest of Application") && text.contains("proposed: strategy Predictive"), "\(text)")
            #expect(text.contains("shortfall replica·s"))
            let plot = try #require(report.backtestPlot)
            #expect(try String(contentsOf: plot, encoding: .utf8).contains("proposed: ready replicas"))
            // What the Deployment had, exported as kube-state-metrics would and read back from Prometheus.
            #expect(text.contains("actual:   the workload's ready replicas, from max(kube_deployment_status_replicas_ready"), "\(text)")
            let rows: [[Substring]] = text.split(separator: "\n").map { line in line.split(separator: " ", omittingEmptySubsequences: true) }
            let actual: [Int] = rows.filter { $0.count == 6 && $0[0].hasPrefix("20") }.compactMap { Int($0[5]) }
            #expect((actual.max() ?? 0) >= 2, "the real processes' ready count shows in the history: \(text)")
            #expect(text.contains("s after a scale-up (measured: the median of "), "the pod start measured from the history: \(text)")
            #expect(try String(contentsOf: plot, encoding: .utf8).contains("actual: ready replicas"))
        case .http:
            #expect(text.contains("backtest: skipped (the HTTP source is read live and has no history)"))
            #expect(report.backtestPlot == nil)
            let forecast = try #require(report.conditions.first { $0.type == "ForecastConfident" })
            #expect(forecast.status == "False", "\(forecast.message)")
            #expect(text.contains("strategy Forecast: ForecastConfident=False \(forecast.reason): "), "\(text)")
            #expect(lines.all.contains { $0.hasPrefix("strategy Forecast: ForecastConfident=False") })
        }
        try await Task.sleep(for: .milliseconds(200))
        let leftovers = report.processIDs.filter(alive)
        #expect(leftovers.isEmpty, "processes left running: \(leftovers)")
        #expect(report.processIDs.count >= 3, "prometheus, hello-service and scaler processes were started")
    }

    @Test("with three days of the profile backfilled every hour (promtool), strategy Forecast proves the hourly pattern on them and scales up before the load rises, saying why")
    func forecastOnBackfilledHistory() async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tide-local-history-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        var configuration = LocalRun.Configuration(binaries: binaries, output: output, repositoryRoot: repositoryRoot)
        // The plateau spans two minutes: the scaler reads history on a minute's grid,
        // and a pattern shorter than two of its values is taken for noise. Pods take
        // 20 s to start, so scaling ahead matters.
        configuration.profile = try LoadProfile(parsing: "warm-up:45:2-2,ramp-up:15:2-40,plateau:120:40-40")
        configuration.verbose = false
        configuration.strategy = .forecast
        configuration.historyDays = 3
        configuration.podStart = .seconds(20)
        let lines = LineCollector()
        let report = try await LocalRun(configuration: configuration).run { lines.add($0) }
        #expect(lines.all.contains { $0.hasPrefix("Backfilled 3 days of the load profile, repeated every hour") })
        let forecast = try #require(report.conditions.first { $0.type == "ForecastConfident" })
        #expect(forecast.status == "True" && forecast.message.contains("hourly pattern"), "\(forecast.message)")
        // Warm-up's 2 requests/s need one replica: a scale-up then is the forecast's.
        let samples = report.timeline.samples
        let firstUp = try #require(samples.first { $0.desired > 1 }, "\(report.timeline.summaryText())")
        #expect(firstUp.phase == "warm-up" && firstUp.load <= 2, "first scale-up at \(firstUp.second) s in \(firstUp.phase)")
        #expect(firstUp.reason.contains("hourly pattern"), "\(firstUp.reason)")
        // No scale-down before the load comes: Predictive's 60 s hold outlasts the sample's 30 s window.
        let ramp = try #require(samples.firstIndex { $0.phase == "ramp-up" })
        #expect(zip(samples[..<ramp], samples[1..<ramp]).allSatisfy { $1.desired >= $0.desired }, "\(samples[..<ramp].map(\.desired))")
        #expect(report.timeline.summary.peakRunning >= 6, "\(report.timeline.summaryText())")
        let text = try String(contentsOf: report.summaryFile, encoding: .utf8)
        #expect(text.contains("strategy Forecast: ForecastConfident=True ForecastConfident: "), "\(text)")
        try await Task.sleep(for: .milliseconds(200))
        #expect(report.processIDs.filter(alive).isEmpty, "processes left running")
    }

    @Test("the quick start as documented: `tide-local --profile short` exits 0, replicas rise and fall, and a clean run prints no error line")
    func quickStartShortProfile() async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tide-local-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        // What scripts/local.sh runs after building, with the README's arguments.
        let result = try await runProcess(
            "\(binaries)/tide-local", ["--profile", "short", "--output", output.path, "--quiet"], directory: repositoryRoot)
        #expect(result.status == 0, "exit \(result.status): \(result.errors)")
        let errorLines = result.errors.split(separator: "\n").filter { $0.localizedCaseInsensitiveContains("error") }
        #expect(errorLines.isEmpty, "a clean run prints no error lines: \(errorLines)")
        let summary = try String(contentsOf: output.appendingPathComponent("tide-local-run-summary.txt"), encoding: .utf8)
        #expect(summary.contains("verdict: replicas rose under load and fell after it"), "\(summary)")
    }

    @Test("a missing piece or an unknown strategy is a clear error before anything starts")
    func missingPiece() async throws {
        var configuration = LocalRun.Configuration(binaries: "/nonexistent", output: FileManager.default.temporaryDirectory, repositoryRoot: repositoryRoot)
        configuration.prometheus = "/nonexistent/prometheus"
        #expect(throws: LocalRunError.self) { try LocalRun(configuration: configuration).preflight() }
        do {
            try LocalRun(configuration: configuration).preflight()
        } catch let error as LocalRunError {
            #expect(error.description.contains("hello-service not found at /nonexistent/hello-service"))
        }
        // An unknown strategy is refused before anything starts, naming the choices.
        let strategy = try await runProcess("\(binaries)/tide-local", ["--strategy", "Bogus", "--output", "/nonexistent/out"], directory: repositoryRoot)
        #expect(strategy.status == 64 && strategy.errors.contains("--strategy must be HPA, Predictive or Forecast, got Bogus"), "\(strategy.errors)")
        // A history needs the Prometheus source, a profile that fits in an hour, and promtool.
        var history = LocalRun.Configuration(binaries: binaries, output: FileManager.default.temporaryDirectory, repositoryRoot: repositoryRoot)
        history.historyDays = 3
        history.source = .http
        #expect(preflightError(history) == "--history-days needs the Prometheus source: the HTTP source is read live and has no history")
        history.source = .prometheus
        history.profile = try LoadProfile(parsing: "long:3700:1-1")
        #expect(preflightError(history) == "a load profile of 3700 s cannot repeat every hour: make it an hour or shorter to backfill a history")
        history.profile = .short
        history.historyDays = 30
        #expect(preflightError(history)?.contains("at most 15") == true)
        history.historyDays = 3
        history.prometheus = "/nonexistent/prometheus"
        #expect(preflightError(history)?.hasPrefix("prometheus not found") == true)
        let days = try await runProcess("\(binaries)/tide-local", ["--history-days=-2", "--output", "/nonexistent/out"], directory: repositoryRoot)
        #expect(days.status == 2 && days.errors.contains("--history-days must be at least 1, got -2"), "\(days.errors)")
        let podStart = try await runProcess("\(binaries)/tide-local", ["--pod-start=-1", "--output", "/nonexistent/out"], directory: repositoryRoot)
        #expect(podStart.status == 64 && podStart.errors.contains("--pod-start must be 0 to 600 seconds, got -1"), "\(podStart.errors)")
        #expect(throws: LocalRunError.self) { try LoadProfile(parsing: "ramp:ten:0-40") }
        #expect(try LoadProfile(parsing: "ramp:30:0-40,plateau:60:40-40").duration == 90)
    }
}

/// The error a run's preflight gives, in words; `nil` when it passes.
func preflightError(_ configuration: LocalRun.Configuration) -> String? {
    do {
        try LocalRun(configuration: configuration).preflight()
        return nil
    } catch {
        return "\(error)"
    }
}

final class LineCollector: Sendable {
    let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
