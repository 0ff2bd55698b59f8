import KubeAPI
import KubeSupport
import Logging
import ServiceLifecycle
import Synchronization

/// Records Events off the caller's path, so a controller's workers never wait for
/// one: ``record(regarding:type:reason:action:note:)`` enqueues and returns, and
/// ``run()`` sends what is queued through an ``EventRecorder`` (same names, same
/// series counting).
///
/// Guarantees:
/// - recording never waits for the API server and never fails the caller;
/// - at most `capacity` Events wait; when the queue is full the new one is dropped,
///   counted in ``droppedCount`` and logged (Events are best effort; client-go's
///   broadcaster drops the same way), so a slow or unreachable server cannot grow
///   the operator's memory;
/// - at most `senders` Events are in flight at once;
/// - on graceful shutdown the queue stops taking Events and sends what it holds
///   before ``run()`` returns (the manager bounds that with its shutdown timeout);
///   Events recorded after that are dropped and counted.
public final class EventQueue: EventRecording, ServiceLifecycle.Service, Sendable {
    struct Item: Sendable {
        var regarding: ObjectReference
        var type: String
        var reason: String
        var action: String
        var note: String
    }

    public let recorder: EventRecorder
    public let capacity: Int
    public let senders: Int
    let logger: Logger
    private let stream: AsyncStream<Item>
    private let continuation: AsyncStream<Item>.Continuation
    private let dropped = Atomic<Int>(0)

    public init(recorder: EventRecorder, capacity: Int = 1_000, senders: Int = 4, logger: Logger = Logger(label: "tide.events")) {
        self.recorder = recorder
        self.capacity = max(1, capacity)
        self.senders = max(1, senders)
        self.logger = logger
        (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingOldest(max(1, capacity)))
    }

    /// Events dropped because the queue was full or already shut down.
    public var droppedCount: Int { dropped.load(ordering: .relaxed) }

    public func record(regarding: ObjectReference, type: String, reason: String, action: String, note: String) async {
        let item = Item(regarding: regarding, type: type, reason: reason, action: action, note: note)
        switch continuation.yield(item) {
        case .enqueued: return
        case .dropped, .terminated:
            let total = dropped.add(1, ordering: .relaxed).newValue
            logger.warning(
                "event dropped: the event queue is full or stopped",
                metadata: ["reason": "\(reason)", "object": "\(regarding.name ?? "")", "dropped": "\(total)"])
        @unknown default:
            return
        }
    }

    /// Sends queued Events until graceful shutdown (then drains) or cancellation.
    public func run() async throws {
        let recorder = self.recorder
        let senders = self.senders
        let stream = self.stream
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for await item in stream {
                    if inFlight >= senders {
                        await group.next()
                        inFlight -= 1
                    }
                    group.addTask {
                        await recorder.record(regarding: item.regarding, type: item.type, reason: item.reason, action: item.action, note: item.note)
                    }
                    inFlight += 1
                }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.continuation.finish()
        }
    }

    /// Stops taking Events; ``run()`` returns once what is queued has been sent.
    public func finish() { continuation.finish() }
}
