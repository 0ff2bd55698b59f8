import Foundation
import KubeAPI
import KubeClient
import Logging
import Synchronization

/// Records `events.k8s.io/v1` Events about objects, as `kubectl describe` shows them.
///
/// The same event (same object, type, reason, action and note) repeated within
/// `seriesWindow` updates one Event's `series` (count and last time) instead of
/// creating another. Recording is best effort: a failure is logged, never thrown, so
/// it cannot break a reconcile.
public final class EventRecorder: Sendable {
    public let controller: String
    public let instance: String
    public let seriesWindow: Duration
    let client: KubeClient
    let clock: any RuntimeClock
    let logger: Logger

    private struct Entry {
        var namespace: String
        var name: String
        var count: Int32
        var lastSeen: Duration
    }

    private let recent = Mutex<[String: Entry]>([:])

    public init(
        client: KubeClient, controller: String, instance: String, seriesWindow: Duration = .seconds(300),
        clock: any RuntimeClock = SystemClock(), logger: Logger = Logger(label: "tide.events")
    ) {
        self.client = client
        self.controller = controller
        self.instance = instance
        self.seriesWindow = seriesWindow
        self.clock = clock
        self.logger = logger
    }

    /// Records an event about `object`.
    ///
    /// - Parameters:
    ///   - type: `Normal` or `Warning`.
    ///   - reason: a short CamelCase reason, e.g. `ScaledUp`.
    ///   - action: what was done, e.g. `Scale`.
    ///   - note: the human-readable message (at most 1 kB is kept).
    public func record(_ object: some KubernetesObject, type: String, reason: String, action: String, note: String) async {
        let regarding = ObjectReference(to: object)
        let namespace = regarding.namespace ?? "default"
        let note = String(note.prefix(1_024))
        let key = [regarding.uid ?? regarding.name ?? "", type, reason, action, note].joined(separator: "\u{1}")
        let now = clock.now
        let events = client.namespaced(Event.self, in: namespace)
        let window = seriesWindow
        let existing = recent.withLock { entries -> Entry? in
            // Sweep old entries now and then, not on every call.
            if entries.count > 4_096 { entries = entries.filter { now - $0.value.lastSeen < window } }
            guard let entry = entries[key], now - entry.lastSeen < window else { return nil }
            return entry
        }
        do {
            if let existing {
                let count = existing.count + 1
                let patch: JSONValue = ["series": ["count": .int(Int64(count)), "lastObservedTime": .string(MicroTime.now.description)]]
                _ = try await events.mergePatch(existing.name, patch: patch)
                recent.withLock { $0[key] = Entry(namespace: namespace, name: existing.name, count: count, lastSeen: now) }
                return
            }
            let name = "\(regarding.name ?? "object").\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
            let event = Event(
                metadata: ObjectMeta(name: name, namespace: namespace), eventTime: .now, reportingController: controller,
                reportingInstance: instance, action: action, reason: reason, regarding: regarding, note: note, type: type)
            _ = try await events.create(event)
            recent.withLock { $0[key] = Entry(namespace: namespace, name: name, count: 1, lastSeen: now) }
        } catch {
            recent.withLock { $0[key] = nil }
            logger.warning("could not record event", metadata: ["reason": "\(reason)", "object": "\(regarding.name ?? "")", "error": "\(error)"])
        }
    }
}
