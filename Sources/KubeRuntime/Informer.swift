import KubeAPI
import Logging
import ServiceLifecycle
import Synchronization

/// A ``Watcher`` feeding an ``ObjectCache``, with subscribers told of every change.
///
/// Run it as a service (``run()``); read from ``cache``.
public final class Informer<K: KubernetesObject>: ServiceLifecycle.Service, Sendable {
    public let cache = ObjectCache<K>()
    public let watcher: Watcher<K>
    private let handlers = Mutex<[@Sendable (CacheChange<K>) -> Void]>([])
    private let failures = Mutex(0)
    private let undecodableHandlers = Mutex<[@Sendable (UndecodableObject) -> Void]>([])
    let logger: Logger

    public init(_ watcher: Watcher<K>, logger: Logger = Logger(label: "tide.informer")) {
        self.watcher = watcher
        self.logger = logger
    }

    /// Registers a handler for objects that could not be decoded (they are logged and
    /// left out of the cache; the handler can tell the user, e.g. with an Event).
    public func onUndecodable(_ handler: @escaping @Sendable (UndecodableObject) -> Void) {
        undecodableHandlers.withLock { $0.append(handler) }
    }

    /// Registers a handler for every change. Register before ``run()`` starts so no
    /// change is missed; the initial list is reported as `applied` changes.
    public func subscribe(_ handler: @escaping @Sendable (CacheChange<K>) -> Void) {
        handlers.withLock { $0.append(handler) }
    }

    /// Watcher failures seen so far.
    public var failureCount: Int { failures.withLock { $0 } }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await event in self.watcher.events() {
                self.handle(event)
            }
        }
    }

    private func handle(_ event: WatcherEvent<K>) {
        if case .error = event { failures.withLock { $0 += 1 } }
        if case .undecodable(let object) = event {
            logger.warning(
                "skipping an object that cannot be decoded",
                metadata: ["resource": "\(watcher.source.resource)", "object": "\(object.key)", "reason": "\(object.reason)"])
            for handler in undecodableHandlers.withLock({ $0 }) { handler(object) }
        }
        let changes = cache.apply(event)
        guard !changes.isEmpty else { return }
        let current = handlers.withLock { $0 }
        for change in changes {
            for handler in current { handler(change) }
        }
    }
}
