import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import KubeAPI
import KubeClient
import TideAPI
import TideScaler

/// `kubectl tide`: kubectl finds the executable `kubectl-tide` on PATH as the plugin
/// `tide`. A command of this library so the image's one binary can run it too.
public struct KubectlTideCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "kubectl tide", abstract: "Tide's scaled Applications and Autoscalers: what they did and why.",
        subcommands: [ListCommand.self, WhyCommand.self, ReportCommand.self, BacktestCommand.self])
}

/// The flags every command takes, in kubectl's manner.
struct CLIConnection: ParsableArguments {
    @Option(name: [.short, .customLong("namespace")], help: "Namespace (default: the context's, else default).")
    var namespace: String?

    @Option(help: "Path to a kubeconfig. Default: KUBECONFIG, then ~/.kube/config.")
    var kubeconfig: String?

    @Option(help: "Kubeconfig context to use.")
    var context: String?

    /// A client, and the namespace to use.
    func client() throws -> (KubeClient, String) {
        do {
            var connection = try KubeConfigLoader(kubeconfigPath: kubeconfig, context: context).load()
            connection.userAgent = "kubectl-tide/0.1"
            return (try KubeClient(connection: connection), namespace ?? connection.namespace)
        } catch {
            throw CLIStop("cannot load Kubernetes configuration: \(error)")
        }
    }
}

/// A failure printed as one line on stderr, exit 1.
struct CLIStop: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a client; every failure is one line and exit 1.
func withClient(_ connection: CLIConnection, _ body: (TideCLI, String) async throws -> Void) async throws {
    let client: KubeClient
    let namespace: String
    do {
        (client, namespace) = try connection.client()
    } catch {
        fail("\(error)")
    }
    do {
        try await body(TideCLI(client: client), namespace)
        try? await client.shutdown()
    } catch {
        try? await client.shutdown()
        fail("\(error)")
    }
}

/// Writes `text` to standard error.
func standardError(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func fail(_ line: String) -> Never {
    standardError("error: \(line)\n")
    exit(1)
}

enum CLIOutput: String, ExpressibleByArgument {
    case table, json, yaml
}

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",abstract: "Every scaled Application and Autoscaler: target, mode, replicas, desired, metric, health.")

    @OptionGroup var connection: CLIConnection

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "All namespaces.")
    var allNamespaces = false

    @Option(name: [.short, .customLong("output")], help: "table, json or yaml.")
    var output: CLIOutput = .table

    func run() async throws {
        try await withClient(connection) { cli, namespace in
            let rows = try await cli.list(namespace: allNamespaces ? nil : namespace)
            switch output {
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            case .yaml:
                print(YAMLText.render(try JSONValue(encoding: rows)), terminator: "")
            case .table:
                if rows.isEmpty {
                    standardError("No scaled Applications or Autoscalers found in \(allNamespaces ? "any namespace" : "\(namespace) namespace").\n")
                    return
                }
                let header = (allNamespaces ? ["NAMESPACE"] : []) + ["KIND", "NAME", "TARGET", "MODE", "REPLICAS", "DESIRED", "METRIC", "HEALTH"]
                let cells = rows.map { row in
                    (allNamespaces ? [row.namespace] : []) + [row.kind, row.name, row.target, row.mode, row.replicas, row.desired, row.metric, row.health]
                }
                for line in TideCLI.table(header, cells) { print(line) }
            }
        }
    }
}

struct WhyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "why",abstract: "Why NAME has the replicas it has: the last decision, its readings, limits and reasons, and the events, newest first.")

    @OptionGroup var connection: CLIConnection

    @Argument(help: "An Application with spec.scaling, or an Autoscaler.")
    var name: String

    func run() async throws {
        try await withClient(connection) { cli, namespace in
            for line in try await cli.why(name, namespace: namespace) { print(line) }
        }
    }
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",abstract: "An observing Autoscaler's figures: what Tide would have had beside what the target had.")

    @OptionGroup var connection: CLIConnection

    @Argument(help: "An Autoscaler with observe: true.")
    var name: String

    func run() async throws {
        try await withClient(connection) { cli, namespace in
            for line in try await cli.report(name, namespace: namespace) { print(line) }
        }
    }
}

struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",abstract: "NAME's metric history replayed through its scaling spec and a proposed strategy (as tide-scaler backtest).")

    @OptionGroup var connection: CLIConnection

    @Argument(help: "An Application with spec.scaling, or an Autoscaler (--autoscaler).")
    var name: String

    @Flag(help: "NAME is an Autoscaler.")
    var autoscaler = false

    @Option(help: "How far back, e.g. 6h.")
    var since = "6h"

    @Option(help: "Time between decisions in the replay, e.g. 15s.")
    var step = "15s"

    @Option(help: "The proposal's strategy: HPA or Predictive.")
    var strategy: String?

    @Option(help: "Prometheus to query instead of the metrics' own (e.g. through a port-forward).")
    var prometheusAddress: String?

    func run() async throws {
        guard let since = DurationText.parse(since), let step = DurationText.parse(step) else { fail("--since and --step take durations such as 6h and 15s") }
        var options = BacktestRun.Options()
        options.since = since
        options.step = step
        options.prometheusAddress = prometheusAddress
        if let strategy {
            guard let parsed = ScalingStrategy(rawValue: strategy), parsed != .forecast else { fail("--strategy must be HPA or Predictive") }
            options.strategy = parsed
        }
        try await withClient(connection) { cli, namespace in
            let report = try await BacktestRun(client: cli.client, namespace: namespace, name: name, kind: autoscaler ? .autoscaler : .application, options: options).run()
            for line in report.lines { print(line) }
        }
    }
}
