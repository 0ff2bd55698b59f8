import DequeModule
import Foundation
import KubeAPI
import Synchronization

/// Creating and replacing objects, with the server's bookkeeping (uid, generation,
/// resourceVersion, status kept apart), and the scale subresource.
extension ObjectStore {
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
                state.applied[uid, default: [:]][fieldManager] = Self.appliedFields(of: body)
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
                throw APIError.nameMismatch(bodyName, name)
            }
            return try replace(type, namespace: namespace, name: name, in: &state) { current, state in
                try Self.checkResourceVersion(of: incoming, against: current, type: type, name: name)
                return incoming
            } merge: { current, incoming in
                Self.combine(current: current, incoming: incoming, type: type, subresource: subresource)
            }
        }
    }

    /// Reads, transforms and stores one object under the lock, with the server's
    /// bookkeeping (immutable metadata, generation, resourceVersion, finalizers).
    func replace(
        _ type: ResourceType, namespace: String?, name: String, in state: inout State,
        transform: (JSONValue, inout State) throws -> JSONValue, merge: (JSONValue, JSONValue) -> JSONValue
    ) throws -> JSONValue {
        let key = Self.objectKey(namespace, name)
        guard let current = state.objects[type.storageKey]?[key] else { throw APIError.notFound(type, name) }
        var next = merge(current, try transform(current, &state))
        try Self.checkImmutable(current: current, next: next, type: type, name: name)
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
                try Self.checkResourceVersion(of: incoming, against: current, type: type, name: name)
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
}
