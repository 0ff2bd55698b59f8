#if canImport(FoundationEssentials)
import KubeSupport
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import Logging
import ServiceLifecycle
import Synchronization

/// Why leading stopped.
public enum LeaderElectionError: Error, Sendable, CustomStringConvertible {
    /// The Lease could not be renewed within the renew deadline; the work was stopped.
    case leadershipLost(identity: String, lease: String)

    public var description: String {
        switch self {
        case .leadershipLost(let identity, let lease):
            return "\(identity) lost leadership of Lease \(lease): it could not be renewed in time"
        }
    }
}

/// Leader election on a `coordination.k8s.io/v1` Lease, after client-go's
/// `leaderelection`.
///
/// - A candidate takes the Lease when it is absent, released (no holder) or expired:
///   its record has not changed for `leaseDuration` as observed on the candidate's own
///   clock (so clock skew between machines does not matter).
/// - Writes are optimistic: an update carries the Lease's resourceVersion, so of two
///   candidates racing only one wins (the other gets 409).
/// - The leader renews every `retryPeriod`; if no renewal succeeds for
///   `renewDeadline`, it stops its work at once and ``run(_:)`` throws
///   ``LeaderElectionError/leadershipLost(identity:lease:)``.
/// - On graceful shutdown the leader lets its work drain (the work sees the same
///   graceful shutdown), then releases the Lease so a successor takes over without
///   waiting for expiry.
public final class LeaderElector: Sendable {
    public struct Configuration: Sendable {
        public var leaseName: String
        public var namespace: String
        public var identity: String
        public var leaseDuration: Duration = .seconds(15)
        public var renewDeadline: Duration = .seconds(10)
        public var retryPeriod: Duration = .seconds(2)
        /// How long releasing the Lease on shutdown may take; after it the Lease is left
        /// to expire.
        public var releaseDeadline: Duration = .seconds(3)

        public init(leaseName: String, namespace: String, identity: String) {
            self.leaseName = leaseName
            self.namespace = namespace
            self.identity = identity
        }
    }

    public let configuration: Configuration
    let leases: ResourceClient<Lease, SingleScope>
    let clock: any RuntimeClock
    let logger: Logger
    private let observed = Mutex<(spec: Lease.Spec?, resourceVersion: String?, at: Duration)?>(nil)
    private let leading = Mutex(false)

    public init(client: KubeClient, configuration: Configuration, clock: any RuntimeClock = SystemClock(), logger: Logger = Logger(label: "tide.leader-election")) {
        self.configuration = configuration
        self.leases = client.namespaced(Lease.self, in: configuration.namespace)
        self.clock = clock
        self.logger = logger
    }

    /// Whether this candidate holds the Lease now.
    public var isLeader: Bool { leading.withLock { $0 } }

    /// Waits for leadership, runs `work` while leading, and returns after a graceful
    /// shutdown (having released the Lease). Throws if leadership is lost.
    public func run(_ work: @escaping @Sendable () async throws -> Void) async throws {
        // Acquire.
        // A standby stopped while waiting ends here: its sleep is cancelled, nothing was
        // written, and that is a clean stop, not an error.
        let acquired = await cancelWhenGracefulShutdown { () async -> Bool in
            while !Task.isCancelled {
                if await self.tryAcquireOrRenew() { return true }
                do { try await self.clock.sleep(for: self.configuration.retryPeriod) } catch { return false }
            }
            return false
        }
        guard acquired, !Task.isShuttingDownGracefully else { return }
        leading.withLock { $0 = true }
        logger.info("became leader", metadata: ["lease": "\(configuration.namespace)/\(configuration.leaseName)", "identity": "\(configuration.identity)"])

        let outcome: LeaderElectorOutcome = await withTaskGroup(of: LeaderElectorOutcome.self) { group in
            group.addTask { () -> LeaderElectorOutcome in
                do { try await work() } catch { self.logger.error("work stopped with an error", metadata: ["error": "\(error)"]) }
                return .workEnded
            }
            group.addTask {
                (try? await cancelWhenGracefulShutdown { try await self.renewLoop() }) ?? .shutdown
            }
            let first = await group.next() ?? .shutdown
            switch first {
            case .lost, .workEnded:
                // Lost: stop the work at once. Work ended: stop renewing.
                group.cancelAll()
            case .shutdown:
                // The work observes the graceful shutdown itself and drains.
                break
            }
            await group.waitForAll()
            return first == .workEnded && Task.isShuttingDownGracefully ? .shutdown : first
        }
        leading.withLock { $0 = false }
        switch outcome {
        case .lost:
            logger.error("leadership lost; work stopped", metadata: ["identity": "\(configuration.identity)"])
            throw LeaderElectionError.leadershipLost(identity: configuration.identity, lease: "\(configuration.namespace)/\(configuration.leaseName)")
        case .shutdown, .workEnded:
            await releaseDetached()
        }
    }

    /// Releases the Lease in a task of its own, bounded by ``Configuration/releaseDeadline``.
    ///
    /// The task running ``run(_:)`` may already be cancelled (the service group's
    /// shutdown timer, a parent's cancellation): a request made in it would fail at
    /// once, and the successor would wait out the whole lease. An unstructured task does
    /// not inherit that cancellation; awaiting its value waits for it, at most the deadline.
    func releaseDetached() async {
        let deadline = configuration.releaseDeadline
        await Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.release() }
                group.addTask {
                    try? await Task.sleep(for: deadline)
                }
                await group.next()
                group.cancelAll()
            }
        }.value
    }

    /// Renews until a renewal misses the deadline (returns `.lost`), or cancellation.
    private func renewLoop() async throws -> LeaderElectorOutcome {
        var lastRenew = clock.now
        while true {
            try await clock.sleep(for: configuration.retryPeriod)
            if await tryAcquireOrRenew() {
                lastRenew = clock.now
            } else if clock.now - lastRenew >= configuration.renewDeadline {
                return .lost
            }
        }
    }

    /// One attempt to take or keep the Lease. Never throws: failures count as "no".
    func tryAcquireOrRenew() async -> Bool {
        let now = clock.now
        let identity = configuration.identity
        let duration = Int32(configuration.leaseDuration.components.seconds)
        do {
            guard var lease = try await leases.getIfPresent(configuration.leaseName) else {
                let spec = Lease.Spec(
                    holderIdentity: identity, leaseDurationSeconds: duration, acquireTime: .now, renewTime: .now, leaseTransitions: 0)
                let created = try await leases.create(Lease(metadata: ObjectMeta(name: configuration.leaseName), spec: spec))
                remember(created, at: now)
                return true
            }
            let spec = lease.spec ?? Lease.Spec()
            let previous = observed.withLock { $0 }
            if previous?.resourceVersion != lease.metadata.resourceVersion { remember(lease, at: now) }
            let observedAt = observed.withLock { $0?.at } ?? now
            let holder = spec.holderIdentity ?? ""
            let leaseLength = Duration.seconds(Int(spec.leaseDurationSeconds ?? duration))
            if !holder.isEmpty, holder != identity, now - observedAt < leaseLength {
                return false
            }
            var next = spec
            if holder != identity {
                next.acquireTime = .now
                next.leaseTransitions = (spec.leaseTransitions ?? 0) + 1
            }
            next.holderIdentity = identity
            next.leaseDurationSeconds = duration
            next.renewTime = .now
            lease.spec = next
            let updated = try await leases.update(lease)
            remember(updated, at: now)
            return true
        } catch {
            logger.debug("lease attempt failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func remember(_ lease: Lease, at time: Duration) {
        observed.withLock { $0 = (lease.spec, lease.metadata.resourceVersion, time) }
    }

    /// Gives the Lease up if this candidate still holds it.
    func release() async {
        do {
            guard var lease = try await leases.getIfPresent(configuration.leaseName),
                lease.spec?.holderIdentity == configuration.identity
            else { return }
            lease.spec?.holderIdentity = nil
            lease.spec?.leaseDurationSeconds = 1
            lease.spec?.renewTime = .now
            _ = try await leases.update(lease)
            logger.info("released the lease", metadata: ["identity": "\(configuration.identity)"])
        } catch {
            logger.warning("could not release the lease", metadata: ["error": "\(error)"])
        }
    }
}

enum LeaderElectorOutcome: Sendable { case workEnded, lost, shutdown }
