import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeProbes
import KubeRuntime
import StructuredLogging
import HelloService
import Logging
import TideMetricsAdapter
import TideCLI
import TideOperator

/// The operator's binary, also run as `tide-metrics-adapter`, `hello-service` and
/// `kubectl-tide` (the image links those names to it): one binary for the three servers keeps the image
/// small, as they share nearly all their code (NIO, TLS, the HTTP server, logging).
@main
enum TideOperatorMain {
    static func main() async {
        switch CommandLine.arguments.first.map({ FilePaths.lastComponent($0) }) {
        case "tide-metrics-adapter": await MetricsAdapterCommand.main()
        case "hello-service": await HelloServiceCommand.main()
        case "kubectl-tide": await KubectlTideCommand.main()
        default: await TideOperatorCommand.main()
        }
    }
}

/// `tide-operator`: reconciles Applications into Deployments, Services,
/// ServiceMonitors and scaler CronJobs.
struct TideOperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tide-operator", abstract: "The Tide operator: deploys and scales Applications.")

    @Option(help: "Path to a kubeconfig. Default: KUBECONFIG, in-cluster, then ~/.kube/config.")
    var kubeconfig: String?

    @Option(help: "Kubeconfig context to use.")
    var context: String?

    @Option(help: "Watch only this namespace (default: all namespaces).")
    var namespace: String?

    @Flag(help: "Run leader election so only one replica reconciles.")
    var leaderElect = false

    @Option(help: "Namespace of the leader-election Lease (default: the operator's own namespace).")
    var leaderElectionNamespace: String?

    @Option(help: "Name of the leader-election Lease.")
    var leaderElectionId = "tide-operator"

    @OptionGroup(title: "Metrics")
    var metrics: MetricsEndpointOptions

    @Option(help: "Address of /healthz and /readyz, host:port or :port; 0 disables.")
    var healthProbeBindAddress = ":8081"

    @Option(help: "Concurrent reconciles (each mostly waits on the API server).")
    var workers = 8

    @Option(help: "Seconds between full resyncs of every Application.")
    var resyncPeriod = 300

    @Option(help: "Image the scaler CronJobs run.")
    var scalerImage = OperatorSettings().scalerImage

    @Option(help: "Labels every generated ServiceMonitor carries, so a Prometheus' serviceMonitorSelector picks them, e.g. release=kube-prometheus-stack (comma-separated; an Application's spec.metrics.labels add to them).")
    var serviceMonitorLabels = ""

    @Option(help: "json or text.")
    var logFormat = "json"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be json or text, not '\(logFormat)'") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a level") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        _ = try Self.labels(serviceMonitorLabels)
        _ = try Self.address(healthProbeBindAddress, flag: "--health-probe-bind-address")
    }

    /// Parses `key=value,key=value` (Kubernetes label keys and values).
    static func labels(_ text: String) throws -> [String: String] {
        var labels: [String: String] = [:]
        for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { String($0.filter { !$0.isWhitespace }) }
            guard parts.count == 2, !parts[0].isEmpty, parts[1].count <= 63 else {
                throw ValidationError("--service-monitor-labels: '\(pair)' is not key=value")
            }
            labels[parts[0]] = parts[1]
        }
        return labels
    }

    /// Parses `host:port`, `:port` or `0` (disabled).
    static func address(_ text: String, flag: String) throws -> (host: String, port: Int)? {
        do {
            return try BindAddress.parse(text)
        } catch {
            throw ValidationError("\(flag) must be host:port, :port or 0, not '\(text)'")
        }
    }

    func run() async throws {
        LogFormat(rawValue: logFormat)!.bootstrap(level: Logger.Level(rawValue: logLevel)!)
        let logger = Logger(label: "tide.operator")
        let connection: ClusterConnection
        do {
            connection = try KubeConfigLoader(kubeconfigPath: kubeconfig, context: context).load()
        } catch {
            logger.critical("cannot load Kubernetes configuration", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        var withAgent = connection
        withAgent.userAgent = "tide-operator/0.1"
        let client = try KubeClient(connection: withAgent, logger: logger)
        var options = OperatorOptions()
        options.namespace = namespace
        options.workers = workers
        options.resyncPeriod = .seconds(max(1, resyncPeriod))
        options.settings.scalerImage = scalerImage
        options.settings.serviceMonitorLabels = try Self.labels(serviceMonitorLabels)
        options.metricsAddress = try metrics.address()
        do {
            options.metricsSecurity = try metrics.security(client: client, commonName: "tide-operator-metrics")
        } catch {
            logger.critical("cannot serve /metrics securely", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        options.healthProbeAddress = try Self.address(healthProbeBindAddress, flag: "--health-probe-bind-address")
        if leaderElect {
            let leaseNamespace = leaderElectionNamespace ?? connection.namespace
            options.leaderElection = .init(leaseName: leaderElectionId, namespace: leaseNamespace, identity: options.identity)
        }
        logger.info(
            "starting",
            metadata: [
                "cluster": "\(connection)", "namespace": "\(namespace ?? "all")", "workers": "\(workers)",
                "leaderElection": "\(leaderElect)", "scalerImage": "\(scalerImage)",
                "metrics": "\(metrics.metricsBindAddress) (\(metrics.metricsSecure ? "HTTPS, token and RBAC checked" : "plain HTTP, open"))",
            ])
        let tide = TideOperator(client: client, options: options, logger: logger)
        do {
            try await tide.run()
        } catch {
            logger.error("stopped", metadata: ["error": "\(error)"])
            try? await client.shutdown()
            throw ExitCode(1)
        }
        try await client.shutdown()
        logger.info("stopped")
    }
}
