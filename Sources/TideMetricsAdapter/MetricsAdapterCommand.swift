import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import KubeProbes
import Logging
import StructuredLogging
import TideAPI

/// `tide-metrics-adapter`: serves Applications' metrics to HorizontalPodAutoscalers
/// as `external.metrics.k8s.io/v1beta1`, behind kube-apiserver's aggregator.
///
/// A command of this library so that it can also run from the operator's binary (the
/// image ships one binary under both names).
public struct MetricsAdapterCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tide-metrics-adapter",
        abstract: "Serves Tide Applications' metrics to native HPAs (external.metrics.k8s.io/v1beta1).")

    @Option(help: "Path to a kubeconfig. Default: KUBECONFIG, in-cluster, then ~/.kube/config.")
    var kubeconfig: String?

    @Option(help: "Kubeconfig context to use.")
    var context: String?

    @Option(help: "Address the HTTPS API listens on.")
    var bindAddress = "0.0.0.0"

    @Option(help: "Port of the HTTPS API.")
    var securePort = 6443

    @OptionGroup(title: "Metrics")
    var metrics: MetricsEndpointOptions

    @Option(help: "Address of /healthz and /readyz over plain HTTP, host:port or :port; 0 disables. (The HTTPS port answers them too.)")
    var healthProbeBindAddress = ":8081"

    @Option(help: "Serving certificate (PEM), e.g. tls.crt of a cert-manager Secret. Without it a certificate is minted at start.")
    var tlsCertFile: String?

    @Option(help: "Serving key (PEM), e.g. tls.key of a cert-manager Secret.")
    var tlsPrivateKeyFile: String?

    @Option(help: "The adapter's Service name (a minted certificate's name; the APIService must point at it).")
    var serviceName = "tide-metrics-adapter"

    @Option(help: "The adapter's namespace (default: POD_NAMESPACE, else tide-system).")
    var serviceNamespace: String?

    @Option(help: "APIService to publish a minted certificate's CA to; empty publishes nothing.")
    var apiService = "v1beta1.external.metrics.k8s.io"

    @Option(help: "Extra DNS name or IP address for a minted certificate (repeatable).")
    var certificateName: [String] = []

    @Option(help: "Lifetime of a minted serving certificate, e.g. 720h; it is renewed at two thirds of it without a restart.")
    var certificateLifetime = "720h"

    @Option(help: "How often certificate files and the front-proxy CA (kube-system/extension-apiserver-authentication) are re-read, e.g. 30s.")
    var certificateCheckInterval = "30s"

    @Option(help: "Seconds a metric's answer is reused.")
    var cacheSeconds = 5

    @Option(help: "json or text.")
    var logFormat = "json"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    public init() {}

    public func validate() throws {
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be json or text, not '\(logFormat)'") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a level") }
        guard (tlsCertFile == nil) == (tlsPrivateKeyFile == nil) else {
            throw ValidationError("--tls-cert-file and --tls-private-key-file go together")
        }
        guard (0...65_535).contains(securePort) else { throw ValidationError("--secure-port must be 0...65535") }
        guard let lifetime = DurationText.parse(certificateLifetime), lifetime >= .seconds(3) else {
            throw ValidationError("--certificate-lifetime must be a duration of at least 3s, such as 720h, not '\(certificateLifetime)'")
        }
        guard let check = DurationText.parse(certificateCheckInterval), check >= .milliseconds(100) else {
            throw ValidationError("--certificate-check-interval must be a duration such as 30s, not '\(certificateCheckInterval)'")
        }
        guard cacheSeconds >= 0 else { throw ValidationError("--cache-seconds must not be negative") }
        _ = try Self.address(healthProbeBindAddress)
        for name in certificateName where name.isEmpty { throw ValidationError("--certificate-name must not be empty") }
    }

    static func address(_ text: String) throws -> (host: String, port: Int)? {
        do {
            return try BindAddress.parse(text)
        } catch {
            throw ValidationError("--health-probe-bind-address must be host:port, :port or 0, not '\(text)'")
        }
    }

    /// `a.b.c.d` as 4 bytes, or `nil` for a DNS name.
    static func ipv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        guard parts.count == 4, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.map { $0! }
    }

    public func run() async throws {
        LogFormat(rawValue: logFormat)!.bootstrap(level: Logger.Level(rawValue: logLevel)!)
        let logger = Logger(label: "tide.metrics-adapter")
        var connection: ClusterConnection
        do {
            connection = try KubeConfigLoader(kubeconfigPath: kubeconfig, context: context).load()
        } catch {
            logger.critical("cannot load Kubernetes configuration", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        connection.userAgent = "tide-metrics-adapter/0.1"
        let client = try KubeClient(connection: connection, logger: logger)
        var options = MetricsAdapter.Options()
        options.host = bindAddress
        options.port = securePort
        options.healthProbeAddress = try Self.address(healthProbeBindAddress)
        options.metricsAddress = try metrics.address()
        do {
            options.metricsSecurity = try metrics.security(client: client, commonName: "tide-metrics-adapter-metrics")
        } catch {
            logger.critical("cannot serve /metrics securely", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        options.certificateFile = tlsCertFile
        options.keyFile = tlsPrivateKeyFile
        options.serviceName = serviceName
        options.serviceNamespace = serviceNamespace ?? ProcessInfo.processInfo.environment["POD_NAMESPACE"] ?? "tide-system"
        options.apiService = apiService.isEmpty ? nil : apiService
        options.extraNames = certificateName.filter { Self.ipv4($0) == nil }
        options.extraAddresses = certificateName.compactMap(Self.ipv4)
        options.cacheTTL = .seconds(cacheSeconds)
        options.certificateLifetime = DurationText.parse(certificateLifetime)!.inSeconds
        options.checkInterval = DurationText.parse(certificateCheckInterval)!
        do {
            try await MetricsAdapter(client: client, options: options, logger: logger).run()
        } catch {
            logger.error("stopped", metadata: ["error": "\(error)"])
            try? await client.shutdown()
            throw ExitCode(1)
        }
        try await client.shutdown()
    }
}
