import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a controller's services in the order a clean shutdown needs.
///
/// Start order: probe server, informers, then the controller (inside leader election
/// when an elector is given). On SIGTERM or SIGINT the order reverses: the controller
/// stops taking keys and finishes the reconciles in flight, the Lease is released,
/// the informers stop, and the probe server stops last — all within
/// `shutdownTimeout`, after which whatever is left is cancelled.
public struct Manager: Sendable {
    public let controller: Controller
    public let informers: [any ServiceLifecycle.Service]
    public let leaderElector: LeaderElector?
    /// Serves the probes (a `KubeProbes.ProbeServer`); first to start, last to stop.
    public let probeServer: (any ServiceLifecycle.Service)?
    public let shutdownTimeout: Duration
    let logger: Logger

    public init(
        controller: Controller, informers: [any ServiceLifecycle.Service], leaderElector: LeaderElector? = nil,
        probeServer: (any ServiceLifecycle.Service)? = nil, shutdownTimeout: Duration = .seconds(30), logger: Logger = Logger(label: "tide.manager")
    ) {
        self.controller = controller
        self.informers = informers
        self.leaderElector = leaderElector
        self.probeServer = probeServer
        self.shutdownTimeout = shutdownTimeout
        self.logger = logger
    }

    /// Whether `/readyz` should pass: caches synced and, with leader election, either
    /// leading or waiting as a healthy standby.
    public var isReady: Bool { controller.isReady || (leaderElector != nil && !(leaderElector!.isLeader)) }

    /// The service group, listening for `signals`.
    public func serviceGroup(signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let probeServer { services.append(.init(service: probeServer)) }
        for informer in informers { services.append(.init(service: informer)) }
        let work: any ServiceLifecycle.Service
        if let leaderElector {
            work = LeaderElectedService(elector: leaderElector, controller: controller)
        } else {
            work = controller
        }
        services.append(.init(service: work, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: signals, logger: logger)
        configuration.maximumGracefulShutdownDuration = shutdownTimeout
        return ServiceGroup(configuration: configuration)
    }

    /// Runs until a signal (or a fatal error such as lost leadership) ends it.
    public func run() async throws {
        try await serviceGroup().run()
    }
}

/// The controller, run only while its elector leads.
struct LeaderElectedService: ServiceLifecycle.Service {
    let elector: LeaderElector
    let controller: Controller

    func run() async throws {
        try await elector.run { try await controller.run() }
    }
}
