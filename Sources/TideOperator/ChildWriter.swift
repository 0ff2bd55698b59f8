#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import KubeAPIExtensions
import KubeClient
import KubeRuntime

/// Writes an owner's children (an Application's or an Autoscaler's): compares each
/// with the cached live object, creates, applies or replaces only what differs, never
/// touches an object another owner controls, and prunes children no longer desired.
struct ChildWriter: Sendable {
    let client: KubeClient
    let children: [ChildKind]
    let settings: OperatorSettings

    enum LiveState: Equatable { case notCached, missing, upToDate, differs, foreign, replace(uid: String?) }

    /// What reconciling one child did.
    enum ChildOutcome: Equatable, Sendable {
        case upToDate, created, updated, replaced, foreign
        /// The server refused the child (not retryable at the transport level).
        case rejected(String)
    }

    /// Brings one child to its desired state, writing only where it differs.
    ///
    /// A child the cache does not hold is usually absent (a new Application): it is
    /// created with one create-only apply. Only when the server says an object of
    /// that name exists (someone else's, or Tide's without Tide's labels) is it read
    /// and judged, so a foreign object is never written to.
    func converge(_ child: DesiredChild, namespace: String, ownerUID: String, applied: AppliedObjects) async throws -> ChildOutcome {
        func write() async throws {
            applied.record(child.resource, child.name, try await apply(child, namespace: namespace))
        }
        do {
            var state = try cachedState(of: child, namespace: namespace, ownerUID: ownerUID)
            if state == .notCached {
                if let created = try await applyIfAbsent(child, namespace: namespace) {
                    applied.record(child.resource, child.name, created)
                    return .created
                }
                state = try await readState(of: child, namespace: namespace, ownerUID: ownerUID)
            }
            switch state {
            case .foreign: return .foreign
            case .upToDate: return .upToDate
            case .replace(let uid):
                // Immutable fields differ: delete (only that very object) and create.
                do {
                    try await client.resource(DynamicObject.self, at: child.resource, namespace: namespace).delete(child.name, preconditionUID: uid)
                } catch KubeError.notFound {}
                try await write()
                return .replaced
            case .missing, .notCached:
                try await write()
                return .created
            case .differs:
                try await write()
                return .updated
            }
        } catch let error as KubeError where !error.isRetryable {
            return .rejected("\(error)")
        }
    }

    /// Compares a desired child with the cached live object; ``LiveState/notCached``
    /// when the cache has none (the object may still exist without Tide's labels).
    func cachedState(of child: DesiredChild, namespace: String, ownerUID: String) throws -> LiveState {
        let key = ObjectKey(namespace: namespace, name: child.name)
        guard let live = try children.first(where: { $0.resource == child.resource })?.live(key) else { return .notCached }
        return Self.state(of: child, live: live, ownerUID: ownerUID)
    }

    /// Reads the child from the server (the cache did not have it) and compares.
    func readState(of child: DesiredChild, namespace: String, ownerUID: String) async throws -> LiveState {
        let handle = client.resource(DynamicObject.self, at: child.resource, namespace: namespace)
        guard let object = try await handle.getIfPresent(child.name) else { return .missing }
        return Self.state(of: child, live: (object.metadata, try JSONValue(encoding: object)), ownerUID: ownerUID)
    }

    static func state(of child: DesiredChild, live: (meta: ObjectMeta, json: JSONValue), ownerUID: String) -> LiveState {
        guard live.meta.controllerReference?.uid == ownerUID else { return .foreign }
        if child.body.isSubset(of: live.json) { return .upToDate }
        return Children.requiresReplacement(child, live: live.json) ? .replace(uid: live.meta.uid) : .differs
    }

    /// Creates `child` with a create-only apply; `nil` when an object of that name exists.
    func applyIfAbsent(_ child: DesiredChild, namespace: String) async throws -> DynamicObject? {
        let handle = client.resource(DynamicObject.self, at: child.resource, namespace: namespace)
        return try await handle.applyIfAbsent(try child.body.decode(as: DynamicObject.self), fieldManager: settings.fieldManager)
    }

    /// Server-side applies `child` and returns the object the server now holds.
    @discardableResult
    func apply(_ child: DesiredChild, namespace: String) async throws -> DynamicObject {
        let handle = client.resource(DynamicObject.self, at: child.resource, namespace: namespace)
        let object = try child.body.decode(as: DynamicObject.self)
        return try await handle.apply(object, fieldManager: settings.fieldManager, force: true)
    }

    /// Deletes children `ownerUID` controls that are not among `desired`.
    ///
    /// - Returns: how many were stale, and those this call deleted.
    func removeStale(ownerUID uid: String, keeping desired: [DesiredChild], namespace: String) async throws -> (found: Int, removed: [(ResourceDescriptor, String)]) {
        let wanted = Set(desired.map { "\($0.resource.plural)/\($0.name)" })
        var stale: [(ResourceDescriptor, String)] = []
        for kind in children {
            for (name, _) in kind.versions(uid) where !wanted.contains("\(kind.resource.plural)/\(name)") {
                stale.append((kind.resource, name))
            }
        }
        var removed: [(ResourceDescriptor, String)] = []
        for (resource, name) in stale {
            do {
                try await client.resource(DynamicObject.self, at: resource, namespace: namespace).delete(name, preconditionUID: nil)
                removed.append((resource, name))
            } catch KubeError.notFound {
                continue
            }
        }
        return (stale.count, removed)
    }
}
