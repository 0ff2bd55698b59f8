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
                if case .apply(let manager, let force) = kind, let uid = current.value(atPath: ["metadata", "uid"])?.stringValue {
                    if !force {
                        try Self.checkConflicts(
                            applying: Self.appliedFields(of: checkedPatch), by: manager, live: current,
                            others: (state.applied[uid] ?? [:]).filter { $0.key != manager }, type: type)
                    }
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

    /// An apply without `force` that would change a field another manager applied
    /// fails with 409 and one cause per field, as kube-apiserver answers; with `force`
    /// the field changes hands. (LocalKube tracks owners of applied fields only; fields
    /// set by updates and merge patches have no owner here.)
    static func checkConflicts(
        applying body: JSONValue, by manager: String, live: JSONValue, others: [String: JSONValue], type: ResourceType
    ) throws {
        var conflicts: [(manager: String, field: [String])] = []
        for (other, owned) in others.sorted(by: { $0.key < $1.key }) {
            for path in leafPaths(of: body) where path.first != "apiVersion" && path.first != "kind" && path != ["metadata", "name"]
                && path != ["metadata", "namespace"]
            {
                guard owned.value(atPath: path) != nil, let wanted = body.value(atPath: path), live.value(atPath: path) != wanted else { continue }
                conflicts.append((other, path))
            }
        }
        guard !conflicts.isEmpty else { return }
        func owner(_ entry: (manager: String, field: [String])) -> String {
            let subresource = type.hasStatus && entry.field.first == "status" ? " with subresource \"status\"" : ""
            return "conflict with \"\(entry.manager)\"\(subresource)"
        }
        let causes = conflicts.map { StatusCause(reason: "FieldManagerConflict", message: owner($0), field: "." + $0.field.joined(separator: ".")) }
        let message: String
        if conflicts.count == 1 {
            message = "Apply failed with 1 conflict: \(owner(conflicts[0])): .\(conflicts[0].field.joined(separator: "."))"
        } else {
            message = "Apply failed with \(conflicts.count) conflicts: "
                + conflicts.map { "\(owner($0)): .\($0.field.joined(separator: "."))" }.joined(separator: "; ")
        }
        var error = APIError(code: 409, reason: "Conflict", message: message)
        error.status.details = StatusDetails(causes: causes)
        throw error
    }

    /// Paths to every non-object value (lists count as one value) in `value`.
    static func leafPaths(of value: JSONValue, prefix: [String] = []) -> [[String]] {
        guard case .object(let members) = value, !members.isEmpty else { return prefix.isEmpty ? [] : [prefix] }
        return members.keys.sorted().flatMap { leafPaths(of: members[$0]!, prefix: prefix + [$0]) }
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
