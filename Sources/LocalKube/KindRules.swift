import DequeModule
import Foundation
import KubeAPI
import Synchronization

/// Per-kind rules LocalKube applies on every write, as the real API server does: type
/// metadata agreeing with the URL, namespaces, defaults and validation (built-in and
/// CRD schemas), status the server computes, immutable fields, and CRDs becoming
/// served kinds.
extension ObjectStore {
    // MARK: Helpers

    static func checkTypeMeta(_ body: JSONValue, type: ResourceType, namespace: String?, requireName: Bool = true) throws -> JSONValue {
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

    static func ensureNamespace(_ type: ResourceType, _ namespace: String?, in state: inout State, autoCreate: Bool) throws {
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

    static func validate(_ object: JSONValue, type: ResourceType, name: String) throws {
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
    static func defaulted(_ object: JSONValue, type: ResourceType) -> JSONValue {
        var object = object
        if let schema = type.schema {
            var body = object
            for key in typeMetaKeys { body[key] = nil }
            var defaulted = SchemaDefaults.apply(schema, to: body)
            for key in typeMetaKeys { defaulted[key] = object[key] }
            object = defaulted
        }
        switch (type.descriptor.group, type.descriptor.plural) {
        case ("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets"):
            if object.value(atPath: ["spec", "replicas"]) == nil, object["spec"] != nil {
                object.setValue(.int(1), atPath: ["spec", "replicas"])
            }
        case ("autoscaling", "horizontalpodautoscalers"):
            if object.value(atPath: ["spec", "minReplicas"]) == nil, object["spec"] != nil {
                object.setValue(.int(1), atPath: ["spec", "minReplicas"])
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
    static func serverStatus(_ object: JSONValue, type: ResourceType) -> JSONValue {
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
    static func withoutTypeMeta(_ schema: JSONValue) -> JSONValue {
        var schema = schema
        if var properties = schema["properties"]?.objectValue {
            for key in typeMetaKeys { properties[key] = nil }
            schema["properties"] = .object(properties)
        }
        return schema
    }

    static func registerCRD(_ crd: JSONValue, in state: inout State) {
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

    func unregisterCRD(_ crd: JSONValue, in state: inout State) {
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

    /// Fields the real API server refuses to change once set: a RoleBinding's
    /// `roleRef`, a Deployment's `spec.selector`. (A client must delete and create.)
    static func checkImmutable(current: JSONValue, next: JSONValue, type: ResourceType, name: String) throws {
        let immutable: [[String]]
        switch type.storageKey {
        case "rbac.authorization.k8s.io/rolebindings", "rbac.authorization.k8s.io/clusterrolebindings": immutable = [["roleRef"]]
        case "apps/deployments": immutable = [["spec", "selector"]]
        default: return
        }
        for path in immutable {
            let before = current.value(atPath: path)
            if before != nil, next.value(atPath: path) != before {
                let field = path.joined(separator: ".")
                throw APIError.invalid(type, name, [StatusCause(
                    reason: "FieldValueInvalid", message: "Invalid value: field is immutable: cannot change \(field)", field: field)])
            }
        }
    }

    /// A write that names a resourceVersion succeeds only against that very version (409).
    static func checkResourceVersion(of body: JSONValue, against current: JSONValue, type: ResourceType, name: String) throws {
        if let rv = body.value(atPath: ["metadata", "resourceVersion"])?.stringValue, !rv.isEmpty,
            rv != current.value(atPath: ["metadata", "resourceVersion"])?.stringValue
        {
            throw APIError.conflict(type, name)
        }
    }
}
