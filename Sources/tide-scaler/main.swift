import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KubeClient
import StructuredLogging
import Logging
import TideAPI
import TideScaler
import UnixSignals

/// `tide-scaler`: scales one Application (the default command), or replays its
/// metric history through a scaling spec (`backtest`).
@main
struct TideScalerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tide-scaler", abstract: "Scales a Tide Application from its metrics, or replays their history.",
        subcommands: [ScaleCommand.self, BacktestCommand.self], defaultSubcommand: ScaleCommand.self)
}

/// Which Application or Autoscaler, and how to reach its cluster: the same flags for
/// every command.
struct ApplicationOptions: ParsableArguments {
    @Option(help: "Namespace of the Application or Autoscaler.")
    var namespace: String

    @Option(help: "Name of an Application: runs the scaler of the Autoscaler the Application owns (the same as --autoscaler with its name; kept for one release, for the CronJobs of earlier versions).")
    var application: String?

    @Option(help: "Name of the Autoscaler (scales the workload its scaleTargetRef names, or only observes it).")
    var autoscaler: String?

    func validate() throws {
        if (application == nil) == (autoscaler == nil) { throw ValidationError("give one of --application and --autoscaler") }
    }

    @Option(help: "Path to a kubeconfig. Default: KUBECONFIG, in-cluster, then ~/.kube/config.")
    var kubeconfig: String?

    @Option(help: "Kubeconfig context to use.")
    var context: String?
}

/// One scaling decision for one Application (CronJob mode), or a loop (Continuous
/// mode). Exit codes: 0 decided, 2 metric unavailable, 3 Application or Autoscaler
/// missing or invalid (or its target), 1 anything else — each with one line on stderr.
struct ScaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale", abstract: "Scales a Tide Application from its metrics (what the CronJob runs; the default).")

    @OptionGroup var target: ApplicationOptions

    @Flag(help: "Decide once and exit (the default; what the CronJob runs).")
    var once = false

    @Option(help: "Decide every interval until stopped (Continuous mode), e.g. 10s.")
    var interval: String?

    @Flag(help: "Decide and report, but write nothing.")
    var dryRun = false

    @Option(help: "Folder where the Prometheus credentials are mounted as files (token, ca.crt, username, password). Default: read the Secrets through the API.")
    var credentialsDir: String?

    @Flag(help: "Exit 0 when the outcome was recorded on the Application (metric unavailable, invalid spec), so a Job neither retries nor fails a run that decided. What the scaler CronJob runs.")
    var exitZeroWhenRecorded = false

    @Option(help: "json or text.")
    var logFormat = "json"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        if once && interval != nil { throw ValidationError("--once and --interval exclude each other") }
        if let interval, DurationText.parse(interval) == nil { throw ValidationError("--interval '\(interval)' is not a duration such as 10s") }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be json or text") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a level") }
    }

    func run() async throws {
        LogFormat(rawValue: logFormat)!.bootstrap(level: Logger.Level(rawValue: logLevel)!)
        let logger = Logger(label: "tide.scaler")
        var connection: ClusterConnection
        do {
            connection = try KubeConfigLoader(kubeconfigPath: target.kubeconfig, context: target.context).load()
        } catch {
            Self.fail(1, "cannot load Kubernetes configuration: \(error)")
        }
        connection.userAgent = "tide-scaler/0.1"
        let client = try KubeClient(connection: connection, logger: logger)
        let scaler: any ScalerRun
        if let autoscaler = target.autoscaler {
            scaler = AutoscalerScaler(
                client: client, namespace: target.namespace, name: autoscaler, dryRun: dryRun, credentialsDirectory: credentialsDir, logger: logger)
        } else {
            scaler = Scaler(
                client: client, namespace: target.namespace, name: target.application ?? "", dryRun: dryRun, credentialsDirectory: credentialsDir,
                logger: logger)
        }

        guard let interval = interval.flatMap(DurationText.parse) else {
            let outcome = await scaler.runOnce()
            try? await client.shutdown()
            Self.fail(exitZeroWhenRecorded && outcome.isRecorded ? 0 : outcome.exitCode, outcome.line)
        }
        // Continuous: decide every interval until SIGTERM or SIGINT. A signal stops the
        // wait between decisions; a decision in flight runs in a task of its own, which
        // the stop does not cancel, so its /scale and status writes are never cut in half.
        let loop = Task {
            while !Task.isCancelled {
                let outcome = await Task { await scaler.runOnce() }.value
                if outcome.exitCode != 0 { Self.line(outcome.line) }
                try? await Task.sleep(for: interval)
            }
        }
        for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) { break }
        loop.cancel()
        _ = await loop.result
        try? await client.shutdown()
    }

    static func line(_ text: String) {
        var bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    static func fail(_ code: Int32, _ text: String) -> Never {
        line(text)
        Glibc.exit(code)
    }
}

/// `tide-scaler backtest`: what the Application's scaling spec, and a proposed change
/// to it, would have done to its own traffic.
struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Replays an Application's or an Autoscaler's metric history (Prometheus query_range) through its scaling spec and a proposed one.")

    @OptionGroup var target: ApplicationOptions

    @Option(help: "How far back to replay, e.g. 6h.")
    var since = "6h"

    @Option(help: "Time between decisions in the replay, e.g. 15s (Continuous: its interval; CronJob: 60s).")
    var step = "15s"

    @Option(help: "A scaling behavior (YAML or JSON: scaleUp/scaleDown) for the proposal.")
    var behavior: String?

    @Option(help: "The proposal's strategy: HPA or Predictive.")
    var strategy: String?

    @Option(help: "Seconds new pods take to be ready (default: measured from the Deployment's desired and ready replicas in Prometheus, else from status, else 30s).")
    var readyDelay: String?

    @Option(help: "Prometheus address to query instead of the metrics' own (e.g. http://127.0.0.1:9090 through a port-forward).")
    var prometheusAddress: String?

    @Option(help: "A query for the workload's ready replicas over time, shown beside the replays (default: kube-state-metrics' ready replicas of the Deployment or StatefulSet).")
    var replicasQuery: String?

    @Option(help: "A query for the Deployment's desired replicas over time; with the ready ones it measures the pod start (default: kube-state-metrics' kube_deployment_spec_replicas for it).")
    var desiredReplicasQuery: String?

    @Option(help: "Where to write the SVG plot (default: backtest-<application>.svg).")
    var svg: String?

    func validate() throws {
        guard DurationText.parse(since) != nil else { throw ValidationError("--since '\(since)' is not a duration such as 6h") }
        guard let stepDuration = DurationText.parse(step), stepDuration >= .seconds(1) else {
            throw ValidationError("--step '\(step)' is not a duration of at least 1s")
        }
        if let strategy, ScalingStrategy(rawValue: strategy) == nil { throw ValidationError("--strategy must be HPA or Predictive, not '\(strategy)'") }
        if strategy == ScalingStrategy.forecast.rawValue {
            throw ValidationError("--strategy Forecast judges itself on its own backtest: apply it and read its ForecastConfident condition")
        }
        if let readyDelay, DurationText.parse(readyDelay) == nil { throw ValidationError("--ready-delay '\(readyDelay)' is not a duration such as 30s") }
        if let window = DurationText.parse(since), window / stepDuration > 20_000 {
            throw ValidationError("--since / --step is more than 20,000 decisions: use a longer step")
        }
    }

    func run() async throws {
        LogFormat.text.bootstrap(level: .error)
        var options = BacktestRun.Options()
        options.since = DurationText.parse(since)!
        options.step = DurationText.parse(step)!
        options.strategy = strategy.flatMap(ScalingStrategy.init(rawValue:))
        options.readyDelay = readyDelay.flatMap(DurationText.parse)
        options.prometheusAddress = prometheusAddress
        options.replicasQuery = replicasQuery
        options.desiredReplicasQuery = desiredReplicasQuery
        do {
            if let behavior { options.behavior = try BacktestRun.behavior(fromFile: behavior) }
            var connection = try KubeConfigLoader(kubeconfigPath: target.kubeconfig, context: target.context).load()
            connection.userAgent = "tide-scaler/0.1 backtest"
            let client = try KubeClient(connection: connection)
            let report: BacktestRun.Report
            do {
                report = try await BacktestRun(
                    client: client, namespace: target.namespace, name: target.application ?? target.autoscaler ?? "",
                    kind: target.autoscaler != nil ? .autoscaler : .application, options: options
                ).run()
            } catch {
                try? await client.shutdown()
                throw error
            }
            try? await client.shutdown()
            print(report.lines.joined(separator: "\n"))
            let path = svg ?? "backtest-\(target.application ?? target.autoscaler ?? "").svg"
            guard FileManager.default.createFile(atPath: path, contents: Data(report.svg.utf8)) else {
                ScaleCommand.fail(1, "cannot write \(path)")
            }
            print("plot: \(path)")
        } catch {
            ScaleCommand.fail(1, "backtest: \(error)")
        }
    }
}
