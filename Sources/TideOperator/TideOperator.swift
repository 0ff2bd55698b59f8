#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import KubeProbes
import KubeRuntime
import KubeSupport
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import TideAPI

/// How an operator instance runs.
public struct OperatorOptions: Sendable {
    /// Watch one namespace; `nil` watches all.
    public var namespace: String?
    /// Concurrent reconciles. A reconcile mostly waits on the API server; against a
    /// real kube-apiserver on 2 cores, 8 converged a burst of 1,000 new Applications
    /// faster than 2 (26.5 s against 29.5 s) and 16 little faster again.
    public var workers = 8
    public var settings = OperatorSettings()
    /// Leader election; `nil` runs without it (one replica only).
    public var leaderElection: LeaderElector.Configuration?
    /// `host:port` for `/healthz` and `/readyz`; `nil` disables.
    public var healthProbeAddress: (host: String, port: Int)? = ("0.0.0.0", 8081)
    /// `host:port` for `/metrics`; `nil` disables.
    public var metricsAddress: (host: String, port: Int)? = ("0.0.0.0", 8443)
    /// How `/metrics` is served: the binary's default is HTTPS with every scrape's token
    /// reviewed (``MetricsServer/Security/secure(authorizer:certificate:refreshInterval:)``).
    public var metricsSecurity: MetricsServer.Security = .plain
    public var resyncPeriod: Duration = .seconds(300)
    public var serviceMonitorRecheck: Duration = .seconds(30)
    public var shutdownTimeout: Duration = .seconds(30)
    /// Identity for events and leader election (the pod name in a cluster).
    public var identity: String = ProcessInfo.processInfo.environment["POD_NAME"] ?? ProcessInfo.processInfo.hostName

    public init() {}
}

/// The Tide operator: informers for Applications and their children, the
/// Application controller, optional leader election, probes and metrics, assembled
/// into one ``Manager``.
public final class TideOperator: Sendable {
    public let client: KubeClient
    public let options: OperatorOptions
    public let controller: Controller
    public let reconciler: ApplicationReconciler
    public let registry: PrometheusCollectorRegistry
    public let serviceMonitors: ServiceMonitorDetector
    public let applications: Informer<Application>
    /// What the scalers decided, as `tide_…` series.
    public let decisions: DecisionMetrics
    public let manager: Manager
    /// The Events the reconciler records, sent in the background.
    public let events: EventQueue
    let boundPorts = LockedPorts()

    public init(client: KubeClient, options: OperatorOptions, logger: Logger = Logger(label: "tide.operator")) {
        self.client = client
        self.options = options
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        let applications = makeInformer(Application.self, client: client, namespace: options.namespace, selector: nil, logger: logger)
        self.applications = applications
        let decisions = DecisionMetrics(factory: PrometheusMetricsFactory(registry: registry))
        decisions.follow(applications)
        // Every Autoscaler: for its scaler children, its decision metrics, and, for an
        // Application's own, the Application's status.
        let tideAutoscalers = makeInformer(Autoscaler.self, client: client, namespace: options.namespace, selector: nil, logger: logger)
        decisions.follow(tideAutoscalers)
        self.decisions = decisions

        let serviceMonitors = ServiceMonitorDetector(client: client, interval: options.serviceMonitorRecheck, logger: logger)
        self.serviceMonitors = serviceMonitors
        let (children, deployments, autoscalers) = ChildKind.all(
            client: client, namespace: options.namespace, serviceMonitors: serviceMonitors, tideAutoscalers: tideAutoscalers, logger: logger)
        // Workers never wait for an Event: they are sent from a bounded queue.
        let events = EventQueue(
            recorder: EventRecorder(client: client, controller: "tide.dev/operator", instance: options.identity, logger: logger), logger: logger)
        self.events = events
        let reconciler = ApplicationReconciler(
            client: client, applications: applications.cache, deployments: deployments, autoscalers: autoscalers,
            tideAutoscalers: tideAutoscalers.cache, children: children,
            settings: options.settings, serviceMonitors: serviceMonitors, events: events, logger: logger)
        self.reconciler = reconciler
        applications.onUndecodable { object in
            Task { await reconciler.reportUndecodable(object) }
        }
        var configuration = Controller.Configuration(name: "application")
        configuration.workers = options.workers
        configuration.resyncPeriod = options.resyncPeriod
        let controller = Controller(
            configuration: configuration, reconciler: reconciler,
            metrics: ControllerMetrics(controller: "application", factory: PrometheusMetricsFactory(registry: registry)), logger: logger)
        controller.watches(applications)
        for child in children { child.register(controller) }
        self.controller = controller

        // Autoscalers: their scaler children, from the same child informers.
        var autoscalerConfiguration = Controller.Configuration(name: "autoscaler")
        autoscalerConfiguration.workers = max(1, options.workers / 4)
        autoscalerConfiguration.resyncPeriod = options.resyncPeriod
        let autoscalerController = Controller(
            configuration: autoscalerConfiguration,
            reconciler: AutoscalerReconciler(
                client: client, autoscalers: tideAutoscalers.cache, writer: reconciler.writer, settings: options.settings, events: events,
                logger: logger),
            metrics: ControllerMetrics(controller: "autoscaler", factory: PrometheusMetricsFactory(registry: registry)), logger: logger)
        autoscalerController.watches(tideAutoscalers)
        for child in children where AutoscalerChildren.kinds.contains(child.resource) {
            child.registerOwner(autoscalerController, Autoscaler.resource.apiVersion, Autoscaler.resource.kind)
        }

        let elector = options.leaderElection.map { LeaderElector(client: client, configuration: $0, logger: logger) }
        let ready: @Sendable () -> Bool = { [weak controller, elector] in
            guard let controller else { return false }
            return (controller.isReady && autoscalerController.isReady) || (elector != nil && !(elector!.isLeader) && applications.cache.hasSynced)
        }
        // The event queue stops after the controller (its last Events are sent) and
        // before the informers.
        // (The Autoscaler informer runs as a child kind's.)
        var background: [any ServiceLifecycle.Service] = [applications] + children.map(\.service) + [events]
        background.append(DiscoveryService(detector: serviceMonitors, applications: applications.cache, queue: controller.queue))
        // 1 on the replica that leads (or runs without election), 0 on a standby: no
        // replica at 1 for long means no scaler children are being managed.
        background.append(PolledGauge(
            "tide_operator_leader", help: "1 if this replica leads (or runs without leader election), else 0", registry: registry,
            value: { [elector] in elector.map { $0.isLeader ? 1 : 0 } ?? 1 }))
        let ports = boundPorts
        var probeServer: ProbeServer?
        if let address = options.healthProbeAddress {
            probeServer = ProbeServer(host: address.host, port: address.port, registry: nil, isReady: ready, onBound: { ports.set(health: $0) }, logger: logger)
        }
        if let address = options.metricsAddress {
            background.insert(
                MetricsServer(
                    host: address.host, port: address.port, registry: registry, security: options.metricsSecurity, onBound: { ports.set(metrics: $0) },
                    logger: logger),
                at: 0)
        }
        self.manager = Manager(
            controller: controller, otherControllers: [autoscalerController], informers: background, leaderElector: elector, probeServer: probeServer,
            shutdownTimeout: options.shutdownTimeout, logger: logger)
    }

    /// The ports the probe and metrics servers bound (useful with port 0).
    public var healthPort: Int? { boundPorts.health }
    public var metricsPort: Int? { boundPorts.metrics }

    /// Runs until SIGTERM/SIGINT (or lost leadership, which throws).
    public func run() async throws { try await manager.run() }
}

/// Re-checks discovery for the ServiceMonitor resource and requeues every
/// Application when it appears or disappears.
struct DiscoveryService: ServiceLifecycle.Service {
    let detector: ServiceMonitorDetector
    let applications: ObjectCache<Application>
    let queue: WorkQueue<ObjectKey>

    func run() async throws {
        _ = await detector.refresh()
        await cancelWhenGracefulShutdown {
            await detector.watch {
                for key in applications.keys { await queue.add(key) }
            }
        }
    }
}

final class LockedPorts: Sendable {
    private let ports = Mutex<(health: Int?, metrics: Int?)>((nil, nil))
    func set(health: Int) { ports.withLock { $0.health = health } }
    func set(metrics: Int) { ports.withLock { $0.metrics = metrics } }
    var health: Int? { ports.withLock { $0.health } }
    var metrics: Int? { ports.withLock { $0.metrics } }
}

import Synchronization
