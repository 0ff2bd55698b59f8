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

    @Option(help: "The sample's strategy: HPA, Predictive or Forecast (Forecast needs days of history; a local run shows it deciding as Predictive, and its ForecastConfident condition saying why).")
    var strategy = "HPA"

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
