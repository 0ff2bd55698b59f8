import Logging
import ServiceLifecycle
import UnixSignals

/// Runs controllers' services in the order a clean shutdown needs.
///
/// Start order: probe server, informers, then the controllers (together, inside leader
/// election when an elector is given). On SIGTERM or SIGINT the order reverses: the controller
/// stops taking keys and finishes the reconciles in flight, the Lease is released,
/// the informers stop, and the probe server stops last — all within
/// `shutdownTimeout`, after which whatever is left is cancelled.
public struct Manager: Sendable {
    public let controller: Controller
    /// Controllers run beside ``controller``, under the same leadership.
    public let otherControllers: [Controller]
    public let informers: [any ServiceLifecycle.Service]
    public let leaderElector: LeaderElector?
    /// Serves the probes (a `KubeProbes.ProbeServer`); first to start, last to stop.
    public let probeServer: (any ServiceLifecycle.Service)?
    public let shutdownTimeout: Duration
    let logger: Logger

    public init(
        controller: Controller, otherControllers: [Controller] = [], informers: [any ServiceLifecycle.Service], leaderElector: LeaderElector? = nil,
        probeServer: (any ServiceLifecycle.Service)? = nil, shutdownTimeout: Duration = .seconds(30), logger: Logger = Logger(label: "tide.manager")
    ) {
        self.controller = controller
        self.otherControllers = otherControllers
        self.informers = informers
        self.leaderElector = leaderElector
        self.probeServer = probeServer
        self.shutdownTimeout = shutdownTimeout
        self.logger = logger
    }

    /// Whether `/readyz` should pass: caches synced and, with leader election, either
    /// leading or waiting as a healthy standby.
    public var isReady: Bool {
        ([controller] + otherControllers).allSatisfy(\.isReady) || (leaderElector != nil && !(leaderElector!.isLeader))
    }

    /// The service group, listening for `signals`.
    public func serviceGroup(signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let probeServer { services.append(.init(service: probeServer)) }
        for informer in informers { services.append(.init(service: informer)) }
        let controllers = Controllers(all: [controller] + otherControllers)
        let work: any ServiceLifecycle.Service
        if let leaderElector {
            work = LeaderElectedService(elector: leaderElector, controllers: controllers)
        } else {
            work = controllers
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

/// The controllers, run only while their elector leads.
struct LeaderElectedService: ServiceLifecycle.Service {
    let elector: LeaderElector
    let controllers: Controllers

    func run() async throws {
        try await elector.run { try await controllers.run() }
    }
}

/// Several controllers as one service: each runs until the graceful shutdown (which
/// each follows itself); one failing ends them all.
struct Controllers: ServiceLifecycle.Service {
    let all: [Controller]

    func run() async throws {
        if all.count == 1 { return try await all[0].run() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for controller in all { group.addTask { try await controller.run() } }
            do {
                try await group.waitForAll()
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}
