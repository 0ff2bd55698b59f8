/// Where a kind is served: its group, version, plural resource name and scope.
public struct ResourceDescriptor: Sendable, Hashable, Codable, CustomStringConvertible {
    /// API group; empty for the core group (`v1`).
    public var group: String
    public var version: String
    /// Plural resource name used in URLs, e.g. `deployments`.
    public var plural: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    /// `apps/v1`, or `v1` for the core group.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `deployments.apps`, the name kubectl and RBAC use.
    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// The URL path of the collection, e.g. `/apis/apps/v1/namespaces/demo/deployments`.
    /// A `nil` namespace addresses every namespace (or a cluster-scoped resource).
    public func collectionPath(namespace: String?) -> String {
        let root = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace {
            return "\(root)/namespaces/\(namespace)/\(plural)"
        }
        return "\(root)/\(plural)"
    }

    /// The URL path of one object, optionally a subresource of it.
    public func objectPath(namespace: String?, name: String, subresource: String? = nil) -> String {
        let path = collectionPath(namespace: namespace) + "/" + name
        return subresource.map { path + "/" + $0 } ?? path
    }
}

/// A Kubernetes object type Tide reads or writes.
///
/// Conforming types model only the fields Tide uses; optional fields that are `nil`
/// are omitted from the JSON, so a server-side apply claims exactly the fields set.
public protocol KubernetesObject: Codable, Sendable {
    /// Where objects of this type are served.
    static var resource: ResourceDescriptor { get }
    var apiVersion: String? { get set }
    var kind: String? { get set }
    var metadata: ObjectMeta { get set }

    /// Replaces strings that many objects repeat with one shared copy each, leaving
    /// the value unchanged (``StringInterner``); caches call it on what they keep. The
    /// default shares `apiVersion` and the metadata's.
    mutating func internStrings(_ interner: StringInterner)
}

extension KubernetesObject {
    /// `metadata.name`, or the empty string if unset.
    public var name: String { metadata.name ?? "" }
    /// `metadata.namespace`, if set.
    public var namespace: String? { metadata.namespace }

    /// Fills `apiVersion` and `kind` from the type's resource descriptor.
    public mutating func setTypeMeta() {
        apiVersion = Self.resource.apiVersion
        kind = Self.resource.kind
    }
}

/// A type that lives in a namespace (Deployment, Service, ...).
public protocol NamespacedObject: KubernetesObject {}

/// A type that is cluster-wide (Namespace, CustomResourceDefinition, ...).
public protocol ClusterScopedObject: KubernetesObject {}

/// A type served with a `status` subresource. Only such types get status calls on a
/// resource handle; for any other type those calls do not compile.
public protocol HasStatusSubresource: KubernetesObject {
    associatedtype StatusType: Codable & Sendable
    var status: StatusType? { get set }
}

/// A type served with a `scale` subresource (Deployment, CRDs that declare one).
public protocol HasScaleSubresource: KubernetesObject {}

/// One event of a watch stream.
public enum WatchEvent<Object: Sendable>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// A progress marker carrying only a resourceVersion.
    case bookmark(resourceVersion: String)
    /// An in-stream error, e.g. `410 Gone` when the requested resourceVersion is too old.
    case error(Status)
    /// An `ADDED`, `MODIFIED` or `DELETED` event whose object Tide's type cannot read;
    /// `type` is the event type. The stream goes on; its resourceVersion still counts.
    case undecodable(type: String, UndecodableObject)
}

extension WatchEvent {
    /// The object carried by `added`, `modified` or `deleted`.
    public var object: Object? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): return object
        case .bookmark, .error, .undecodable: return nil
        }
    }

    /// The wire name of the event type (`ADDED`, `MODIFIED`, ...).
    public var typeName: String {
        switch self {
        case .added: return "ADDED"
        case .modified: return "MODIFIED"
        case .deleted: return "DELETED"
        case .bookmark: return "BOOKMARK"
        case .error: return "ERROR"
        case .undecodable(let type, _): return type
        }
    }
}

extension WatchEvent where Object: KubernetesObject {
    /// Decodes one watch event line (`{"type":"ADDED","object":{...}}`).
    public init(json data: some Collection<UInt8>) throws {
        let data = Data(data)
        let decoder = KubeJSON.decoder
        let type = try decoder.decode(EventType.self, from: data).type
        func object() throws -> Result<Object, UndecodableObject> {
            try decoder.decode(Envelope<TolerantElement<Object>>.self, from: data).object.result
        }
        switch type {
        case "ADDED", "MODIFIED", "DELETED":
            switch try object() {
            case .success(let object):
                self = type == "ADDED" ? .added(object) : type == "MODIFIED" ? .modified(object) : .deleted(object)
            case .failure(let failure):
                self = .undecodable(type: type, failure)
            }
        case "BOOKMARK":
            let meta = try decoder.decode(Envelope<BookmarkObject>.self, from: data).object.metadata
            self = .bookmark(resourceVersion: meta.resourceVersion ?? "")
        case "ERROR": self = .error(try decoder.decode(Envelope<Status>.self, from: data).object)
        default:
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: "unknown watch event type '\(type)'"))
        }
    }
}

private struct EventType: Decodable { var type: String }
private struct Envelope<Object: Decodable>: Decodable { var object: Object }
private struct BookmarkObject: Decodable { var metadata: ListMeta }

/// A watch event before its object is typed.
public struct RawWatchEvent: Sendable, Codable, Hashable {
    public var type: String
    public var object: JSONValue

    public init(type: String, object: JSONValue) {
        self.type = type
        self.object = object
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
