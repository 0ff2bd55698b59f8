import ArgumentParser
import Foundation
import LocalMode
import TideAPI
import Logging

/// `tide-local`: the whole Tide loop on this machine, in one command.
@main
struct TideLocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tide-local",
        abstract: "Runs LocalKube, the operator, real hello-service processes, a real Prometheus, load and the scaler; prints a timeline and writes a plot.")

    @Option(help: "standard (about 4 minutes), short (about 45 s) or name:seconds:from-to[,...] in requests/s.")
    var profile = "standard"

    @Option(help: "Seconds between scaler runs (the CronJob schedule, accelerated). Default: 5, or 2 with --profile short.")
    var scalerEvery: Int?

    @Option(help: "Scale-down stabilization window of the sample, in seconds. Default: 30, or 8 with --profile short.")
    var scaleDownWindow: Int?

    @Option(help: "Directory for the plot, the summary and the kubeconfig.")
    var output = "tide-local-run"

    @Option(help: "LocalKube port (0 picks a free one).")
    var port = 0

    @Option(help: "Directory with hello-service and tide-scaler (default: next to this binary).")
    var binaries: String?

    @Option(help: "Path to the prometheus binary.")
    var prometheus = "/usr/bin/prometheus"

    @Option(help: "What the scaler reads: prometheus (a PromQL query) or http (hello-service's /stats JSON).")
    var source = "prometheus"

    @Option(help: "The sample's strategy: HPA, Predictive or Forecast (Forecast needs days of history: see --history-days; without it, it decides as Predictive and its ForecastConfident condition says why).")
    var strategy = "HPA"

    @Option(help: "Days of the load profile, repeated every hour, to backfill into Prometheus before the run (promtool), so strategy Forecast has a pattern to prove and follow; 3 or more for an hourly one. Default: none.")
    var historyDays = 0

    @Option(help: "Seconds a new replica takes to become ready after it starts, as a real pod's image pull and warm-up take (the first replica is ready at once). Default: 0.")
    var podStart = 0

    @Flag(help: "Do not print the per-second timeline.")
    var quiet = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let loadProfile: LoadProfile
        switch profile {
        case "standard": loadProfile = .standard
        case "short": loadProfile = .short
        default: loadProfile = try LoadProfile(parsing: profile)
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var configuration = LocalRun.Configuration(
            binaries: binaries ?? executable.deletingLastPathComponent().path,
            output: URL(fileURLWithPath: output), repositoryRoot: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        configuration.profile = loadProfile
        configuration.scalerEvery = .seconds(max(1, scalerEvery ?? loadProfile.scalerEvery))
        configuration.scaleDownWindow = scaleDownWindow ?? loadProfile.scaleDownWindow
        configuration.port = port
        configuration.prometheus = prometheus
        configuration.verbose = !quiet
        guard let kind = LocalRun.MetricSourceKind(rawValue: source) else {
            throw ValidationError("--source must be prometheus or http, got \(source)")
        }
        configuration.source = kind
        guard let chosen = ScalingStrategy(rawValue: strategy) else {
            throw ValidationError("--strategy must be HPA, Predictive or Forecast, got \(strategy)")
        }
        configuration.strategy = chosen
        configuration.historyDays = historyDays
        guard (0...600).contains(podStart) else { throw ValidationError("--pod-start must be 0 to 600 seconds, got \(podStart)") }
        configuration.podStart = .seconds(podStart)
        do {
            let report = try await LocalRun(configuration: configuration).run { line in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            if !report.timeline.summary.roseAndFell {
                FileHandle.standardError.write(Data("error: replicas did not rise under load and fall after it\n".utf8))
                throw ExitCode(1)
            }
        } catch let error as LocalRunError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
