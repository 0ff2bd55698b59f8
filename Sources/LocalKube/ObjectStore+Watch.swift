import DequeModule
import Foundation
import KubeAPI
import Synchronization

/// Watch fan-out: which watcher sees which change, bookmarks, dropped watches and
/// history compaction (410 Gone past it).
extension ObjectStore {
    /// What a watcher sees of a change: label-selector transitions become ADDED/DELETED.
    static func frame(for record: HistoryRecord, watcher: WatcherEntry) -> WatchFrame? {
        guard record.storageKey == watcher.type.storageKey else { return nil }
        if let namespace = watcher.namespace, record.namespace != namespace { return nil }
        let nowMatches = matches(record.object, selector: watcher.selector, fieldName: watcher.fieldName)
        let object = present(record.object, as: watcher.type)
        switch record.type {
        case "MODIFIED":
            let before = record.previous.map { matches($0, selector: watcher.selector, fieldName: watcher.fieldName) } ?? false
            switch (before, nowMatches) {
            case (true, true): return .event(type: "MODIFIED", object: object)
            case (false, true): return .event(type: "ADDED", object: object)
            case (true, false): return .event(type: "DELETED", object: object)
            case (false, false): return nil
            }
        default:
            return nowMatches ? .event(type: record.type, object: object) : nil
        }
    }

    // MARK: Watch

    /// A registered watch: its id (to cancel it) and its frames.
    struct Subscription: Sendable {
        var id: Int
        var frames: AsyncStream<WatchFrame>
    }

    /// Registers a watch. With no resourceVersion (or `0`) the current objects arrive
    /// first as ADDED; otherwise every change after it is replayed from history.
    ///
    /// - Throws: `410 Expired` when the resourceVersion is older than the history.
    func watch(
        _ type: ResourceType, namespace: String?, selector: LabelSelector, fieldName: String?, resourceVersion: String?
    ) throws -> Subscription {
        try state.withLock { state in
            let (frames, continuation) = AsyncStream<WatchFrame>.makeStream()
            let entry = WatcherEntry(type: type, namespace: namespace, selector: selector, fieldName: fieldName, continuation: continuation)
            if let text = resourceVersion, !text.isEmpty, text != "0" {
                guard let from = Int64(text) else {
                    throw APIError.badRequest("resourceVersion \(text) is not a valid resource version")
                }
                let oldest = state.history.first?.resourceVersion ?? state.resourceVersion + 1
                if from < oldest - 1 {
                    throw APIError.gone("too old resource version: \(from) (\(oldest - 1))")
                }
                for record in state.history where record.resourceVersion > from {
                    if let frame = Self.frame(for: record, watcher: entry) { continuation.yield(frame) }
                }
            } else {
                let prefix = namespace.map { "\($0)/" }
                for (key, object) in (state.objects[type.storageKey] ?? [:]).sorted(by: { $0.key < $1.key })
                where (prefix == nil || key.hasPrefix(prefix!)) && Self.matches(object, selector: selector, fieldName: fieldName) {
                    continuation.yield(.event(type: "ADDED", object: Self.present(object, as: type)))
                }
            }
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            state.watchers[id] = entry
            return Subscription(id: id, frames: frames)
        }
    }

    /// Sends a BOOKMARK with the current resourceVersion to one watcher.
    func bookmark(_ id: Int) {
        state.withLock { state in
            guard let entry = state.watchers[id] else { return }
            let object: JSONValue = [
                "apiVersion": .string(entry.type.descriptor.apiVersion), "kind": .string(entry.type.descriptor.kind),
                "metadata": ["resourceVersion": .string(String(state.resourceVersion))],
            ]
            entry.continuation.yield(.event(type: "BOOKMARK", object: object))
        }
    }

    /// Ends one watch cleanly (`dropped: false`) or by cutting it (`dropped: true`).
    func endWatch(_ id: Int, dropped: Bool) {
        let entry = state.withLock { $0.watchers.removeValue(forKey: id) }
        if dropped { entry?.continuation.yield(.drop) }
        entry?.continuation.finish()
    }

    /// Cuts every open watch, as a network failure or API server restart would.
    /// Returns how many were cut.
    @discardableResult
    public func dropAllWatches() -> Int {
        let entries = state.withLock { state in
            let entries = Array(state.watchers.values)
            state.watchers.removeAll()
            return entries
        }
        for entry in entries {
            entry.continuation.yield(.drop)
            entry.continuation.finish()
        }
        return entries.count
    }

    /// Forgets history so that any watch resuming from an older resourceVersion gets
    /// 410 Gone, as after an etcd compaction.
    public func compactHistory() {
        state.withLock { state in state.history.removeAll() }
    }

    /// The number of open watches.
    public var watchCount: Int { state.withLock { $0.watchers.count } }
}
