import KubeSupport
import KubeAPI
import KubeClient
import Logging

/// The list and watch calls a ``Watcher`` makes, taken from any resource handle.
public struct ListWatch<K: KubernetesObject>: Sendable {
    public let resource: ResourceDescriptor
    let list: @Sendable (_ labelSelector: String?, _ pageSize: Int) async throws -> ObjectList<K>
    let watch: @Sendable (_ resourceVersion: String, _ labelSelector: String?, _ timeoutSeconds: Int) async throws
        -> AsyncThrowingStream<WatchEvent<K>, any Error>

    public init<Scope>(_ client: ResourceClient<K, Scope>) {
        resource = client.resource
        list = { selector, pageSize in try await client.listAll(labelSelector: selector, pageSize: pageSize) }
        watch = { rv, selector, timeout in
            try await client.watch(resourceVersion: rv, labelSelector: selector, timeoutSeconds: timeout, allowBookmarks: true)
        }
    }
}

/// What a ``Watcher`` reports.
public enum WatcherEvent<K: Sendable>: Sendable {
    /// A (re-)list begins; the objects that follow replace everything known so far.
    case initStart
    /// One object of the list.
    case initObject(K)
    /// The list is complete: anything not seen since `initStart` is gone.
    case initDone
    /// An object was added or changed.
    case apply(K)
    /// An object was deleted.
    case delete(K)
    /// An object that could not be decoded (in the list or a watch event). It is
    /// left out of the view; the others keep flowing.
    case undecodable(UndecodableObject)
    /// A failure. The watcher goes on by itself after `retryIn`.
    case error(WatcherFailure)
}

/// A failed list or watch, as a value in the watcher's stream.
public struct WatcherFailure: Error, Sendable, CustomStringConvertible {
    public enum Phase: String, Sendable { case list, watch, stream }
    public var phase: Phase
    public var error: any Error
    /// The backoff before the next attempt.
    public var retryIn: Duration

    public var description: String { "\(phase.rawValue) failed: \(error); retrying in \(retryIn)" }
}

/// Keeps a local view of one resource up to date: lists, then watches from the list's
/// resourceVersion, for as long as it runs.
///
/// The state machine (after kube-rs's `watcher`):
/// - `listing`: list every page; on success emit `initStart`, the objects, `initDone`
///   and watch from the list's resourceVersion.
/// - `watching(rv)`: open a watch from `rv` (a query parameter), with bookmarks and
///   `timeoutSeconds` below 295 s.
/// - `streaming(rv)`: every event moves `rv` forward. When the stream ends or drops,
///   go back to `watching(rv)` — the server replays only what came after `rv`, so
///   nothing is lost and nothing is replayed. A 410 Gone (HTTP status or ERROR event)
///   goes back to `listing`, and the re-list replaces the view atomically.
///
/// An object that cannot be decoded is reported as ``WatcherEvent/undecodable(_:)``
/// and skipped; it never fails the list or the watch.
///
/// Failures are stream values, never its end: after each one the watcher sleeps a
/// jittered exponential backoff (0.8 s doubling to 30 s, reset after two healthy
/// minutes) on the injected clock, then carries on. The stream ends only when the
/// consumer stops iterating or the task is cancelled.
public struct Watcher<K: KubernetesObject>: Sendable {
    public struct Configuration: Sendable {
        public var labelSelector: String?
        /// Server-side watch length; below the 295 s some load balancers cut at.
        public var timeoutSeconds = 290
        public var pageSize = 500
        public var backoff = Backoff()
        public init(labelSelector: String? = nil) { self.labelSelector = labelSelector }
    }

    enum State {
        case listing
        case watching(resourceVersion: String)
    }

    public let source: ListWatch<K>
    public let configuration: Configuration
    public let clock: any RuntimeClock
    let logger: Logger

    public init(
        _ source: ListWatch<K>, configuration: Configuration = Configuration(), clock: any RuntimeClock = SystemClock(),
        logger: Logger = Logger(label: "tide.watcher")
    ) {
        self.source = source
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// The event stream. Each call starts an independent watcher.
    public func events() -> AsyncStream<WatcherEvent<K>> {
        let (stream, continuation) = AsyncStream<WatcherEvent<K>>.makeStream()
        let task = Task { await run(continuation) }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func run(_ out: AsyncStream<WatcherEvent<K>>.Continuation) async {
        var state = State.listing
        var backoff = configuration.backoff
        let resource = source.resource
        func fail(_ phase: WatcherFailure.Phase, _ error: any Error) async -> Bool {
            let delay = backoff.next(now: clock.now)
            logger.warning("\(phase.rawValue) of \(resource) failed, retrying", metadata: ["error": "\(error)", "retryIn": "\(delay)"])
            out.yield(.error(WatcherFailure(phase: phase, error: error, retryIn: delay)))
            do { try await clock.sleep(for: delay) } catch { return false }
            return true
        }
        while !Task.isCancelled {
            switch state {
            case .listing:
                do {
                    let list = try await source.list(configuration.labelSelector, configuration.pageSize)
                    out.yield(.initStart)
                    for item in list.items { out.yield(.initObject(item)) }
                    for item in list.undecodable { out.yield(.undecodable(item)) }
                    out.yield(.initDone)
                    state = .watching(resourceVersion: list.metadata.resourceVersion ?? "")
                } catch {
                    if Task.isCancelled { return }
                    guard await fail(.list, error) else { return }
                }
            case .watching(let resourceVersion):
                let stream: AsyncThrowingStream<WatchEvent<K>, any Error>
                do {
                    stream = try await source.watch(resourceVersion, configuration.labelSelector, configuration.timeoutSeconds)
                } catch KubeError.gone {
                    logger.debug("resourceVersion \(resourceVersion) of \(resource) is gone; re-listing")
                    state = .listing
                    continue
                } catch {
                    if Task.isCancelled { return }
                    guard await fail(.watch, error) else { return }
                    continue
                }
                var current = resourceVersion
                var next = State.watching(resourceVersion: current)
                do {
                    eventLoop: for try await event in stream {
                        switch event {
                        case .added(let object), .modified(let object):
                            current = object.metadata.resourceVersion ?? current
                            out.yield(.apply(object))
                        case .deleted(let object):
                            current = object.metadata.resourceVersion ?? current
                            out.yield(.delete(object))
                        case .bookmark(let rv):
                            if !rv.isEmpty { current = rv }
                        case .undecodable(_, let object):
                            current = object.resourceVersion ?? current
                            out.yield(.undecodable(object))
                        case .error(let status) where status.code == 410:
                            logger.debug("watch of \(resource) expired (410); re-listing")
                            next = .listing
                            break eventLoop
                        case .error(let status):
                            next = .watching(resourceVersion: current)
                            state = next
                            guard await fail(.stream, KubeError.from(code: status.code ?? 500, status: status, retryAfter: nil)) else { return }
                            continue
                        }
                        next = .watching(resourceVersion: current)
                    }
                    state = next
                } catch {
                    state = .watching(resourceVersion: current)
                    if Task.isCancelled { return }
                    guard await fail(.stream, error) else { return }
                }
            }
        }
    }
}
