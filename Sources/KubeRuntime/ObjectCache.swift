import KubeAPI
import Synchronization

/// A change the cache applied, for whoever needs to react (a controller's queue).
public enum CacheChange<K: KubernetesObject>: Sendable {
    case applied(K)
    case deleted(K)
}

/// A local copy of one resource, fed by a ``Watcher``.
///
/// Objects are values: what ``get(_:)`` and ``list(matching:)`` return is a copy,
/// never shared mutable state. A re-list replaces the whole content at once at
/// `initDone`; until the first `initDone`, ``hasSynced`` is false.
public final class ObjectCache<K: KubernetesObject>: Sendable {
    private struct State {
        var objects: [ObjectKey: K] = [:]
        /// Controller owner uid → keys of the objects it controls.
        var owned: [String: Set<ObjectKey>] = [:]
        /// Objects of a re-list in progress; swapped in at `initDone`.
        var pending: [ObjectKey: K]?
        var synced = false
        var syncWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Whether the first complete list has been applied.
    public var hasSynced: Bool { state.withLock { $0.synced } }

    /// Returns once the cache has synced.
    public func waitUntilSynced() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.synced { return true }
                state.syncWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    public func get(_ key: ObjectKey) -> K? { state.withLock { $0.objects[key] } }

    public var count: Int { state.withLock { $0.objects.count } }

    public var keys: [ObjectKey] { state.withLock { Array($0.objects.keys) } }

    /// Name and resourceVersion of each object whose controller owner reference has
    /// this uid (an index lookup, not a scan; the objects are not copied).
    public func versions(controlledBy ownerUID: String) -> [(name: String, resourceVersion: String?)] {
        state.withLock { state in
            (state.owned[ownerUID] ?? []).compactMap { key in state.objects[key].map { (key.name, $0.metadata.resourceVersion) } }
        }
    }

    /// Every object whose labels match `selector` (and namespace, if given).
    public func list(matching selector: LabelSelector = LabelSelector(), namespace: String? = nil) -> [K] {
        state.withLock { state in
            state.objects.values.filter { object in
                (namespace == nil || object.metadata.namespace == namespace)
                    && selector.matches(object.metadata.labels ?? [:])
            }
        }
    }

    /// Applies one watcher event and returns the changes it made.
    @discardableResult
    public func apply(_ event: WatcherEvent<K>) -> [CacheChange<K>] {
        var waiters: [CheckedContinuation<Void, Never>] = []
        let changes = state.withLock { state -> [CacheChange<K>] in
            switch event {
            case .initStart:
                state.pending = [:]
                return []
            case .initObject(let object):
                state.pending?[ObjectKey(object)] = object
                return []
            case .initDone:
                let fresh = state.pending ?? [:]
                state.pending = nil
                var changes: [CacheChange<K>] = []
                for (key, object) in state.objects where fresh[key] == nil { changes.append(.deleted(object)) }
                for (key, object) in fresh where state.objects[key]?.metadata.resourceVersion != object.metadata.resourceVersion {
                    changes.append(.applied(object))
                }
                state.objects = fresh
                state.owned = [:]
                for (key, object) in fresh { Self.index(object, key, into: &state.owned) }
                if !state.synced {
                    state.synced = true
                    waiters = state.syncWaiters
                    state.syncWaiters.removeAll()
                }
                return changes
            case .apply(let object):
                let key = ObjectKey(object)
                if let previous = state.objects[key] { Self.unindex(previous, key, from: &state.owned) }
                state.objects[key] = object
                Self.index(object, key, into: &state.owned)
                return [.applied(object)]
            case .delete(let object):
                let key = ObjectKey(object)
                if let previous = state.objects.removeValue(forKey: key) { Self.unindex(previous, key, from: &state.owned) }
                return [.deleted(object)]
            case .undecodable(let object):
                // Its last readable version is stale: drop it rather than act on it.
                guard let name = object.name else { return [] }
                let key = ObjectKey(namespace: object.namespace, name: name)
                if state.pending != nil { state.pending?[key] = nil; return [] }
                guard let previous = state.objects.removeValue(forKey: key) else { return [] }
                Self.unindex(previous, key, from: &state.owned)
                return [.deleted(previous)]
            case .error:
                return []
            }
        }
        for waiter in waiters { waiter.resume() }
        return changes
    }

    private static func index(_ object: K, _ key: ObjectKey, into owned: inout [String: Set<ObjectKey>]) {
        guard let uid = object.metadata.controllerReference?.uid else { return }
        owned[uid, default: []].insert(key)
    }

    private static func unindex(_ object: K, _ key: ObjectKey, from owned: inout [String: Set<ObjectKey>]) {
        guard let uid = object.metadata.controllerReference?.uid else { return }
        owned[uid]?.remove(key)
        if owned[uid]?.isEmpty == true { owned[uid] = nil }
    }
}
