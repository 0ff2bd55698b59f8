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

    static func typeKey(_ group: String, _ version: String, _ plural: String) -> String {
        "\(group)/\(version)/\(plural)"
    }

    static func register(_ type: ResourceType, in state: inout State) {
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

    // MARK: Bookkeeping

    @discardableResult
    func commit(
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
    func commitDeletion(_ type: ResourceType, namespace: String?, object: JSONValue, in state: inout State) -> JSONValue {
        state.resourceVersion += 1
        var stored = object
        stored.setValue(.string(String(state.resourceVersion)), atPath: ["metadata", "resourceVersion"])
        record(HistoryRecord(
            resourceVersion: state.resourceVersion, storageKey: type.storageKey, namespace: namespace, type: "DELETED",
            object: stored, previous: nil), in: &state)
        return stored
    }

    func record(_ record: HistoryRecord, in state: inout State) {
        state.history.append(record)
        while state.history.count > historyLimit { state.history.removeFirst() }
        for entry in state.watchers.values {
            if let frame = Self.frame(for: record, watcher: entry) { entry.continuation.yield(frame) }
        }
    }
}
