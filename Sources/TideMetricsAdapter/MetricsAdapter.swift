#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeAPIExtensions
import KubeClient
import KubeProbes
import KubeSupport
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `tide-metrics-adapter` as a whole: reads the cluster's front-proxy settings, gets
/// its serving certificate, and serves ``ExternalMetricsAPI`` over HTTPS, its own
/// `/metrics` with ``MetricsServer`` and the probes over plain HTTP, until SIGTERM.
public struct MetricsAdapter: Sendable {
    public struct Options: Sendable {
        public var host = "0.0.0.0"
        public var port = 6443
        /// `/healthz`, `/readyz` over plain HTTP; `nil` disables.
        public var healthProbeAddress: (host: String, port: Int)? = ("0.0.0.0", 8081)
        /// `/metrics`; `nil` disables.
        public var metricsAddress: (host: String, port: Int)? = ("0.0.0.0", 8443)
        /// How `/metrics` is served (the binary's default: HTTPS, scrapes reviewed).
        public var metricsSecurity: MetricsServer.Security = .plain
        /// PEM files of the serving certificate and key; `nil` mints one at start.
        public var certificateFile: String?
        public var keyFile: String?
        /// The adapter's Service, for a minted certificate's names and the APIService check.
        public var serviceName = "tide-metrics-adapter"
        public var serviceNamespace = "tide-system"
        /// The APIService to publish a minted certificate's CA to; `nil` publishes nothing.
        public var apiService: String? = "v1beta1.external.metrics.k8s.io"
        /// The `custom.metrics.k8s.io` APIServices, published to when they name this
        /// adapter's Service; one another server (prometheus-adapter) holds is left to it,
        /// with a warning and an Event on it.
        public var customAPIServices: [String] = ["v1beta2.custom.metrics.k8s.io", "v1beta1.custom.metrics.k8s.io"]
        /// Extra names and addresses for a minted certificate (tests dial an address).
        public var extraNames: [String] = []
        public var extraAddresses: [[UInt8]] = []
        public var cacheTTL: Duration = .seconds(5)
        /// Lifetime of a minted serving certificate; renewed at two thirds of it.
        public var certificateLifetime: TimeInterval = 30 * 86_400
        /// How often certificate files and the front-proxy settings are looked at.
        public var checkInterval: Duration = .seconds(30)
        /// Signals that stop the adapter gracefully (none when embedded in a test).
        public var shutdownSignals: [UnixSignal] = [.sigterm, .sigint]

        public init() {}
    }

    public let client: KubeClient
    public let options: Options
    let logger: Logger

    public init(client: KubeClient, options: Options, logger: Logger = Logger(label: "tide.metrics-adapter")) {
        self.client = client
        self.options = options
        self.logger = logger
    }

    /// Reads the front-proxy settings kube-apiserver publishes.
    public static func authenticator(_ client: KubeClient) async throws -> RequestHeaderAuthenticator {
        let configMap = try await client.namespaced(ConfigMap.self, in: RequestHeaderAuthenticator.configMapNamespace)
            .get(RequestHeaderAuthenticator.configMapName)
        return try RequestHeaderAuthenticator(configMap: configMap.data ?? [:])
    }

    /// Runs until cancelled or SIGTERM/SIGINT. `onBound` receives the HTTPS port.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let authenticator = try await Self.authenticator(client)
        let identity: MetricsAdapterServer.ServingIdentity
        let source: CertificateRotation.Source
        if let certificateFile = options.certificateFile, let keyFile = options.keyFile {
            identity = try ServingCertificate.load(certificateFile: certificateFile, keyFile: keyFile)
            source = .files(certificate: certificateFile, key: keyFile)
            logger.info("serving with the certificate from files", metadata: ["certificate": "\(certificateFile)"])
        } else {
            var minter = ServingCertificate.Minter(service: options.serviceName, namespace: options.serviceNamespace)
            minter.extraNames = options.extraNames
            minter.extraAddresses = options.extraAddresses
            minter.lifetime = options.certificateLifetime
            minter.apiService = options.apiService
            minter.optionalAPIServices = options.customAPIServices
            let events = EventRecorder(client: client, controller: "tide.dev/metrics-adapter", instance: options.serviceName, logger: logger)
            let logger = self.logger
            let reported = Mutex<Set<String>>([])
            minter.onSkipped = { name, error in
                // Said once per APIService, not at every look.
                guard reported.withLock({ $0.insert(name).inserted }) else { return }
                guard case ServingCertificate.Failure.heldByAnother = error else {
                    logger.info(
                        "not serving \(name) through the aggregator (apply config/custom-metrics to)", metadata: ["apiService": "\(name)", "why": "\(error)"])
                    return
                }
                logger.warning(
                    "not serving \(name) through the aggregator; custom metrics are served only to direct clients",
                    metadata: ["apiService": "\(name)", "why": "\(error)"])
                let regarding = ObjectReference(apiVersion: "apiregistration.k8s.io/v1", kind: "APIService", name: name)
                Task { await events.record(regarding: regarding, type: "Warning", reason: "HeldByAnotherServer", action: "Publish", note: "\(error)") }
            }
            let minted = try await minter.mint(client: client, previousCA: nil)
            if let apiService = options.apiService {
                logger.info("published the serving certificate's CA", metadata: ["apiService": "\(apiService)"])
            }
            identity = minted.identity
            source = .minted(minter, caPEM: minted.caPEM)
        }
        let material = try TLSMaterial(identity: identity, authenticator: authenticator)
        // Look often enough that a renewal at two thirds of the lifetime is never late by
        // more than a tenth of it.
        let lifetime = Duration.milliseconds(Int64(options.certificateLifetime * 1_000))
        let rotation = CertificateRotation(
            material: material, source: source, client: client, checkInterval: min(options.checkInterval, lifetime / 10), logger: logger)

        let registry = PrometheusCollectorRegistry()
        let requests = RequestMetrics(registry: registry)
        let reviewer = AccessReviewer(client: client)
        let api = ExternalMetricsAPI(backend: .cluster(client, reviewer: reviewer), cacheTTL: options.cacheTTL)
        let custom = CustomMetricsAPI(backend: .cluster(client, reviewer: reviewer), cacheTTL: options.cacheTTL)
        let ready = ReadyFlag()
        let server = MetricsAdapterServer(
            host: options.host, port: options.port, material: material, api: api, custom: custom,
            onRequest: { kind, status, seconds in requests.record(kind: kind, status: status, seconds: seconds) },
            onBound: { port in
                ready.set()
                onBound(port)
            }, logger: logger)
        var services: [any ServiceLifecycle.Service] = [
            server, rotation,
            PolledGauge(
                "tide_adapter_certificate_expiry_timestamp_seconds", help: "When the serving certificate in use expires (Unix seconds)",
                registry: registry, interval: .seconds(30), value: { material.notValidAfter }),
        ]
        if let address = options.healthProbeAddress {
            services.append(ProbeServer(host: address.host, port: address.port, registry: nil, isReady: { ready.isSet }, logger: logger))
        }
        if let address = options.metricsAddress {
            services.append(MetricsServer(host: address.host, port: address.port, registry: registry, security: options.metricsSecurity, logger: logger))
        }
        logger.info("serving \(ExternalMetricsAPI.groupVersion)", metadata: ["address": "\(options.host):\(options.port)"])
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: options.shutdownSignals, logger: logger))
        try await group.run()
    }
}

/// Request counts and latency by kind and status code.
struct RequestMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    func record(kind: String, status: Int, seconds: Double) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "tide", subsystem: "metrics_adapter", metricName: "requests", unitName: "total",
                helpText: "Requests the metrics adapter answered, by kind (metric, discovery, probe, other) and status code."),
            labels: [("kind", kind), ("code", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "tide", subsystem: "metrics_adapter", metricName: "request_duration", unitName: "seconds",
                helpText: "Time to answer a request, by kind."),
            labels: [("kind", kind)],
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10)]
        ).recordNanoseconds(Int64(seconds * 1e9))
    }
}

/// Set once the HTTPS server listens.
final class ReadyFlag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var isSet: Bool { state.withLock { $0 } }
}
