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

    public init(_ watcher: Watcher<K>) {
        self.watcher = watcher
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
        try await cancelWhenGracefulShutdown {
            for await event in self.watcher.events() {
                self.handle(event)
            }
        }
    }

    private func handle(_ event: WatcherEvent<K>) {
        if case .error = event { failures.withLock { $0 += 1 } }
        let changes = cache.apply(event)
        guard !changes.isEmpty else { return }
        let current = handlers.withLock { $0 }
        for change in changes {
            for handler in current { handler(change) }
        }
    }
}
