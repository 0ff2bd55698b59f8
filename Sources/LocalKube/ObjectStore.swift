import DequeModule
import Foundation
import KubeAPI
import Synchronization

/// The verbs LocalKube counts, named as in RBAC.
public enum Verb: String, Sendable, Hashable, CaseIterable {
    case get, list, watch, create, update, patch, delete

    /// Whether the verb changes state.
    public var isWrite: Bool {
        switch self {
        case .create, .update, .patch, .delete: return true
        case .get, .list, .watch: return false
        }
    }
}

/// One frame of a watch: an event to send, or an instruction to the stream.
enum WatchFrame: Sendable {
    case event(type: String, object: JSONValue)
    /// Cut the connection without a clean end (a dropped watch).
    case drop
}

/// LocalKube's state: every object as JSON, one global resourceVersion, a bounded
/// history of changes for watches, and the registry of served kinds.
///
/// All methods are synchronous and atomic; the HTTP layer calls them from any task.
public final class ObjectStore: Sendable {
    struct HistoryRecord: Sendable {
        var resourceVersion: Int64
        var storageKey: String
        var namespace: String?
        var type: String
        var object: JSONValue
        var previous: JSONValue?
    }

    struct WatcherEntry: Sendable {
        var type: ResourceType
        var namespace: String?
        var selector: LabelSelector
        var fieldName: String?
        var continuation: AsyncStream<WatchFrame>.Continuation
    }

    struct State: Sendable {
        var types: [String: ResourceType] = [:]
        var objects: [String: [String: JSONValue]] = [:]
        var uids: [String: (storageKey: String, key: String)] = [:]
        var resourceVersion: Int64 = 100
        var history = Deque<HistoryRecord>()
        var watchers: [Int: WatcherEntry] = [:]
        var nextWatcherID = 1
        /// Last applied configuration per object uid and field manager.
        var applied: [String: [String: JSONValue]] = [:]
        /// Consistent snapshots of paged lists, so every page reflects the first page's
        /// resourceVersion (as etcd serves them). Oldest dropped first.
        var snapshots: [Int: ListSnapshot] = [:]
        var nextSnapshotID = 1
        /// Owner uid → the objects that name it in their owner references.
        var dependents: [String: Set<ObjectReference>] = [:]
    }

    struct ObjectReference: Sendable, Hashable {
        var storageKey: String
        var key: String
    }

    struct ListSnapshot: Sendable {
        var resourceVersion: Int64
        var items: [(key: String, object: JSONValue)]
    }

    static let snapshotLimit = 32

    let state = Mutex(State())
    /// How many changes watches can resume from; older resourceVersions get 410 Gone.
    public let historyLimit: Int
    /// Create namespaces on first use instead of answering 404.
    public let autoCreateNamespaces: Bool

    public init(historyLimit: Int = 10_000, autoCreateNamespaces: Bool = false) {
        self.historyLimit = historyLimit
        self.autoCreateNamespaces = autoCreateNamespaces
        state.withLock { state in
            for type in ResourceType.builtIn { Self.register(type, in: &state) }
        }
        for name in ["default", "kube-system", "kube-public"] {
            _ = try? create(Self.namespaceType, namespace: nil, body: ["metadata": ["name": .string(name)]])
        }
    }

    static let namespaceType = ResourceType.builtIn[0]

    // MARK: Registry

    private static func typeKey(_ group: String, _ version: String, _ plural: String) -> String {
        "\(group)/\(version)/\(plural)"
    }

    private static func register(_ type: ResourceType, in state: inout State) {
        let descriptor = type.descriptor
        state.types[typeKey(descriptor.group, descriptor.version, descriptor.plural)] = type
        if state.objects[type.storageKey] == nil { state.objects[type.storageKey] = [:] }
    }

    /// The kind served at `group/version/plural`, if any.
    public func type(group: String, version: String, plural: String) -> ResourceType? {
        state.withLock { $0.types[Self.typeKey(group, version, plural)] }
    }

    /// Every served kind.
    public var types: [ResourceType] {
        state.withLock { Array($0.types.values) }.sorted { ($0.descriptor.group, $0.descriptor.plural) < ($1.descriptor.group, $1.descriptor.plural) }
    }

    /// The current global resourceVersion.
    public var resourceVersion: Int64 { state.withLock { $0.resourceVersion } }

    /// The number of stored objects of all kinds.
    public var objectCount: Int { state.withLock { $0.objects.values.reduce(0) { $0 + $1.count } } }

    // MARK: Reads

    static func objectKey(_ namespace: String?, _ name: String) -> String {
        namespace.map { "\($0)/\(name)" } ?? name
    }

    public func get(_ type: ResourceType, namespace: String?, name: String) throws -> JSONValue {
        try state.withLock { state in
            guard let object = state.objects[type.storageKey]?[Self.objectKey(namespace, name)] else {
                throw APIError.notFound(type, name)
            }
            return Self.present(object, as: type)
        }
    }

    /// One page of objects, sorted by namespace and name.
    public func list(
        _ type: ResourceType, namespace: String?, selector: LabelSelector, fieldName: String? = nil, limit: Int?,
        continueToken: String?
    ) throws -> (items: [JSONValue], resourceVersion: Int64, continueToken: String?, remaining: Int?) {
        try state.withLock { state in
            let items: [(key: String, object: JSONValue)]
            let listRV: Int64
            var snapshotID: Int
            var startAfter: String?
            if let token = continueToken, !token.isEmpty {
                guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
                    let separator = text.firstIndex(of: "|"), let id = Int(text[..<separator])
                else {
                    throw APIError.badRequest("continue key is not valid")
                }
                guard let snapshot = state.snapshots[id] else {
                    throw APIError.gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
                }
                snapshotID = id
                listRV = snapshot.resourceVersion
                startAfter = String(text[text.index(after: separator)...])
                items = snapshot.items.filter { $0.key > startAfter! }
            } else {
                let prefix = namespace.map { "\($0)/" }
                items = (state.objects[type.storageKey] ?? [:])
                    .filter { key, object in
                        (prefix == nil || key.hasPrefix(prefix!)) && Self.matches(object, selector: selector, fieldName: fieldName)
                    }
                    .sorted { $0.key < $1.key }
                    .map { (key: $0.key, object: $0.value) }
                listRV = state.resourceVersion
                snapshotID = 0
            }
            var page = items
            var token: String?
            var remaining: Int?
            if let limit, limit > 0, items.count > limit {
                page = Array(items.prefix(limit))
                if snapshotID == 0 {
                    snapshotID = state.nextSnapshotID
                    state.nextSnapshotID += 1
                    state.snapshots[snapshotID] = ListSnapshot(resourceVersion: listRV, items: items)
                    if state.snapshots.count > Self.snapshotLimit, let oldest = state.snapshots.keys.min() {
                        state.snapshots[oldest] = nil
                    }
                }
                token = Data("\(snapshotID)|\(page.last!.key)".utf8).base64EncodedString()
                remaining = items.count - limit
            } else if snapshotID != 0 {
                state.snapshots[snapshotID] = nil
            }
            return (page.map { Self.present($0.object, as: type) }, listRV, token, remaining)
        }
    }

    static func matches(_ object: JSONValue, selector: LabelSelector, fieldName: String?) -> Bool {
        if let fieldName, object.value(atPath: ["metadata", "name"])?.stringValue != fieldName { return false }
        return selector.matches(labels(of: object))
    }

    static func labels(of object: JSONValue) -> [String: String] {
        (object.value(atPath: ["metadata", "labels"])?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    /// An object as served at `type`'s version.
    static func present(_ object: JSONValue, as type: ResourceType) -> JSONValue {
        var object = object
        object["apiVersion"] = .string(type.descriptor.apiVersion)
        object["kind"] = .string(type.descriptor.kind)
        return object
    }

    // MARK: Writes

    /// Creates an object. The body's name, namespace and kind must agree with the URL.
    @discardableResult
    public func create(_ type: ResourceType, namespace: String?, body: JSONValue, fieldManager: String? = nil) throws -> JSONValue {
        guard case .object = body else { throw APIError.badRequest("the body of the request was not a JSON object") }
        return try state.withLock { state in
            var object = try Self.checkTypeMeta(body, type: type, namespace: namespace)
            if (object.value(atPath: ["metadata", "name"])?.stringValue ?? "").isEmpty,
                let generate = object.value(atPath: ["metadata", "generateName"])?.stringValue, !generate.isEmpty
            {
                let suffix = String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(5))
                object.setValue(.string(generate + suffix), atPath: ["metadata", "name"])
            }
            let name = object.value(atPath: ["metadata", "name"])?.stringValue ?? ""
            try Self.ensureNamespace(type, namespace, in: &state, autoCreate: autoCreateNamespaces)
            let key = Self.objectKey(namespace, name)
            if state.objects[type.storageKey]?[key] != nil { throw APIError.alreadyExists(type, name) }
            object = Self.defaulted(object, type: type)
            try Self.validate(object, type: type, name: name)
            let uid = UUID().uuidString.lowercased()
            object.setValue(.string(uid), atPath: ["metadata", "uid"])
            object.setValue(.string(Time.now.description), atPath: ["metadata", "creationTimestamp"])
            object.setValue(.int(1), atPath: ["metadata", "generation"])
            object.setValue(nil, atPath: ["metadata", "deletionTimestamp"])
            if namespace != nil { object.setValue(.string(namespace!), atPath: ["metadata", "namespace"]) }
            if type.hasStatus, type.descriptor.group != "apiextensions.k8s.io", type.descriptor.plural != "namespaces" {
                object["status"] = nil
            }
            object = Self.serverStatus(object, type: type)
            if let fieldManager {
                state.applied[uid, default: [:]][fieldManager] = body
            }
            let stored = commit(type, key: key, namespace: namespace, object: object, eventType: "ADDED", previous: nil, in: &state)
            if type.storageKey == "apiextensions.k8s.io/customresourcedefinitions" { Self.registerCRD(stored, in: &state) }
            // An object created with owners that are already gone is collected, as the
            // real garbage collector does shortly after.
            if let owners = stored.value(atPath: ["metadata", "ownerReferences"])?.arrayValue, !owners.isEmpty,
                !owners.contains(where: { $0["uid"]?.stringValue.map { state.uids[$0] != nil } ?? false })
            {
                _ = remove(type, key: key, namespace: namespace, object: stored, in: &state)
            }
            return Self.present(stored, as: type)
        }
    }

    /// Replaces an object (PUT), or only its status when `subresource` is `status`.
    public func update(_ type: ResourceType, namespace: String?, name: String, body: JSONValue, subresource: String? = nil) throws -> JSONValue {
        guard case .object = body else { throw APIError.badRequest("the body of the request was not a JSON object") }
        return try state.withLock { state in
            let incoming = try Self.checkTypeMeta(body, type: type, namespace: namespace)
            if let bodyName = incoming.value(atPath: ["metadata", "name"])?.stringValue, bodyName != name {
                throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
            }
            return try replace(type, namespace: namespace, name: name, in: &state) { current, state in
                if let rv = incoming.value(atPath: ["metadata", "resourceVersion"])?.stringValue, !rv.isEmpty,
                    rv != current.value(atPath: ["metadata", "resourceVersion"])?.stringValue
                {
                    throw APIError.conflict(type, name)
                }
                return incoming
            } merge: { current, incoming in
                Self.combine(current: current, incoming: incoming, type: type, subresource: subresource)
            }
        }
    }

    /// The kinds of PATCH LocalKube understands.
    public enum PatchKind: Sendable {
        case merge
        case apply(fieldManager: String, force: Bool)
    }

    /// Patches an object or its status. An apply patch creates a missing object.
    public func patch(
        _ type: ResourceType, namespace: String?, name: String, patch: JSONValue, kind: PatchKind, subresource: String? = nil
    ) throws -> JSONValue {
        guard case .object = patch else { throw APIError.badRequest("the body of the request was not a JSON object") }
        if case .apply(let manager, _) = kind, subresource == nil {
            let exists = state.withLock { $0.objects[type.storageKey]?[Self.objectKey(namespace, name)] != nil }
            if !exists {
                var body = patch
                if body.value(atPath: ["metadata", "name"]) == nil { body.setValue(.string(name), atPath: ["metadata", "name"]) }
                do {
                    return try create(type, namespace: namespace, body: body, fieldManager: manager)
                } catch let error as APIError where error.status.reason == "AlreadyExists" {
                    // Raced with another create: fall through to patch the object now present.
                }
            }
        }
        return try state.withLock { state in
            var checkedPatch = patch
            if patch["apiVersion"] != nil || patch["kind"] != nil || patch["metadata"] != nil {
                checkedPatch = try Self.checkTypeMeta(patch, type: type, namespace: namespace, requireName: false)
                if let bodyName = checkedPatch.value(atPath: ["metadata", "name"])?.stringValue, bodyName != name {
                    throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
                }
            }
            return try replace(type, namespace: namespace, name: name, in: &state) { current, state in
                if let rv = patch.value(atPath: ["metadata", "resourceVersion"])?.stringValue, !rv.isEmpty,
                    rv != current.value(atPath: ["metadata", "resourceVersion"])?.stringValue
                {
                    throw APIError.conflict(type, name)
                }
                var patched = current.merging(patch: checkedPatch)
                if case .apply(let manager, _) = kind, let uid = current.value(atPath: ["metadata", "uid"])?.stringValue {
                    if let previous = state.applied[uid]?[manager] {
                        patched = Self.removeReleased(patched, previouslyApplied: previous, nowApplied: checkedPatch)
                    }
                    state.applied[uid, default: [:]][manager] = checkedPatch
                }
                return patched
            } merge: { current, incoming in
                Self.combine(current: current, incoming: incoming, type: type, subresource: subresource)
            }
        }
    }

    /// Removes fields a field manager applied before and no longer applies.
    static func removeReleased(_ live: JSONValue, previouslyApplied: JSONValue, nowApplied: JSONValue) -> JSONValue {
        guard case .object(var members) = live, let old = previouslyApplied.objectValue else { return live }
        let new = nowApplied.objectValue ?? [:]
        for (key, oldValue) in old {
            if let newValue = new[key] {
                if case .object = oldValue, case .object = newValue, let child = members[key] {
                    members[key] = removeReleased(child, previouslyApplied: oldValue, nowApplied: newValue)
                }
            } else if !["apiVersion", "kind"].contains(key) {
                members.removeValue(forKey: key)
            }
        }
        return .object(members)
    }

    /// Reads, transforms and stores one object under the lock, with the server's
    /// bookkeeping (immutable metadata, generation, resourceVersion, finalizers).
    private func replace(
        _ type: ResourceType, namespace: String?, name: String, in state: inout State,
        transform: (JSONValue, inout State) throws -> JSONValue, merge: (JSONValue, JSONValue) -> JSONValue
    ) throws -> JSONValue {
        let key = Self.objectKey(namespace, name)
        guard let current = state.objects[type.storageKey]?[key] else { throw APIError.notFound(type, name) }
        var next = merge(current, try transform(current, &state))
        for field in ["uid", "creationTimestamp", "generation", "deletionTimestamp", "namespace", "name", "resourceVersion"] {
            next.setValue(current.value(atPath: ["metadata", field]), atPath: ["metadata", field])
        }
        next = Self.defaulted(next, type: type)
        try Self.validate(next, type: type, name: name)
        if Self.specOf(next, type: type) != Self.specOf(current, type: type) {
            let generation = current.value(atPath: ["metadata", "generation"])?.intValue ?? 1
            next.setValue(.int(generation + 1), atPath: ["metadata", "generation"])
        }
        next = Self.serverStatus(next, type: type)
        if next == current { return Self.present(current, as: type) }
        // An object being deleted goes once its last finalizer is removed.
        if current.value(atPath: ["metadata", "deletionTimestamp"]) != nil,
            (next.value(atPath: ["metadata", "finalizers"])?.arrayValue ?? []).isEmpty
        {
            let removed = remove(type, key: key, namespace: namespace, object: next, in: &state)
            return Self.present(removed, as: type)
        }
        let stored = commit(type, key: key, namespace: namespace, object: next, eventType: "MODIFIED", previous: current, in: &state)
        if type.storageKey == "apiextensions.k8s.io/customresourcedefinitions" { Self.registerCRD(stored, in: &state) }
        return Self.present(stored, as: type)
    }

    /// What counts as a spec change for `generation`: everything but metadata (and
    /// status when the kind has a status subresource).
    static func specOf(_ object: JSONValue, type: ResourceType) -> JSONValue {
        var copy = object
        copy["metadata"] = nil
        copy["apiVersion"] = nil
        copy["kind"] = nil
        if type.hasStatus { copy["status"] = nil }
        return copy
    }

    /// Keeps status out of main-resource writes and everything but status out of
    /// status writes, for kinds with a status subresource.
    static func combine(current: JSONValue, incoming: JSONValue, type: ResourceType, subresource: String?) -> JSONValue {
        guard type.hasStatus else { return incoming }
        if subresource == "status" {
            var result = current
            result["status"] = incoming["status"]
            return result
        }
        var result = incoming
        result["status"] = current["status"]
        return result
    }

    /// Deletes an object. With finalizers it is only marked (`deletionTimestamp`).
    /// Dependents are then collected (`Background`), or released (`Orphan`).
    public func delete(
        _ type: ResourceType, namespace: String?, name: String, preconditionUID: String? = nil,
        preconditionResourceVersion: String? = nil, propagation: String = "Background"
    ) throws -> JSONValue {
        try state.withLock { state in
            let key = Self.objectKey(namespace, name)
            guard let current = state.objects[type.storageKey]?[key] else { throw APIError.notFound(type, name) }
            if let uid = preconditionUID, uid != current.value(atPath: ["metadata", "uid"])?.stringValue {
                throw APIError.conflict(type, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current.value(atPath: ["metadata", "uid"])?.stringValue ?? "")")
            }
            if let rv = preconditionResourceVersion, rv != current.value(atPath: ["metadata", "resourceVersion"])?.stringValue {
                throw APIError.conflict(type, name)
            }
            if !(current.value(atPath: ["metadata", "finalizers"])?.arrayValue ?? []).isEmpty {
                if current.value(atPath: ["metadata", "deletionTimestamp"]) != nil { return Self.present(current, as: type) }
                var marked = current
                marked.setValue(.string(Time.now.description), atPath: ["metadata", "deletionTimestamp"])
                let stored = commit(type, key: key, namespace: namespace, object: marked, eventType: "MODIFIED", previous: current, in: &state)
                return Self.present(stored, as: type)
            }
            let uid = current.value(atPath: ["metadata", "uid"])?.stringValue
            if propagation == "Orphan", let uid { orphanDependents(of: uid, in: &state) }
            let removed = remove(type, key: key, namespace: namespace, object: current, in: &state)
            return Self.present(removed, as: type)
        }
    }

    /// Removes an object, then collects what depended on it.
    private func remove(_ type: ResourceType, key: String, namespace: String?, object: JSONValue, in state: inout State) -> JSONValue {
        state.objects[type.storageKey]?[key] = nil
        let uid = object.value(atPath: ["metadata", "uid"])?.stringValue
        if let uid {
            state.uids[uid] = nil
            state.applied[uid] = nil
        }
        let removed = commitDeletion(type, namespace: namespace, object: object, in: &state)
        if type.storageKey == "apiextensions.k8s.io/customresourcedefinitions" { unregisterCRD(object, in: &state) }
        if type.storageKey == "/namespaces", let name = object.value(atPath: ["metadata", "name"])?.stringValue {
            removeNamespaceContents(name, in: &state)
        }
        collectGarbage(removedUID: uid, in: &state)
        return removed
    }

    /// Deletes the dependents of a removed owner whose owners are now all gone, and
    /// so on down (cascading). Dependents are found through an index by owner uid, so
    /// the cost follows the number of dependents, not the number of objects.
    private func collectGarbage(removedUID: String?, in state: inout State) {
        var pending = removedUID.map { [$0] } ?? []
        while let uid = pending.popLast() {
            for reference in state.dependents.removeValue(forKey: uid) ?? [] {
                guard let object = state.objects[reference.storageKey]?[reference.key],
                    let owners = object.value(atPath: ["metadata", "ownerReferences"])?.arrayValue, !owners.isEmpty,
                    !owners.contains(where: { $0["uid"]?.stringValue.map { state.uids[$0] != nil } ?? false }),
                    let type = state.types.values.first(where: { $0.storageKey == reference.storageKey })
                else { continue }
                let namespace = object.value(atPath: ["metadata", "namespace"])?.stringValue
                if !(object.value(atPath: ["metadata", "finalizers"])?.arrayValue ?? []).isEmpty {
                    if object.value(atPath: ["metadata", "deletionTimestamp"]) == nil {
                        var marked = object
                        marked.setValue(.string(Time.now.description), atPath: ["metadata", "deletionTimestamp"])
                        commit(type, key: reference.key, namespace: namespace, object: marked, eventType: "MODIFIED", previous: object, in: &state)
                    }
                    continue
                }
                state.objects[reference.storageKey]?[reference.key] = nil
                if let dependentUID = object.value(atPath: ["metadata", "uid"])?.stringValue {
                    state.uids[dependentUID] = nil
                    state.applied[dependentUID] = nil
                    pending.append(dependentUID)
                }
                commitDeletion(type, namespace: namespace, object: object, in: &state)
            }
        }
    }

    private func orphanDependents(of uid: String, in state: inout State) {
        for (storageKey, objects) in state.objects {
            for (key, object) in objects {
                guard let owners = object.value(atPath: ["metadata", "ownerReferences"])?.arrayValue,
                    owners.contains(where: { $0["uid"]?.stringValue == uid }),
                    let type = state.types.values.first(where: { $0.storageKey == storageKey })
                else { continue }
                var released = object
                let rest = owners.filter { $0["uid"]?.stringValue != uid }
                released.setValue(rest.isEmpty ? nil : .array(rest), atPath: ["metadata", "ownerReferences"])
                let namespace = object.value(atPath: ["metadata", "namespace"])?.stringValue
                commit(type, key: key, namespace: namespace, object: released, eventType: "MODIFIED", previous: object, in: &state)
            }
        }
    }

    private func removeNamespaceContents(_ namespace: String, in state: inout State) {
        for (storageKey, objects) in state.objects {
            guard let type = state.types.values.first(where: { $0.storageKey == storageKey }), type.descriptor.namespaced else { continue }
            for (key, object) in objects where key.hasPrefix(namespace + "/") {
                state.objects[storageKey]?[key] = nil
                if let uid = object.value(atPath: ["metadata", "uid"])?.stringValue {
                    state.uids[uid] = nil
                    state.applied[uid] = nil
                }
                commitDeletion(type, namespace: namespace, object: object, in: &state)
            }
        }
    }

    // MARK: Scale

    /// The `autoscaling/v1` Scale of an object.
    public func scale(_ type: ResourceType, namespace: String?, name: String) throws -> JSONValue {
        let object = try get(type, namespace: namespace, name: name)
        return try Self.scale(of: object, type: type)
    }

    static func scale(of object: JSONValue, type: ResourceType) throws -> JSONValue {
        guard let paths = type.scale else { throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource") }
        var metadata: JSONValue = [:]
        for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let value = object.value(atPath: ["metadata", field]) { metadata[field] = value }
        }
        let specReplicas = object.value(atPath: paths.specReplicas)?.intValue ?? 0
        let statusReplicas = object.value(atPath: paths.statusReplicas)?.intValue ?? 0
        var selector: String?
        if let path = paths.labelSelector {
            selector = object.value(atPath: path)?.stringValue
        } else if let labelSelector = try? object.value(atPath: ["spec", "selector"])?.decode(as: LabelSelector.self) {
            selector = labelSelector.queryString
        }
        var status: JSONValue = ["replicas": .int(statusReplicas)]
        if let selector { status["selector"] = .string(selector) }
        return [
            "apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": metadata,
            "spec": ["replicas": .int(specReplicas)], "status": status,
        ]
    }

    /// Writes `spec.replicas` through the scale subresource (PUT or merge patch body).
    public func updateScale(
        _ type: ResourceType, namespace: String?, name: String, body: JSONValue, isPatch: Bool
    ) throws -> JSONValue {
        guard let paths = type.scale else { throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource") }
        let updated = try state.withLock { state in
            try replace(type, namespace: namespace, name: name, in: &state) { current, state in
                let currentScale = try Self.scale(of: current, type: type)
                let incoming = isPatch ? currentScale.merging(patch: body) : body
                if let rv = incoming.value(atPath: ["metadata", "resourceVersion"])?.stringValue, !rv.isEmpty,
                    rv != current.value(atPath: ["metadata", "resourceVersion"])?.stringValue
                {
                    throw APIError.conflict(type, name)
                }
                guard let replicas = incoming.value(atPath: ["spec", "replicas"])?.intValue, replicas >= 0 else {
                    throw APIError.invalid(type, name, [StatusCause(reason: "FieldValueInvalid", message: "Invalid value: must be greater than or equal to 0", field: "spec.replicas")])
                }
                var next = current
                next.setValue(.int(replicas), atPath: paths.specReplicas)
                return next
            } merge: { _, incoming in incoming }
        }
        return try Self.scale(of: updated, type: type)
    }

    // MARK: Bookkeeping

    @discardableResult
    private func commit(
        _ type: ResourceType, key: String, namespace: String?, object: JSONValue, eventType: String, previous: JSONValue?,
        in state: inout State
    ) -> JSONValue {
        state.resourceVersion += 1
        var stored = object
        stored.setValue(.string(String(state.resourceVersion)), atPath: ["metadata", "resourceVersion"])
        stored["apiVersion"] = .string(type.descriptor.apiVersion)
        stored["kind"] = .string(type.descriptor.kind)
        state.objects[type.storageKey, default: [:]][key] = stored
        if let uid = stored.value(atPath: ["metadata", "uid"])?.stringValue { state.uids[uid] = (type.storageKey, key) }
        for owner in stored.value(atPath: ["metadata", "ownerReferences"])?.arrayValue ?? [] {
            if let ownerUID = owner["uid"]?.stringValue {
                state.dependents[ownerUID, default: []].insert(ObjectReference(storageKey: type.storageKey, key: key))
            }
        }
        record(HistoryRecord(
            resourceVersion: state.resourceVersion, storageKey: type.storageKey, namespace: namespace, type: eventType,
            object: stored, previous: previous), in: &state)
        return stored
    }

    @discardableResult
    private func commitDeletion(_ type: ResourceType, namespace: String?, object: JSONValue, in state: inout State) -> JSONValue {
        state.resourceVersion += 1
        var stored = object
        stored.setValue(.string(String(state.resourceVersion)), atPath: ["metadata", "resourceVersion"])
        record(HistoryRecord(
            resourceVersion: state.resourceVersion, storageKey: type.storageKey, namespace: namespace, type: "DELETED",
            object: stored, previous: nil), in: &state)
        return stored
    }

    private func record(_ record: HistoryRecord, in state: inout State) {
        state.history.append(record)
        while state.history.count > historyLimit { state.history.removeFirst() }
        for entry in state.watchers.values {
            if let frame = Self.frame(for: record, watcher: entry) { entry.continuation.yield(frame) }
        }
    }

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

    // MARK: Helpers

    private static func checkTypeMeta(_ body: JSONValue, type: ResourceType, namespace: String?, requireName: Bool = true) throws -> JSONValue {
        var object = body
        if let apiVersion = body["apiVersion"]?.stringValue, !apiVersion.isEmpty {
            let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
            if group != type.descriptor.group {
                throw APIError.badRequest("the API version in the data (\(apiVersion)) does not match the expected API version (\(type.descriptor.apiVersion))")
            }
        }
        if let kind = body["kind"]?.stringValue, !kind.isEmpty, kind != type.descriptor.kind {
            throw APIError.badRequest("the kind in the data (\(kind)) does not match the expected kind (\(type.descriptor.kind))")
        }
        if let metadata = body["metadata"], metadata.objectValue == nil {
            throw APIError.badRequest("metadata must be an object")
        }
        if let bodyNamespace = body.value(atPath: ["metadata", "namespace"])?.stringValue, !bodyNamespace.isEmpty {
            if !type.descriptor.namespaced {
                object.setValue(nil, atPath: ["metadata", "namespace"])
            } else if bodyNamespace != namespace {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
        }
        return object
    }

    private static func ensureNamespace(_ type: ResourceType, _ namespace: String?, in state: inout State, autoCreate: Bool) throws {
        guard type.descriptor.namespaced, let namespace else { return }
        if state.objects[namespaceType.storageKey]?[namespace] != nil { return }
        guard autoCreate else {
            throw APIError(
                code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found",
                details: StatusDetails(name: namespace, kind: "namespaces"))
        }
        var object: JSONValue = ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]]
        object.setValue(.string(UUID().uuidString.lowercased()), atPath: ["metadata", "uid"])
        object.setValue(.string(Time.now.description), atPath: ["metadata", "creationTimestamp"])
        object["status"] = ["phase": "Active"]
        state.resourceVersion += 1
        object.setValue(.string(String(state.resourceVersion)), atPath: ["metadata", "resourceVersion"])
        state.objects[namespaceType.storageKey, default: [:]][namespace] = object
    }

    private static func validate(_ object: JSONValue, type: ResourceType, name: String) throws {
        var causes = Validation.metadata(object)
        causes += Validation.builtIn(type, object)
        if let schema = type.schema {
            var body = object
            for key in typeMetaKeys { body[key] = nil }
            var schemaCauses: [StatusCause] = []
            Validation.schema(schema, body, path: "", into: &schemaCauses)
            causes += schemaCauses
        }
        if !causes.isEmpty { throw APIError.invalid(type, name, causes) }
    }

    /// Server-side defaults that matter to clients comparing desired and live state.
    private static func defaulted(_ object: JSONValue, type: ResourceType) -> JSONValue {
        var object = object
        if let schema = type.schema {
            var body = object
            for key in typeMetaKeys { body[key] = nil }
            var defaulted = SchemaDefaults.apply(schema, to: body)
            for key in typeMetaKeys { defaulted[key] = object[key] }
            object = defaulted
        }
        switch (type.descriptor.group, type.descriptor.plural) {
        case ("apps", "deployments"):
            if object.value(atPath: ["spec", "replicas"]) == nil, object["spec"] != nil {
                object.setValue(.int(1), atPath: ["spec", "replicas"])
            }
        case ("", "services"):
            if object["spec"] != nil {
                if object.value(atPath: ["spec", "type"]) == nil { object.setValue("ClusterIP", atPath: ["spec", "type"]) }
                if let ports = object.value(atPath: ["spec", "ports"])?.arrayValue {
                    object.setValue(.array(ports.map { port in
                        var port = port
                        if port["protocol"] == nil { port["protocol"] = "TCP" }
                        if port["targetPort"] == nil, let number = port["port"] { port["targetPort"] = number }
                        return port
                    }), atPath: ["spec", "ports"])
                }
            }
        default:
            break
        }
        return object
    }

    /// Status the server itself maintains (namespaces, CRDs).
    private static func serverStatus(_ object: JSONValue, type: ResourceType) -> JSONValue {
        var object = object
        switch type.storageKey {
        case "/namespaces":
            object["status"] = ["phase": object.value(atPath: ["metadata", "deletionTimestamp"]) == nil ? "Active" : "Terminating"]
        case "apiextensions.k8s.io/customresourcedefinitions":
            let now = JSONValue.string(Time.now.description)
            let versions = (object.value(atPath: ["spec", "versions"])?.arrayValue ?? [])
                .filter { $0["storage"]?.boolValue == true }.compactMap { $0["name"] }
            let existing = object.value(atPath: ["status", "conditions"])
            object["status"] = [
                "acceptedNames": object.value(atPath: ["spec", "names"]) ?? [:],
                "storedVersions": .array(versions),
                "conditions": existing ?? [
                    ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now],
                    ["type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now],
                ],
            ]
        default:
            break
        }
        return object
    }

    /// Fields every object has, which a CRD's schema does not govern here.
    static let typeMetaKeys = ["apiVersion", "kind", "metadata"]

    /// A CRD schema without its `apiVersion`, `kind` and `metadata` properties, so
    /// validation and defaulting apply it to the rest of the object as it is.
    private static func withoutTypeMeta(_ schema: JSONValue) -> JSONValue {
        var schema = schema
        if var properties = schema["properties"]?.objectValue {
            for key in typeMetaKeys { properties[key] = nil }
            schema["properties"] = .object(properties)
        }
        return schema
    }

    private static func registerCRD(_ crd: JSONValue, in state: inout State) {
        guard let spec = crd["spec"], let group = spec["group"]?.stringValue,
            let plural = spec.value(atPath: ["names", "plural"])?.stringValue,
            let kind = spec.value(atPath: ["names", "kind"])?.stringValue
        else { return }
        let namespaced = spec["scope"]?.stringValue != "Cluster"
        // Versions no longer served stop being served.
        for (key, type) in state.types where type.descriptor.group == group && type.descriptor.plural == plural {
            state.types[key] = nil
        }
        for version in spec["versions"]?.arrayValue ?? [] where version["served"]?.boolValue != false {
            guard let name = version["name"]?.stringValue else { continue }
            var scale: ResourceType.ScalePaths?
            if let paths = version.value(atPath: ["subresources", "scale"]),
                let specPath = paths["specReplicasPath"]?.stringValue, let statusPath = paths["statusReplicasPath"]?.stringValue
            {
                scale = ResourceType.ScalePaths(
                    specReplicasPath: specPath, statusReplicasPath: statusPath,
                    labelSelectorPath: paths["labelSelectorPath"]?.stringValue)
            }
            let type = ResourceType(
                ResourceDescriptor(group: group, version: name, plural: plural, kind: kind, namespaced: namespaced),
                singular: spec.value(atPath: ["names", "singular"])?.stringValue ?? kind.lowercased(),
                shortNames: spec.value(atPath: ["names", "shortNames"])?.arrayValue?.compactMap(\.stringValue) ?? [],
                categories: spec.value(atPath: ["names", "categories"])?.arrayValue?.compactMap(\.stringValue) ?? [],
                hasStatus: version.value(atPath: ["subresources", "status"]) != nil, scale: scale,
                schema: version.value(atPath: ["schema", "openAPIV3Schema"]).map(withoutTypeMeta),
                printerColumns: version["additionalPrinterColumns"]?.arrayValue ?? [])
            register(type, in: &state)
        }
    }

    private func unregisterCRD(_ crd: JSONValue, in state: inout State) {
        guard let group = crd.value(atPath: ["spec", "group"])?.stringValue,
            let plural = crd.value(atPath: ["spec", "names", "plural"])?.stringValue
        else { return }
        let storageKey = "\(group)/\(plural)"
        guard let type = state.types.values.first(where: { $0.storageKey == storageKey }) else { return }
        for (_, object) in state.objects[storageKey] ?? [:] {
            if let uid = object.value(atPath: ["metadata", "uid"])?.stringValue {
                state.uids[uid] = nil
                state.applied[uid] = nil
            }
            commitDeletion(type, namespace: object.value(atPath: ["metadata", "namespace"])?.stringValue, object: object, in: &state)
        }
        state.objects[storageKey] = nil
        for (key, type) in state.types where type.storageKey == storageKey { state.types[key] = nil }
        for (id, entry) in state.watchers where entry.type.storageKey == storageKey {
            entry.continuation.finish()
            state.watchers[id] = nil
        }
    }
}
