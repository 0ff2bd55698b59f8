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
        #expect(throws: LocalRunError.self) { try LoadProfile(parsing: "ramp:ten:0-40") }
        #expect(try LoadProfile(parsing: "ramp:30:0-40,plateau:60:40-40").duration == 90)
    }
}

final class LineCollector: Sendable {
    let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
