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
    /// One cached object, held by reference: the tables then hold a pointer per slot
    /// instead of the whole value (an `Application` is about 850 bytes inline, and a
    /// table keeps a quarter or more of its slots free), and a copy handed out shares
    /// the object's storage.
    private final class Stored: Sendable {
        let object: K
        init(_ object: K) { self.object = object }
    }

    private struct State {
        var objects: [ObjectKey: Stored] = [:]
        /// Controller owner uid → keys of the objects it controls (an array: an owner
        /// controls one or two objects of a kind, and a small array is a third of the
        /// size of a small set).
        var owned: [String: [ObjectKey]] = [:]
        /// Objects of a re-list in progress; swapped in at `initDone`.
        var pending: [ObjectKey: Stored]?
        var synced = false
        var syncWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let interner: StringInterner

    /// A cache whose objects share repeated strings through `interner`.
    public init(interner: StringInterner = .shared) {
        self.interner = interner
    }

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

    public func get(_ key: ObjectKey) -> K? { state.withLock { $0.objects[key]?.object } }

    public var count: Int { state.withLock { $0.objects.count } }

    public var keys: [ObjectKey] { state.withLock { Array($0.objects.keys) } }

    /// Name and resourceVersion of each object whose controller owner reference has
    /// this uid (an index lookup, not a scan; the objects are not copied).
    public func versions(controlledBy ownerUID: String) -> [(name: String, resourceVersion: String?)] {
        state.withLock { state in
            (state.owned[ownerUID] ?? []).compactMap { key in state.objects[key].map { (key.name, $0.object.metadata.resourceVersion) } }
        }
    }

    /// Every object whose labels match `selector` (and namespace, if given).
    public func list(matching selector: LabelSelector = LabelSelector(), namespace: String? = nil) -> [K] {
        state.withLock { state in
            state.objects.values.lazy.map(\.object).filter { object in
                (namespace == nil || object.metadata.namespace == namespace)
                    && selector.matches(object.metadata.labels ?? [:])
            }
        }
    }

    /// Applies one watcher event and returns the changes it made.
    @discardableResult
    public func apply(_ event: WatcherEvent<K>) -> [CacheChange<K>] {
        // Objects kept share the strings many of them repeat (outside the lock).
        let event = event.interningStrings(interner)
        var waiters: [CheckedContinuation<Void, Never>] = []
        let changes = state.withLock { state -> [CacheChange<K>] in
            switch event {
            case .initStart:
                state.pending = [:]
                return []
            case .initObject(let object):
                state.pending?[ObjectKey(object)] = Stored(object)
                return []
            case .initDone:
                let fresh = state.pending ?? [:]
                state.pending = nil
                var changes: [CacheChange<K>] = []
                for (key, stored) in state.objects where fresh[key] == nil { changes.append(.deleted(stored.object)) }
                for (key, stored) in fresh where state.objects[key]?.object.metadata.resourceVersion != stored.object.metadata.resourceVersion {
                    changes.append(.applied(stored.object))
                }
                state.objects = fresh
                state.owned = [:]
                for (key, stored) in fresh { Self.index(stored.object, key, into: &state.owned) }
                if !state.synced {
                    state.synced = true
                    waiters = state.syncWaiters
                    state.syncWaiters.removeAll()
                }
                return changes
            case .apply(let object):
                let key = ObjectKey(object)
                if let previous = state.objects[key] { Self.unindex(previous.object, key, from: &state.owned) }
                state.objects[key] = Stored(object)
                Self.index(object, key, into: &state.owned)
                return [.applied(object)]
            case .delete(let object):
                let key = ObjectKey(object)
                if let previous = state.objects.removeValue(forKey: key) { Self.unindex(previous.object, key, from: &state.owned) }
                return [.deleted(object)]
            case .undecodable(let object):
                // Its last readable version is stale: drop it rather than act on it.
                guard let name = object.name else { return [] }
                let key = ObjectKey(namespace: object.namespace, name: name)
                if state.pending != nil { state.pending?[key] = nil; return [] }
                guard let previous = state.objects.removeValue(forKey: key) else { return [] }
                Self.unindex(previous.object, key, from: &state.owned)
                return [.deleted(previous.object)]
            case .error:
                return []
            }
        }
        for waiter in waiters { waiter.resume() }
        return changes
    }

    private static func index(_ object: K, _ key: ObjectKey, into owned: inout [String: [ObjectKey]]) {
        guard let uid = object.metadata.controllerReference?.uid else { return }
        if owned[uid]?.contains(key) != true { owned[uid, default: []].append(key) }
    }

    private static func unindex(_ object: K, _ key: ObjectKey, from owned: inout [String: [ObjectKey]]) {
        guard let uid = object.metadata.controllerReference?.uid else { return }
        owned[uid]?.removeAll { $0 == key }
        if owned[uid]?.isEmpty == true { owned[uid] = nil }
    }
}

extension WatcherEvent where K: KubernetesObject {
    /// The event with the object it carries passed through ``KubernetesObject/internStrings(_:)``.
    fileprivate func interningStrings(_ interner: StringInterner) -> Self {
        switch self {
        case .initObject(var object):
            object.internStrings(interner)
            return .initObject(object)
        case .apply(var object):
            object.internStrings(interner)
            return .apply(object)
        case .initStart, .initDone, .delete, .undecodable, .error:
            return self
        }
    }
}
