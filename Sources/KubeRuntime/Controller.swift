import KubeSupport
import KubeAPI
import Logging
import ServiceLifecycle
import Synchronization

/// What a reconcile asks for next.
public enum ReconcileResult: Sendable, Hashable {
    /// The object is as desired; run again only when something changes.
    case done
    /// Run again after this long (zero: as soon as possible, without counting a failure).
    case requeue(after: Duration)
}

/// The level-triggered logic of a controller: bring the object named by `key` to its
/// desired state, reading from caches, and say what should happen next. Throwing
/// retries the key with per-key exponential backoff.
public protocol Reconciler: Sendable {
    func reconcile(_ key: ObjectKey) async throws -> ReconcileResult
}

/// Runs a ``Reconciler`` over a ``WorkQueue`` with N workers.
///
/// Guarantees:
/// - no reconcile starts before every watched cache has synced;
/// - a key is reconciled by one worker at a time, and again if it changed meanwhile;
/// - changes to owned children enqueue their controller owner;
/// - every primary key is enqueued again each `resyncPeriod`;
/// - on graceful shutdown, no new key is taken and running reconciles finish.
public final class Controller: ServiceLifecycle.Service, Sendable {
    public struct Configuration: Sendable {
        public var name: String
        public var workers: Int = 2
        /// Periodic re-enqueue of every primary object; `nil` disables it.
        public var resyncPeriod: Duration? = .seconds(300)
        public init(name: String) { self.name = name }
    }

    public let configuration: Configuration
    public let queue: WorkQueue<ObjectKey>
    let reconciler: any Reconciler
    let logger: Logger
    let metrics: ControllerMetrics?
    let clock: any RuntimeClock
    private let syncWaits = Mutex<[@Sendable () async -> Void]>([])
    private let primaryKeys = Mutex<(@Sendable () -> [ObjectKey])?>(nil)
    private let ready = Mutex(false)

    public init(
        configuration: Configuration, reconciler: any Reconciler, clock: any RuntimeClock = SystemClock(),
        rateLimit: RateLimit = RateLimit(), metrics: ControllerMetrics? = nil, logger: Logger = Logger(label: "tide.controller")
    ) {
        self.configuration = configuration
        self.reconciler = reconciler
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
        self.queue = WorkQueue(clock: clock, rateLimit: rateLimit, observer: metrics)
    }

    /// Whether caches have synced and workers run (for `/readyz`).
    public var isReady: Bool { ready.withLock { $0 } }

    /// Reconciles each object of `informer` by its own key.
    public func watches<K: KubernetesObject>(_ informer: Informer<K>) {
        let queue = self.queue
        informer.subscribe { change in
            switch change {
            case .applied(let object), .deleted(let object):
                let key = ObjectKey(object)
                Task { await queue.add(key) }
            }
        }
        let cache = informer.cache
        syncWaits.withLock { $0.append { await cache.waitUntilSynced() } }
        primaryKeys.withLock { $0 = { cache.keys } }
    }

    /// Reconciles the controller owner (of `ownerKind` in `ownerAPIVersion`) of each
    /// object of `informer` that changes.
    ///
    /// - Parameter requireSync: whether the controller waits for this cache before it
    ///   starts (false for a resource that may not be served yet, such as a CRD that
    ///   is installed later).
    public func owns<K: KubernetesObject>(_ informer: Informer<K>, ownerAPIVersion: String, ownerKind: String, requireSync: Bool = true) {
        let queue = self.queue
        informer.subscribe { change in
            let object: K
            switch change {
            case .applied(let changed), .deleted(let changed): object = changed
            }
            guard let owner = object.metadata.controllerReference, owner.kind == ownerKind,
                owner.apiVersion.split(separator: "/").first == ownerAPIVersion.split(separator: "/").first
            else { return }
            let key = ObjectKey(namespace: object.metadata.namespace, name: owner.name)
            Task { await queue.add(key) }
        }
        guard requireSync else { return }
        let cache = informer.cache
        syncWaits.withLock { $0.append { await cache.waitUntilSynced() } }
    }

    /// Waits for caches, then runs workers until graceful shutdown or cancellation.
    public func run() async throws {
        let waits = syncWaits.withLock { $0 }
        await cancelWhenGracefulShutdown {
            for wait in waits { await wait() }
        }
        if Task.isCancelled || Task.isShuttingDownGracefully { return }
        ready.withLock { $0 = true }
        logger.info("caches synced; starting workers", metadata: ["controller": "\(configuration.name)", "workers": "\(configuration.workers)"])
        let queue = self.queue
        var resync: Task<Void, Never>?
        if let period = configuration.resyncPeriod, let keys = primaryKeys.withLock({ $0 }) {
            let clock = self.clock
            resync = Task {
                while !Task.isCancelled {
                    do { try await clock.sleep(for: period) } catch { return }
                    for key in keys() { await queue.add(key) }
                }
            }
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                // Workers end when the queue shuts down, each after finishing its key.
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<max(1, configuration.workers) {
                        group.addTask { await self.work() }
                    }
                    await group.waitForAll()
                }
            } onGracefulShutdown: {
                Task { await queue.shutDown() }
            }
        } onCancel: {
            Task { await queue.shutDown() }
        }
        resync?.cancel()
        await queue.shutDown()
        ready.withLock { $0 = false }
        logger.info("controller stopped", metadata: ["controller": "\(configuration.name)"])
    }

    /// Stops handing out keys; running reconciles finish, then ``run()`` returns.
    public func shutDown() async { await queue.shutDown() }

    private func work() async {
        while let key = await queue.next() {
            let started = clock.now
            var result: ReconcileResult?
            do {
                result = try await reconciler.reconcile(key)
            } catch {
                logger.error("reconcile failed", metadata: ["controller": "\(configuration.name)", "key": "\(key)", "error": "\(error)"])
            }
            metrics?.reconciled(result, duration: clock.now - started)
            switch result {
            case .done?:
                await queue.forget(key)
            case .requeue(let after)?:
                await queue.forget(key)
                await queue.add(key, after: after)
            case nil:
                await queue.addRateLimited(key)
            }
            await queue.done(key)
        }
    }
}
