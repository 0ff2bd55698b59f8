#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeClient
import Logging
import Synchronization

/// Something that records Events: ``EventRecorder`` sends each before it returns; a
/// controller's queue (`EventQueue`) sends them in the background.
public protocol EventRecording: Sendable {
    /// Records an event about the object `regarding` refers to.
    ///
    /// - Parameters:
    ///   - type: `Normal` or `Warning`.
    ///   - reason: a short CamelCase reason, e.g. `ScaledUp`.
    ///   - action: what was done, e.g. `Scale`.
    ///   - note: the human-readable message (at most 1 kB is kept).
    func record(regarding: ObjectReference, type: String, reason: String, action: String, note: String) async
}

extension EventRecording {
    /// Records an event about `object`.
    public func record(_ object: some KubernetesObject, type: String, reason: String, action: String, note: String) async {
        await record(regarding: ObjectReference(to: object), type: type, reason: reason, action: action, note: note)
    }
}

/// Records `events.k8s.io/v1` Events about objects, as `kubectl describe` shows them.
///
/// The same event (same object, type, reason, action and note) recorded again updates
/// one Event's `series` (count and last time) instead of creating another — also
/// across processes: the Event's name is derived from what it says, so a scaler that
/// runs as a new process every minute finds the Event an earlier run created (409
/// AlreadyExists), reads its count and adds one. Recording is best effort: a failure
/// is logged, never thrown, so it cannot break a reconcile.
public final class EventRecorder: EventRecording, Sendable {
    public let controller: String
    public let instance: String
    /// How long this process remembers an Event's name and count, saving the read.
    public let seriesWindow: Duration
    let client: KubeClient
    let clock: any RuntimeClock
    let logger: Logger

    /// What this process last said of an Event, by the Event's namespace and name
    /// (the name derives from everything the Event says, and is far shorter).
    private struct Entry {
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

    /// The name of the Event that says `key` about `regarding`: stable across
    /// processes, a valid DNS subdomain.
    static func eventName(regarding: ObjectReference, key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "\(regarding.name ?? "object").\(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }

    /// Records an event about the object `regarding` refers to, and returns once it
    /// is written (or failed, which is logged).
    public func record(regarding: ObjectReference, type: String, reason: String, action: String, note: String) async {
        let namespace = regarding.namespace ?? "default"
        let note = String(note.prefix(1_024))
        let said = [regarding.uid ?? regarding.name ?? "", type, reason, action, note].joined(separator: "\u{1}")
        let name = Self.eventName(regarding: regarding, key: said)
        let key = namespace + "/" + name
        let now = clock.now
        let events = client.namespaced(Event.self, in: namespace)
        let window = seriesWindow
        let known = recent.withLock { entries -> Entry? in
            // Sweep old entries now and then, not on every call.
            if entries.count > 4_096 { entries = entries.filter { now - $0.value.lastSeen < window } }
            guard let entry = entries[key], now - entry.lastSeen < window else { return nil }
            return entry
        }
        do {
            var count: Int32
            if let known {
                count = known.count
            } else {
                let event = Event(
                    metadata: ObjectMeta(name: name, namespace: namespace), eventTime: .now, reportingController: controller,
                    reportingInstance: instance, action: action, reason: reason, regarding: regarding, note: note, type: type)
                do {
                    _ = try await events.create(event)
                    recent.withLock { $0[key] = Entry(count: 1, lastSeen: now) }
                    return
                } catch KubeError.alreadyExists {
                    // An earlier run said the same: continue its series.
                    let existing = try await events.get(name)
                    count = existing.series?.count ?? 1
                }
            }
            count += 1
            let patch: JSONValue = ["series": ["count": .int(Int64(count)), "lastObservedTime": .string(MicroTime.now.description)]]
            do {
                _ = try await events.mergePatch(name, patch: patch)
            } catch KubeError.notFound {
                // Expired (Events live an hour by default): start a new series.
                recent.withLock { $0[key] = nil }
                await record(regarding: regarding, type: type, reason: reason, action: action, note: note)
                return
            }
            recent.withLock { $0[key] = Entry(count: count, lastSeen: now) }
        } catch {
            recent.withLock { $0[key] = nil }
            logger.warning("could not record event", metadata: ["reason": "\(reason)", "object": "\(regarding.name ?? "")", "error": "\(error)"])
        }
    }
}
