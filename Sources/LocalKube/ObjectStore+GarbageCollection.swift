import DequeModule
import Foundation
import KubeAPI
import Synchronization

/// Deletion: finalizers, owner-reference garbage collection (Background and Orphan)
/// and namespace deletion.
extension ObjectStore {
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
    func remove(_ type: ResourceType, key: String, namespace: String?, object: JSONValue, in state: inout State) -> JSONValue {
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
    func collectGarbage(removedUID: String?, in state: inout State) {
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

    func orphanDependents(of uid: String, in state: inout State) {
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

    func removeNamespaceContents(_ namespace: String, in state: inout State) {
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
}
