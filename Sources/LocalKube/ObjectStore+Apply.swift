import DequeModule
import Foundation
import KubeAPI
import Synchronization

/// PATCH: JSON merge patch, and server-side apply with field managers (fields a
/// manager stops applying are removed).
extension ObjectStore {
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
                    throw APIError.nameMismatch(bodyName, name)
                }
            }
            return try replace(type, namespace: namespace, name: name, in: &state) { current, state in
                try Self.checkResourceVersion(of: patch, against: current, type: type, name: name)
                var patched = current.merging(patch: checkedPatch)
                if case .apply(let manager, _) = kind, let uid = current.value(atPath: ["metadata", "uid"])?.stringValue {
                    if let previous = state.applied[uid]?[manager] {
                        patched = Self.removeReleased(patched, previouslyApplied: previous, nowApplied: checkedPatch)
                    }
                    state.applied[uid, default: [:]][manager] = Self.appliedFields(of: checkedPatch)
                }
                return patched
            } merge: { current, incoming in
                Self.combine(current: current, incoming: incoming, type: type, subresource: subresource)
            }
        }
    }

    /// What an apply body makes its manager own: not the preconditions
    /// (`metadata.resourceVersion`, `metadata.uid`), which the server never assigns to
    /// a manager.
    static func appliedFields(of body: JSONValue) -> JSONValue {
        var fields = body
        fields.setValue(nil, atPath: ["metadata", "resourceVersion"])
        fields.setValue(nil, atPath: ["metadata", "uid"])
        return fields
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
}
