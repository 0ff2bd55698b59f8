import Foundation
import HTTPTypes
import Hummingbird
import KubeAPI
import Logging
import NIOCore
import Yams

/// Routes Kubernetes REST requests to the ``ObjectStore``.
struct LocalKubeResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let store: ObjectStore
    let faults: FaultInjector
    let requests: RequestCounter
    let tokens: TokenIssuer
    let options: LocalKubeOptions
    let logger: Logger

    var rbac: RBACAuthorizer { RBACAuthorizer(store: store) }

    /// A parsed resource URL.
    struct Target {
        var type: ResourceType
        var namespace: String?
        var name: String?
        var subresource: String?

        /// The resource as RBAC and the request counter name it, e.g. `deployments/scale`.
        var resourceName: String {
            subresource.map { "\(type.descriptor.plural)/\($0)" } ?? type.descriptor.plural
        }
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        do {
            return try await handle(request)
        } catch let error as APIError {
            return Self.errorResponse(error)
        } catch {
            return Self.errorResponse(APIError(code: 500, reason: "InternalError", message: "\(error)"))
        }
    }

    private func handle(_ request: Request) async throws -> Response {
        let requester = try authenticate(request)
        let latency = faults.latency
        if latency > .zero { try await Task.sleep(for: latency) }

        let path = request.uri.path
        let query = Self.parseQuery(request.uri.query)
        let segments = path.split(separator: "/").map(String.init)

        // Discovery, health and the version are open to every authenticated user (the
        // bootstrap roles system:discovery and system:public-info-viewer).
        if request.method == .get, let discovery = try discovery(segments) {
            return Self.json(discovery)
        }
        if let answer = try await accessEndpoint(request, segments: segments, requester: requester) {
            return answer
        }
        if segments.first == "localkube" || segments == ["metrics"] {
            try require(requester, AccessAttributes(verb: request.method == .get ? "get" : request.method.rawValue.lowercased(), path: path))
            if segments == ["metrics"] {
                return Self.text("# TYPE localkube_requests_total counter\nlocalkube_requests_total \(requests.total)\n")
            }
            return try localKubeEndpoint(segments, method: request.method)
        }
        guard let target = try resolve(segments) else {
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        let verb = try Self.verb(request.method, target: target, watch: query["watch"] == "true" || query["watch"] == "1")
        try require(requester, AccessAttributes(
            verb: verb.rawValue, group: target.type.descriptor.group, resource: target.type.descriptor.plural,
            subresource: target.subresource, name: target.name, namespace: target.namespace))
        requests.record(verb, target.resourceName, userAgent: request.headers[.userAgent])
        if let fault = faults.fault(verb: verb, resource: target.resourceName, userAgent: request.headers[.userAgent]) {
            if verb == .watch, fault == .gone {
                return watchGone()
            }
            throw FaultInjector.error(for: fault)
        }
        let body: JSONValue? = try await Self.readBody(request)
        let type = target.type
        let namespace = target.namespace

        switch verb {
        case .get:
            if target.subresource == "scale" {
                return Self.json(try store.scale(type, namespace: namespace, name: target.name!))
            }
            let object = try store.get(type, namespace: namespace, name: target.name!)
            if Self.wantsTable(request) { return Self.json(Table.make(for: [object], type: type, resourceVersion: nil)) }
            return Self.json(object)
        case .list:
            let selector = try Self.selector(query)
            let result = try store.list(
                type, namespace: namespace, selector: selector, fieldName: try Self.fieldName(query),
                limit: query["limit"].flatMap { Int($0) }, continueToken: query["continue"])
            if Self.wantsTable(request) {
                var table = Table.make(for: result.items, type: type, resourceVersion: String(result.resourceVersion))
                if let token = result.continueToken { table.setValue(.string(token), atPath: ["metadata", "continue"]) }
                return Self.json(table)
            }
            var metadata: JSONValue = ["resourceVersion": .string(String(result.resourceVersion))]
            if let token = result.continueToken { metadata["continue"] = .string(token) }
            if let remaining = result.remaining { metadata["remainingItemCount"] = .int(Int64(remaining)) }
            return Self.json([
                "apiVersion": .string(type.descriptor.apiVersion), "kind": .string(type.descriptor.kind + "List"),
                "metadata": metadata, "items": .array(result.items),
            ])
        case .watch:
            return try watch(target, query: query)
        case .create:
            guard let body else { throw APIError.badRequest("the request has no body") }
            let created = try store.create(type, namespace: namespace, body: body, fieldManager: nil)
            return Self.json(created, status: 201)
        case .update:
            guard let body else { throw APIError.badRequest("the request has no body") }
            if target.subresource == "scale" {
                return Self.json(try store.updateScale(type, namespace: namespace, name: target.name!, body: body, isPatch: false))
            }
            return Self.json(try store.update(type, namespace: namespace, name: target.name!, body: body, subresource: target.subresource))
        case .patch:
            guard let body else { throw APIError.badRequest("the request has no body") }
            let contentType = request.headers[.contentType] ?? ""
            let kind: ObjectStore.PatchKind
            if contentType.hasPrefix("application/apply-patch") {
                guard let manager = query["fieldManager"], !manager.isEmpty else {
                    throw APIError(code: 422, reason: "Invalid", message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
                }
                kind = .apply(fieldManager: manager, force: query["force"] == "true")
            } else if contentType.hasPrefix("application/merge-patch+json") {
                kind = .merge
            } else if contentType.hasPrefix("application/strategic-merge-patch+json") {
                // Strategic merge is approximated by a JSON merge patch.
                kind = .merge
            } else {
                throw APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
            }
            if target.subresource == "scale" {
                return Self.json(try store.updateScale(type, namespace: namespace, name: target.name!, body: body, isPatch: true))
            }
            let existed = (try? store.get(type, namespace: namespace, name: target.name!)) != nil
            let result = try store.patch(type, namespace: namespace, name: target.name!, patch: body, kind: kind, subresource: target.subresource)
            return Self.json(result, status: existed ? 200 : 201)
        case .delete:
            let uid = body?.value(atPath: ["preconditions", "uid"])?.stringValue
            let rv = body?.value(atPath: ["preconditions", "resourceVersion"])?.stringValue
            let propagation = body?["propagationPolicy"]?.stringValue ?? query["propagationPolicy"] ?? "Background"
            let deleted = try store.delete(
                type, namespace: namespace, name: target.name!, preconditionUID: uid, preconditionResourceVersion: rv,
                propagation: propagation)
            return Self.json(deleted)
        }
    }

    /// LocalKube's own endpoints (not Kubernetes API): `GET /localkube/requests`
    /// (request counts per verb, resource and User-Agent) and
    /// `POST /localkube/requests/reset`. Benchmarks running LocalKube as a separate
    /// process read them.
    private func localKubeEndpoint(_ segments: [String], method: HTTPRequest.Method) throws -> Response {
        switch (method, Array(segments.dropFirst())) {
        case (.get, ["requests"]):
            var byVerb: [String: JSONValue] = [:]
            for (key, count) in requests.snapshot { byVerb[key.description] = .int(Int64(count)) }
            var byAgent: [String: JSONValue] = [:]
            for (agent, counts) in requests.byUserAgent {
                byAgent[agent] = ["total": .int(Int64(counts.total)), "writes": .int(Int64(counts.writes))]
            }
            return Self.json([
                "total": .int(Int64(requests.total)), "writes": .int(Int64(requests.writes)), "byVerb": .object(byVerb),
                "byUserAgent": .object(byAgent), "objects": .int(Int64(store.objectCount)),
            ])
        case (.post, ["requests", "reset"]):
            requests.reset()
            return Self.json(["reset": true])
        default:
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
    }

    // MARK: Routing

    private func resolve(_ segments: [String]) throws -> Target? {
        var rest: ArraySlice<String>
        var group = ""
        let version: String
        if segments.first == "api", segments.count >= 3 {
            version = segments[1]
            rest = segments[2...]
        } else if segments.first == "apis", segments.count >= 4 {
            group = segments[1]
            version = segments[2]
            rest = segments[3...]
        } else {
            return nil
        }
        var namespace: String?
        if rest.first == "namespaces", rest.count >= 3,
            let type = store.type(group: group, version: version, plural: rest[rest.startIndex + 2]), type.descriptor.namespaced
        {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
            _ = type
        }
        guard let plural = rest.first, let type = store.type(group: group, version: version, plural: plural) else {
            return nil
        }
        rest = rest.dropFirst()
        let name = rest.first
        let subresource = rest.dropFirst().first
        if rest.count > 2 { return nil }
        if let subresource {
            let served = (subresource == "status" && type.hasStatus) || (subresource == "scale" && type.scale != nil)
            guard served else { return nil }
        }
        if type.descriptor.namespaced, namespace == nil, name != nil {
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        return Target(type: type, namespace: namespace, name: name, subresource: subresource)
    }

    private static func verb(_ method: HTTPRequest.Method, target: Target, watch: Bool) throws -> Verb {
        switch (method, target.name) {
        case (.get, nil): return watch ? .watch : .list
        case (.get, _): return .get
        case (.post, nil): return .create
        case (.put, _?): return .update
        case (.patch, _?): return .patch
        case (.delete, _?): return .delete
        default:
            throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    /// Who sent `request`: the admin (LocalKube's bearer token, a required client
    /// certificate, or anyone when LocalKube asks for no authentication), or the
    /// ServiceAccount of a token LocalKube issued. A token LocalKube did not issue, or one
    /// that expired, is `401` as with kube-apiserver.
    private func authenticate(_ request: Request) throws -> Requester {
        let header = request.headers[.authorization] ?? ""
        let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")
        if header.hasPrefix("Bearer ") {
            let token = String(header.dropFirst("Bearer ".count))
            if let expected = options.bearerToken, token == expected { return .admin }
            if token.hasPrefix("lk.") {
                guard case .success(let (requester, _)) = review(token) else { throw unauthorized }
                return requester
            }
        }
        if options.bearerToken == nil { return .admin }
        if options.tls, options.requireClientCertificate { return .admin }
        throw unauthorized
    }

    /// Refuses with kube-apiserver's `403` unless RBAC allows `attributes` to `requester`.
    private func require(_ requester: Requester, _ attributes: AccessAttributes) throws {
        guard !rbac.authorize(requester, attributes).allowed else { return }
        let details = attributes.path == nil
            ? StatusDetails(name: attributes.name, group: attributes.group, kind: attributes.resource) : nil
        throw APIError(code: 403, reason: "Forbidden", message: RBACAuthorizer.forbiddenMessage(requester, attributes), details: details)
    }

    private func review(_ token: String) -> Result<(Requester, [String]), TokenIssuer.ReviewFailure> {
        tokens.review(token) { namespace, name in
            guard let type = store.type(group: "", version: "v1", plural: "serviceaccounts"),
                let account = try? store.get(type, namespace: namespace, name: name)
            else { return nil }
            return account.value(atPath: ["metadata", "uid"])?.stringValue ?? ""
        }
    }

    // MARK: Authentication and authorization APIs

    /// TokenRequest, TokenReview, SubjectAccessReview and SelfSubjectAccessReview: created,
    /// answered, never stored.
    private func accessEndpoint(_ request: Request, segments: [String], requester: Requester) async throws -> Response? {
        guard request.method == .post else { return nil }
        if segments.count == 7, segments[0] == "api", segments[1] == "v1", segments[2] == "namespaces", segments[4] == "serviceaccounts",
            segments[6] == "token"
        {
            let namespace = segments[3], name = segments[5]
            try require(requester, AccessAttributes(
                verb: "create", group: "", resource: "serviceaccounts", subresource: "token", name: name, namespace: namespace))
            guard let type = store.type(group: "", version: "v1", plural: "serviceaccounts") else { return nil }
            let account = try store.get(type, namespace: namespace, name: name)
            let body = try await Self.readBody(request) ?? [:]
            let seconds = body.value(atPath: ["spec", "expirationSeconds"])?.intValue ?? 3_600
            guard seconds >= 600 else {
                throw APIError(
                    code: 422, reason: "Invalid",
                    message: "TokenRequest.authentication.k8s.io \"\(name)\" is invalid: spec.expirationSeconds: Invalid value: \(seconds): may not specify a duration less than 10 minutes")
            }
            let audiences = body.value(atPath: ["spec", "audiences"])?.arrayValue?.compactMap(\.stringValue) ?? [baseURL(request)]
            let issued = tokens.issue(
                serviceAccount: name, namespace: namespace, uid: account.value(atPath: ["metadata", "uid"])?.stringValue,
                audiences: audiences, lifetime: TimeInterval(seconds))
            return Self.json([
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "metadata": ["name": .string(name), "namespace": .string(namespace), "creationTimestamp": .null],
                "spec": ["audiences": .array(audiences.map { .string($0) }), "expirationSeconds": .int(seconds), "boundObjectRef": .null],
                "status": ["token": .string(issued.token), "expirationTimestamp": .string(Time(issued.expires).description)],
            ], status: 201)
        }
        switch segments {
        case ["apis", "authentication.k8s.io", "v1", "tokenreviews"]:
            try require(requester, AccessAttributes(verb: "create", group: "authentication.k8s.io", resource: "tokenreviews"))
            var body = try await Self.readBody(request) ?? [:]
            guard let token = body.value(atPath: ["spec", "token"])?.stringValue, !token.isEmpty else {
                throw APIError(code: 422, reason: "Invalid", message: "TokenReview.authentication.k8s.io \"\" is invalid: spec.token: Required value")
            }
            switch review(token) {
            case .success(let (user, audiences)):
                var answer: JSONValue = [
                    "authenticated": true,
                    "user": ["username": .string(user.name), "groups": .array(user.groups.map { .string($0) })],
                    "audiences": .array(audiences.map { .string($0) }),
                ]
                if let uid = user.uid { answer.setValue(.string(uid), atPath: ["user", "uid"]) }
                body["status"] = answer
            case .failure(let failure):
                body["status"] = ["user": [:], "error": .string(failure.message)]
            }
            body["metadata"] = ["creationTimestamp": .null]
            return Self.json(body, status: 201)
        case ["apis", "authorization.k8s.io", "v1", "subjectaccessreviews"], ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"]:
            let isSelf = segments[3] == "selfsubjectaccessreviews"
            if !isSelf { try require(requester, AccessAttributes(verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews")) }
            var body = try await Self.readBody(request) ?? [:]
            let spec = body["spec"] ?? [:]
            let subject = isSelf
                ? requester
                : Requester(name: spec["user"]?.stringValue ?? "", groups: RBACAuthorizer.strings(spec["groups"]))
            let attributes: AccessAttributes
            if let resource = spec["resourceAttributes"] {
                let namespace = resource["namespace"]?.stringValue
                attributes = AccessAttributes(
                    verb: resource["verb"]?.stringValue ?? "", group: resource["group"]?.stringValue ?? "",
                    resource: resource["resource"]?.stringValue ?? "", subresource: resource["subresource"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                    name: resource["name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }, namespace: namespace?.isEmpty == true ? nil : namespace)
            } else if let nonResource = spec["nonResourceAttributes"] {
                attributes = AccessAttributes(verb: nonResource["verb"]?.stringValue ?? "", path: nonResource["path"]?.stringValue ?? "")
            } else {
                throw APIError(
                    code: 422, reason: "Invalid",
                    message: "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified")
            }
            let decision = rbac.authorize(subject, attributes)
            var status: JSONValue = ["allowed": .bool(decision.allowed)]
            if let reason = decision.reason { status["reason"] = .string(reason) }
            body["status"] = status
            body["metadata"] = ["creationTimestamp": .null]
            return Self.json(body, status: 201)
        default:
            return nil
        }
    }

    /// The server's own URL as the client reached it: a token's default audience.
    private func baseURL(_ request: Request) -> String {
        "\(options.tls ? "https" : "http")://\(request.head.authority ?? "\(options.host)")"
    }

    // MARK: Watch

    private func watch(_ target: Target, query: [String: String]) throws -> Response {
        let subscription: ObjectStore.Subscription
        do {
            subscription = try store.watch(
                target.type, namespace: target.namespace, selector: try Self.selector(query),
                fieldName: try Self.fieldName(query), resourceVersion: query["resourceVersion"])
        } catch let error as APIError where error.code == 410 {
            // A real server answers 200 and sends the 410 as an ERROR event.
            return watchGone(message: error.status.message)
        }
        let timeout = query["timeoutSeconds"].flatMap { Int($0) }.map { Duration.seconds($0) } ?? options.defaultWatchTimeout
        let bookmarks = query["allowWatchBookmarks"] == "true"
        let bookmarkInterval = options.bookmarkInterval
        let dropAfter = faults.watchDropInterval.map { interval -> Duration in
            interval * Double.random(in: 0.5...1.5)
        }
        let chunkSize = faults.watchChunkSize
        let store = self.store
        let id = subscription.id
        let timer = Task {
            let started = ContinuousClock.now
            let end = started + timeout
            let dropAt = dropAfter.map { started + $0 }
            var nextBookmark = started + bookmarkInterval
            while !Task.isCancelled {
                let now = ContinuousClock.now
                if let dropAt, now >= dropAt {
                    store.endWatch(id, dropped: true)
                    return
                }
                if now >= end {
                    store.endWatch(id, dropped: false)
                    return
                }
                if bookmarks, now >= nextBookmark {
                    store.bookmark(id)
                    nextBookmark = now + bookmarkInterval
                }
                var wake = end
                if bookmarks { wake = min(wake, nextBookmark) }
                if let dropAt { wake = min(wake, dropAt) }
                try? await Task.sleep(until: wake, clock: .continuous)
            }
        }
        let frames = subscription.frames
        let body = ResponseBody { writer in
            defer {
                timer.cancel()
                store.endWatch(id, dropped: false)
            }
            for await frame in frames {
                switch frame {
                case .drop:
                    throw WatchDropped()
                case .event(let type, let object):
                    let bytes = try Self.encodeLine(["type": .string(type), "object": object])
                    if let chunkSize, chunkSize > 0 {
                        var offset = 0
                        while offset < bytes.count {
                            let end = min(offset + chunkSize, bytes.count)
                            try await writer.write(ByteBuffer(bytes: bytes[offset..<end]))
                            offset = end
                        }
                    } else {
                        try await writer.write(ByteBuffer(bytes: bytes))
                    }
                }
            }
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-cache, private"
        return Response(status: .ok, headers: headers, body: body)
    }

    private func watchGone(message: String? = nil) -> Response {
        let status = Status(message: message ?? "too old resource version", reason: "Expired", code: 410)
        let line = (try? Self.encodeLine(["type": "ERROR", "object": JSONValue(encoding: status)])) ?? []
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: line)))
    }

    struct WatchDropped: Error {}

    // MARK: Discovery

    private func discovery(_ segments: [String]) throws -> JSONValue? {
        let types = store.types
        if segments.first == "openapi", segments.count >= 2, segments[1] == "v3" {
            return openAPI(Array(segments.dropFirst(2)), types: types)
        }
        switch segments.count {
        case 0:
            return ["paths": ["/api", "/api/v1", "/apis", "/version", "/healthz", "/readyz", "/livez"]]
        case 1 where ["healthz", "readyz", "livez"].contains(segments[0]):
            return "ok"
        case 1 where segments[0] == "version":
            return [
                "major": "1", "minor": "31", "gitVersion": "v1.31.0-localkube", "gitCommit": "", "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z", "goVersion": "n/a", "compiler": "swift", "platform": "linux/amd64",
            ]
        case 1 where segments[0] == "api":
            return [
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string("\(options.host):\(options.port)")]],
            ]
        case 1 where segments[0] == "apis":
            var groups: [String: [String]] = [:]
            for type in types where !type.descriptor.group.isEmpty {
                groups[type.descriptor.group, default: []].append(type.descriptor.version)
            }
            return [
                "kind": "APIGroupList", "apiVersion": "v1",
                "groups": .array(groups.keys.sorted().map { Self.apiGroup($0, versions: groups[$0]!) }),
            ]
        case 2 where segments[0] == "api":
            return resourceList(group: "", version: segments[1], types: types)
        case 2 where segments[0] == "apis":
            let versions = types.filter { $0.descriptor.group == segments[1] }.map(\.descriptor.version)
            guard !versions.isEmpty else { return nil }
            return Self.apiGroup(segments[1], versions: versions).merging(patch: ["kind": "APIGroup", "apiVersion": "v1"])
        case 3 where segments[0] == "apis":
            return resourceList(group: segments[1], version: segments[2], types: types)
        default:
            return nil
        }
    }

    /// A minimal OpenAPI v3 index and per-group-version documents. They declare the
    /// `fieldValidation` parameter on every PATCH so `kubectl` validates on the server
    /// (LocalKube checks objects itself) instead of needing full client-side schemas.
    private func openAPI(_ rest: [String], types: [ResourceType]) -> JSONValue? {
        let groupVersions = Set(types.map { $0.descriptor.group.isEmpty ? "api/\($0.descriptor.version)" : "apis/\($0.descriptor.group)/\($0.descriptor.version)" })
        if rest.isEmpty {
            var paths: [String: JSONValue] = [:]
            for gv in groupVersions { paths[gv] = ["serverRelativeURL": .string("/openapi/v3/\(gv)?hash=\(store.resourceVersion)")] }
            return ["paths": .object(paths)]
        }
        let gv = rest.joined(separator: "/")
        guard groupVersions.contains(gv) else { return nil }
        var paths: [String: JSONValue] = [:]
        for type in types {
            let d = type.descriptor
            let key = d.group.isEmpty ? "api/\(d.version)" : "apis/\(d.group)/\(d.version)"
            guard key == gv else { continue }
            let gvk: JSONValue = ["group": .string(d.group), "version": .string(d.version), "kind": .string(d.kind)]
            let objectPath = d.objectPath(namespace: d.namespaced ? "{namespace}" : nil, name: "{name}")
            paths[objectPath] = [
                "patch": [
                    "x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch",
                    "parameters": [["name": "fieldValidation", "in": "query", "schema": ["type": "string"]]],
                    "responses": ["200": ["description": "OK"]],
                ]
            ]
        }
        return ["openapi": "3.0.0", "info": ["title": "LocalKube", "version": "v1.31.0"], "paths": .object(paths), "components": ["schemas": [:]]]
    }

    private static func apiGroup(_ name: String, versions: [String]) -> JSONValue {
        let unique = Array(Set(versions)).sorted().reversed()
        let entries: [JSONValue] = unique.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        return ["name": .string(name), "versions": .array(entries), "preferredVersion": entries.first ?? [:]]
    }

    private func resourceList(group: String, version: String, types: [ResourceType]) -> JSONValue? {
        let served = types.filter { $0.descriptor.group == group && $0.descriptor.version == version }
        guard !served.isEmpty else { return nil }
        var resources: [JSONValue] = []
        for type in served {
            let d = type.descriptor
            var entry: JSONValue = [
                "name": .string(d.plural), "singularName": .string(type.singular), "namespaced": .bool(d.namespaced),
                "kind": .string(d.kind),
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            ]
            if !type.shortNames.isEmpty { entry["shortNames"] = .array(type.shortNames.map { .string($0) }) }
            if !type.categories.isEmpty { entry["categories"] = .array(type.categories.map { .string($0) }) }
            resources.append(entry)
            if type.hasStatus {
                resources.append([
                    "name": .string("\(d.plural)/status"), "singularName": "", "namespaced": .bool(d.namespaced),
                    "kind": .string(d.kind), "verbs": ["get", "patch", "update"],
                ])
            }
            if type.scale != nil {
                resources.append([
                    "name": .string("\(d.plural)/scale"), "singularName": "", "namespaced": .bool(d.namespaced),
                    "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"],
                ])
            }
        }
        return [
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(resources),
        ]
    }

    // MARK: Encoding

    static func parseQuery(_ query: String?) -> [String: String] {
        var result: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard let key = parts.first?.removingPercentEncoding else { continue }
            let value = parts.count > 1 ? parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? parts[1] : ""
            result[key] = value
        }
        return result
    }

    static func selector(_ query: [String: String]) throws -> LabelSelector {
        guard let text = query["labelSelector"], !text.isEmpty else { return LabelSelector() }
        do {
            return try LabelSelector(parsing: text)
        } catch {
            throw APIError.badRequest("unable to parse requirement: \(error)")
        }
    }

    /// Supports `metadata.name=<name>`, the field selector clients use to watch one object.
    static func fieldName(_ query: [String: String]) throws -> String? {
        guard let text = query["fieldSelector"], !text.isEmpty else { return nil }
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "metadata.name" else {
            throw APIError.badRequest("field label not supported: \(parts.first ?? text)")
        }
        return parts[1]
    }

    static func readBody(_ request: Request) async throws -> JSONValue? {
        var request = request
        let buffer = try await request.collectBody(upTo: 16 * 1024 * 1024)
        guard buffer.readableBytes > 0 else { return nil }
        let data = Data(buffer: buffer)
        if let value = try? KubeJSON.decoder.decode(JSONValue.self, from: data) { return value }
        // Apply patches may be YAML.
        if let text = String(data: data, encoding: .utf8), let yaml = try? Yams.load(yaml: text),
            let value = try? JSONValue(yaml: yaml)
        {
            return value
        }
        throw APIError.badRequest("the body of the request could not be decoded as JSON or YAML")
    }

    static func wantsTable(_ request: Request) -> Bool {
        (request.headers[.accept] ?? "").contains("as=Table")
    }

    static func encodeLine(_ value: JSONValue) throws -> [UInt8] {
        var bytes = Array(try KubeJSON.encoder.encode(value))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    static func text(_ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    static func json(_ value: JSONValue, status: Int = 200) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let bytes = (try? KubeJSON.encoder.encode(value)) ?? Data()
        return Response(status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func errorResponse(_ error: APIError) -> Response {
        var response = json((try? JSONValue(encoding: error.status)) ?? [:], status: error.code)
        if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }
}

extension JSONValue {
    /// Converts a document loaded by Yams (`Any`) into JSON.
    init(yaml: Any) throws {
        switch yaml {
        case let value as String: self = .string(value)
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .int(Int64(value))
        case let value as Double: self = .double(value)
        case let value as [Any]: self = .array(try value.map { try JSONValue(yaml: $0) })
        case let value as [String: Any]: self = .object(try value.mapValues { try JSONValue(yaml: $0) })
        case let value as [AnyHashable: Any]:
            var members: [String: JSONValue] = [:]
            for (key, member) in value { members["\(key)"] = try JSONValue(yaml: member) }
            self = .object(members)
        case is NSNull: self = .null
        default:
            if Mirror(reflecting: yaml).displayStyle == .optional { self = .null } else {
                throw APIError.badRequest("unsupported YAML value")
            }
        }
    }
}
