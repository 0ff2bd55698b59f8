import AsyncHTTPClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeAPI
import NIOCore
import NIOHTTP1

/// Scope marker: one namespace, or a cluster-scoped type. Every verb is available.
public enum SingleScope: Sendable {}
/// Scope marker: a namespaced type across all namespaces. Only list and watch.
public enum AllNamespacesScope: Sendable {}

/// A typed handle on one resource, scoped once when it is made.
///
/// Which calls exist depends on the scope and the type, checked by the compiler:
/// `get`/`create`/`apply`/... only on ``SingleScope`` handles; status calls only when
/// `K` has a status subresource; scale calls only when it has a scale subresource.
public struct ResourceClient<K: KubernetesObject, Scope>: Sendable {
    public let client: KubeClient
    public let resource: ResourceDescriptor
    /// The namespace, or `nil` for a cluster-scoped type or all namespaces.
    public let namespace: String?

    init(client: KubeClient, resource: ResourceDescriptor, namespace: String?) {
        self.client = client
        self.resource = resource
        self.namespace = namespace
    }

    var collectionPath: String { resource.collectionPath(namespace: namespace) }

    // MARK: list and watch (every scope)

    /// One page of the collection. Each item has its `apiVersion` and `kind` set (a
    /// server leaves them out of list items), as in a watch event.
    ///
    /// - Parameters:
    ///   - labelSelector: query form, e.g. `app.kubernetes.io/managed-by=tide`.
    ///   - limit: page size; the result's `metadata.continue` fetches the next page.
    ///   - continueToken: the token of the previous page.
    public func list(
        labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil
    ) async throws -> ObjectList<K> {
        var query: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        if let limit { query.append(("limit", String(limit))) }
        if let continueToken, !continueToken.isEmpty { query.append(("continue", continueToken)) }
        var list = try await client.request(.GET, path: collectionPath, query: query, as: ObjectList<K>.self)
        // A list's items come without apiVersion and kind (the list has them); a watch
        // event's object has both. Fill them, so an object reads the same either way.
        for index in list.items.indices { list.items[index].setTypeMeta(resource) }
        return list
    }

    /// Every object, fetched page by page. The result's resourceVersion is the first
    /// page's, so a watch started from it misses nothing.
    public func listAll(labelSelector: String? = nil, pageSize: Int = 500) async throws -> ObjectList<K> {
        var first = try await list(labelSelector: labelSelector, limit: pageSize)
        var token = first.metadata.continue
        while let next = token, !next.isEmpty {
            let page = try await list(labelSelector: labelSelector, limit: pageSize, continueToken: next)
            first.items.append(contentsOf: page.items)
            first.undecodable.append(contentsOf: page.undecodable)
            token = page.metadata.continue
        }
        first.metadata.continue = nil
        first.metadata.remainingItemCount = nil
        return first
    }

    /// Opens one watch and returns its raw event stream.
    ///
    /// The stream ends when the server ends the watch (`timeoutSeconds`), and throws
    /// if the connection fails or an event cannot be decoded. In-stream errors (such
    /// as 410 Gone) arrive as ``WatchEvent/error(_:)`` values. Reconnecting and
    /// resuming are the watcher's job, not this call's.
    ///
    /// - Throws: ``KubeError`` if the server refuses the watch (e.g. `gone` for a
    ///   resourceVersion that is too old).
    public func watch(
        resourceVersion: String? = nil, labelSelector: String? = nil, timeoutSeconds: Int? = 290,
        allowBookmarks: Bool = true
    ) async throws -> AsyncThrowingStream<WatchEvent<K>, any Error> {
        var query: [(String, String)] = [("watch", "true")]
        if let resourceVersion, !resourceVersion.isEmpty { query.append(("resourceVersion", resourceVersion)) }
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
        if allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        let response = try await client.openStream(path: collectionPath, query: query)
        let (stream, continuation) = AsyncThrowingStream<WatchEvent<K>, any Error>.makeStream()
        let task = Task {
            var splitter = JSONStreamSplitter()
            do {
                for try await chunk in response.body {
                    for object in try splitter.append(chunk.readableBytesView) {
                        do {
                            continuation.yield(try WatchEvent<K>(json: object))
                        } catch {
                            throw KubeError.undecodable(
                                type: "watch event of \(resource)", reason: KubeClient.describe(decodingError: error))
                        }
                    }
                }
                continuation.finish()
            } catch let error as KubeError {
                continuation.finish(throwing: error)
            } catch let error as JSONStreamError {
                continuation.finish(throwing: KubeError.undecodable(type: "watch stream of \(resource)", reason: "\(error)"))
            } catch {
                continuation.finish(throwing: KubeError.transport(KubeClient.describe(transportError: error)))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// What a delete returned: the object (still terminating, or as it was when removed),
/// or a Status.
public enum DeleteResult<K: KubernetesObject>: Sendable {
    case object(K)
    case status(Status)
}

extension ResourceClient where Scope == SingleScope {
    func objectPath(_ name: String, _ subresource: String? = nil) -> String {
        resource.objectPath(namespace: namespace, name: name, subresource: subresource)
    }

    /// The object named `name`.
    public func get(_ name: String) async throws -> K {
        try await client.request(.GET, path: objectPath(name), as: K.self)
    }

    /// The object named `name`, or `nil` if it does not exist.
    public func getIfPresent(_ name: String) async throws -> K? {
        do { return try await get(name) } catch KubeError.notFound { return nil }
    }

    /// Creates `object`; its namespace is set to the handle's.
    public func create(_ object: K) async throws -> K {
        var object = object
        object.setTypeMeta(resource)
        if let namespace { object.metadata.namespace = namespace }
        return try await client.request(
            .POST, path: collectionPath, body: try encode(object), as: K.self)
    }

    /// Replaces the object (PUT). The object's `metadata.resourceVersion` is the
    /// precondition: a stale one fails with ``KubeError/conflict(_:)``. Only use with
    /// a complete object just read from the server, never a partly modelled one.
    public func update(_ object: K) async throws -> K {
        var object = object
        object.setTypeMeta(resource)
        if let namespace { object.metadata.namespace = namespace }
        return try await client.request(.PUT, path: objectPath(object.name), body: try encode(object), as: K.self)
    }

    /// Server-side apply: sends exactly the fields set in `object` as the
    /// configuration owned by `fieldManager`, creating the object if it is absent.
    public func apply(_ object: K, fieldManager: String, force: Bool = true) async throws -> K {
        var object = object
        object.setTypeMeta(resource)
        if let namespace { object.metadata.namespace = namespace }
        return try await client.request(
            .PATCH, path: objectPath(object.name), query: applyQuery(fieldManager, force), body: try encode(object),
            contentType: "application/apply-patch+yaml", as: K.self)
    }

    /// Server-side apply that only creates: when no object of that name exists it is
    /// created, `fieldManager` owning every field sent, exactly as ``apply(_:fieldManager:force:)``
    /// would; when one exists it is left untouched and `nil` is returned.
    ///
    /// One request instead of a GET followed by an apply. The apply carries
    /// ``absentResourceVersion`` as its resourceVersion precondition, which no stored
    /// object can have: an existing object of any owner is refused with 409 Conflict
    /// before anything is merged, while the create-on-apply path does not compare it.
    /// A server that refuses the precondition on create as well (500 "resourceVersion
    /// should not be set", or a 409 for an absent object) also answers `nil`: the caller
    /// reads the object and decides, so correctness never depends on which it was.
    ///
    /// - Returns: the created object, or `nil` when the server did not create one.
    public func applyIfAbsent(_ object: K, fieldManager: String) async throws -> K? {
        var object = object
        object.metadata.resourceVersion = Self.absentResourceVersion
        do {
            return try await apply(object, fieldManager: fieldManager, force: true)
        } catch KubeError.conflict {
            return nil
        } catch KubeError.server(let code, let status) where code == 500 && (status.message ?? "").contains("resourceVersion") {
            return nil
        }
    }

    /// The resourceVersion ``applyIfAbsent(_:fieldManager:)`` sends: the largest
    /// unsigned 64-bit number, a revision no storage reaches.
    public static var absentResourceVersion: String { String(UInt64.max) }

    /// JSON merge patch (RFC 7386): objects merge, `null` removes, lists replace.
    public func mergePatch(_ name: String, patch: JSONValue) async throws -> K {
        try await client.request(
            .PATCH, path: objectPath(name), body: try encode(patch), contentType: "application/merge-patch+json",
            as: K.self)
    }

    /// Deletes the object. Dependents are removed by the garbage collector
    /// (`propagationPolicy`, default `Background`).
    ///
    /// - Parameter preconditionUID: delete only if the object still has this uid.
    @discardableResult
    public func delete(
        _ name: String, propagationPolicy: String = "Background", preconditionUID: String? = nil
    ) async throws -> DeleteResult<K> {
        var options: JSONValue = ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": .string(propagationPolicy)]
        if let preconditionUID { options["preconditions"] = ["uid": .string(preconditionUID)] }
        let response = try await client.send(.DELETE, path: objectPath(name), body: try encode(options))
        let data = Data(response.body)
        if let status = try? KubeJSON.decoder.decode(Status.self, from: data), status.kind == "Status" {
            return .status(status)
        }
        do {
            return .object(try KubeJSON.decoder.decode(K.self, from: data))
        } catch {
            throw KubeError.undecodable(type: "\(K.self)", reason: KubeClient.describe(decodingError: error))
        }
    }

    func applyQuery(_ fieldManager: String, _ force: Bool) -> [(String, String)] {
        [("fieldManager", fieldManager), ("force", force ? "true" : "false")]
    }

    func encode(_ value: some Encodable) throws -> [UInt8] {
        do {
            return Array(try KubeJSON.encoder.encode(value))
        } catch {
            throw KubeError.undecodable(type: "\(type(of: value))", reason: "cannot be encoded: \(error)")
        }
    }
}

extension ResourceClient where Scope == SingleScope, K: HasStatusSubresource {
    /// Replaces only `status` (PUT on `/status`), with the object's resourceVersion as
    /// precondition.
    public func updateStatus(_ object: K) async throws -> K {
        var object = object
        object.setTypeMeta(resource)
        if let namespace { object.metadata.namespace = namespace }
        return try await client.request(
            .PUT, path: objectPath(object.name, "status"), body: try encode(object), as: K.self)
    }

    /// Merge-patches the `status` subresource, e.g. `["status": ["replicas": 2]]`.
    public func patchStatus(_ name: String, patch: JSONValue) async throws -> K {
        try await client.request(
            .PATCH, path: objectPath(name, "status"), body: try encode(patch),
            contentType: "application/merge-patch+json", as: K.self)
    }

    /// Server-side apply of `status` only.
    public func applyStatus(_ object: K, fieldManager: String, force: Bool = true) async throws -> K {
        var object = object
        object.setTypeMeta(resource)
        if let namespace { object.metadata.namespace = namespace }
        return try await client.request(
            .PATCH, path: objectPath(object.name, "status"), query: applyQuery(fieldManager, force),
            body: try encode(object), contentType: "application/apply-patch+yaml", as: K.self)
    }
}

extension ResourceClient where Scope == SingleScope, K: HasScaleSubresource {
    /// The object's `Scale` (desired and current replicas, selector).
    public func getScale(_ name: String) async throws -> Scale {
        try await client.request(.GET, path: objectPath(name, "scale"), as: Scale.self)
    }

    /// Replaces the `Scale`; its resourceVersion, when set, is a precondition.
    public func updateScale(_ name: String, scale: Scale) async throws -> Scale {
        try await client.request(.PUT, path: objectPath(name, "scale"), body: try encode(scale), as: Scale.self)
    }

    /// Sets the desired replicas (merge patch on `/scale`), as `kubectl scale` does.
    public func scale(_ name: String, replicas: Int32) async throws -> Scale {
        let patch: JSONValue = ["spec": ["replicas": .int(Int64(replicas))]]
        return try await client.request(
            .PATCH, path: objectPath(name, "scale"), body: try encode(patch),
            contentType: "application/merge-patch+json", as: Scale.self)
    }
}

extension KubernetesObject {
    mutating func setTypeMeta(_ resource: ResourceDescriptor) {
        apiVersion = resource.apiVersion
        kind = resource.kind
    }
}
