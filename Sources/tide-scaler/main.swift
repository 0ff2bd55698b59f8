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

/// `tide-scaler`: one scaling decision for one Application (CronJob mode), or a loop
/// (Continuous mode). Exit codes: 0 decided, 2 metric unavailable, 3 Application
/// missing or invalid, 1 anything else — each with one line on stderr.
@main
struct TideScalerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tide-scaler", abstract: "Scales a Tide Application from a Prometheus query.")

    @Option(help: "Namespace of the Application.")
    var namespace: String

    @Option(help: "Name of the Application.")
    var application: String

    @Option(help: "Path to a kubeconfig. Default: KUBECONFIG, in-cluster, then ~/.kube/config.")
    var kubeconfig: String?

    @Option(help: "Kubeconfig context to use.")
    var context: String?

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
            connection = try KubeConfigLoader(kubeconfigPath: kubeconfig, context: context).load()
        } catch {
            Self.fail(1, "cannot load Kubernetes configuration: \(error)")
        }
        connection.userAgent = "tide-scaler/0.1"
        let client = try KubeClient(connection: connection, logger: logger)
        let scaler = Scaler(
            client: client, namespace: namespace, name: application, dryRun: dryRun, credentialsDirectory: credentialsDir, logger: logger)

        guard let interval = interval.flatMap(DurationText.parse) else {
            let outcome = await scaler.runOnce()
            try? await client.shutdown()
            Self.fail(exitZeroWhenRecorded && outcome.isRecorded ? 0 : outcome.exitCode, outcome.line)
        }
        // Continuous: decide every interval until SIGTERM or SIGINT.
        let loop = Task {
            while !Task.isCancelled {
                let outcome = await scaler.runOnce()
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
