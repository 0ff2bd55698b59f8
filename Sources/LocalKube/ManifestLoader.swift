import Foundation
import KubeAPI
import Yams

/// Reads Kubernetes manifests (multi-document YAML or JSON) and creates or applies
/// them directly in a store, the way `kubectl apply -f` would.
public enum ManifestLoader {
    /// Parses every document of a YAML or JSON text into objects; `List` kinds are unpacked.
    public static func objects(in text: String) throws -> [JSONValue] {
        var result: [JSONValue] = []
        for document in try Yams.load_all(yaml: text) {
            let value = try JSONValue(yaml: document)
            if value["kind"]?.stringValue?.hasSuffix("List") == true, let items = value["items"]?.arrayValue {
                result.append(contentsOf: items)
            } else if case .object = value {
                result.append(value)
            }
        }
        return result
    }

    /// Applies the manifests in a file, or in every `.yaml`/`.yml`/`.json` file of a
    /// directory (sorted by name, `kustomization.yaml` skipped), with field manager
    /// `local-kube`.
    ///
    /// - Returns: the stored objects.
    @discardableResult
    public static func apply(path: String, to store: ObjectStore) throws -> [JSONValue] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw APIError.badRequest("\(path) does not exist")
        }
        var files = [path]
        if isDirectory.boolValue {
            files = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
                // Kustomize's own file describes how to build manifests; it is not one.
                .filter { $0 != "kustomization.yaml" && $0 != "kustomization.yml" }
                .sorted().map { (path as NSString).appendingPathComponent($0) }
        }
        var stored: [JSONValue] = []
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            for object in try objects(in: text) {
                stored.append(try apply(object, to: store))
            }
        }
        return stored
    }

    /// Applies one object: its kind must be served by the store.
    public static func apply(_ object: JSONValue, to store: ObjectStore) throws -> JSONValue {
        guard let apiVersion = object["apiVersion"]?.stringValue, let kind = object["kind"]?.stringValue,
            let name = object.value(atPath: ["metadata", "name"])?.stringValue
        else {
            throw APIError.badRequest("a manifest needs apiVersion, kind and metadata.name")
        }
        let parts = apiVersion.split(separator: "/").map(String.init)
        let group = parts.count == 2 ? parts[0] : ""
        let version = parts.last ?? "v1"
        guard let type = store.types.first(where: {
            $0.descriptor.group == group && $0.descriptor.version == version && $0.descriptor.kind == kind
        }) else {
            throw APIError.badRequest("no kind \(kind) is served at \(apiVersion)")
        }
        let namespace = type.descriptor.namespaced
            ? (object.value(atPath: ["metadata", "namespace"])?.stringValue ?? "default") : nil
        return try store.patch(
            type, namespace: namespace, name: name, patch: object, kind: .apply(fieldManager: "local-kube", force: true))
    }
}
